//! Writes `tokens.json` (the committed tokens, minted at `NOW` with the TEST-ONLY keys,
//! and whether each verifies) and the hand-made part of the seed corpus under
//! `corpus/<target>/`. Run from plugin/fuzz: `cargo run --example seeds`, then rebuild
//! the targets (they embed tokens.json). RSA signatures are deterministic, ES256 ones
//! are not: rerunning changes the IAP tokens.

use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use wsgate_core::header_pairs::encode;
use wsgate_fuzz::*;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (rsa, ec) = (rsa_key(), ec_key());
    let check = settings(&config(json!({"allow": {"authenticated": true}})));
    let mut tokens = Vec::new();
    for (name, signer, claims) in token_claims() {
        let key = match signer {
            Signer::Rsa => &rsa,
            Signer::Ec => &ec,
        };
        let token = key.sign(&claims).unwrap_or_else(|e| panic!("{name}: {e}"));
        let verdict = check.verifier.verify(token.as_bytes(), NOW);
        println!("{name:32} {}", verdict.as_ref().map_or_else(|r| r.code().to_owned(), |_| "valid".to_owned()));
        tokens.push(json!({"name": name, "token": token, "valid": verdict.is_ok()}));
    }
    let doc = json!({"comment": "TEST-ONLY tokens for wsgate-fuzz, minted at NOW = 1900000000 by `cargo run --example seeds`", "tokens": tokens});
    fs::write(root.join("tokens.json"), serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();

    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    };

    // token: every committed token, malformed variants, and signed-payload inputs.
    for t in &tokens {
        let (name, token) = (t["name"].as_str().unwrap(), t["token"].as_str().unwrap());
        write("token", &format!("{name}.jwt"), token.as_bytes());
    }
    let alice = tokens[0]["token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = alice.split('.').collect();
    write("token", "two-segments", format!("{}.{}", parts[0], parts[1]).as_bytes());
    write("token", "empty-signature", format!("{}.{}.", parts[0], parts[1]).as_bytes());
    write("token", "four-segments", format!("{alice}.x").as_bytes());
    write("token", "alg-none", format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]).as_bytes());
    write("token", "alg-hs256", format!("{}.{}.{}", b64(format!(r#"{{"alg":"HS256","kid":"{RSA_KID}"}}"#).as_bytes()), parts[1], parts[2]).as_bytes());
    write("token", "truncated-signature", &alice.as_bytes()[..alice.len() - 10]);
    write("token", "padded", format!("{alice}==").as_bytes());
    let google_claims = token_claims().into_iter().find(|(n, _, _)| *n == "alice").unwrap().2;
    let iap_claims = token_claims().into_iter().find(|(n, _, _)| *n == "iap-alice").unwrap().2;
    for (i, claims) in [&iap_claims, &google_claims].into_iter().enumerate() {
        for choice in [0u8, 1, 2, 3, 5] {
            let mut input = vec![1, choice];
            input.extend_from_slice(claims.to_string().as_bytes());
            write("token", &format!("signed-{i}-header-{choice}"), &input);
        }
    }
    let mut custom = vec![1u8, 255];
    custom.extend_from_slice(format!(r#"{{"alg":"ES256","kid":"{EC_KID}","typ":"JWT"}}"#).as_bytes());
    custom.push(0);
    custom.extend_from_slice(json!({"iss": IAP, "aud": [IAP_AUDIENCE], "sub": "s", "iat": NOW, "exp": NOW + 60, "nbf": NOW, "groups": ["g@example.com", null]}).to_string().as_bytes());
    write("token", "signed-custom-header", &custom);

    // settings: the shipped configurations, and ours with each policy.
    for (name, path) in [("host-tests-config.json", "../../host-tests/cases/config.json"), ("demo-wsgate.json", "../../envoy/demo-wsgate.template.json")] {
        write("settings", name, &fs::read(root.join(path)).unwrap());
    }
    for (name, policy) in policies() {
        write("settings", &format!("fuzz-config-{name}.json"), serde_json::to_string_pretty(&config(policy)).unwrap().as_bytes());
    }
    let mut remote = config(json!({"public_paths": ["/healthz"]}));
    remote["providers"][0]["local_jwks"] = Value::Null;
    remote["providers"][0].as_object_mut().unwrap().remove("local_jwks");
    remote["providers"][0]["remote_jwks"] = json!({"cluster": "google_certs", "authority": "www.googleapis.com", "path": "/oauth2/v3/certs", "timeout_ms": 5000});
    remote["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "admin", "on_failure": "unavailable", "wait_ms": 0});
    remote["decision_log"] = json!("denied");
    remote["identity_headers"] = json!({"email": "X-Email", "subject": "x-sub", "domain": "x-dom", "groups": "x-groups"});
    write("settings", "remote-and-groups.json", remote.to_string().as_bytes());
    write("settings", "empty-object.json", b"{}");
    write("settings", "bad-policy.json", br#"{"providers": [], "policy": {"rules": [{"name": "x", "effect": "maybe", "subjects": {}}]}, "max_token_bytes": 1}"#);

    // header_pairs: requests as the filter reads them.
    let pairs = |list: &[(&str, &str)]| list.iter().map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())).collect::<Vec<_>>();
    let bearer = format!("Bearer {alice}");
    write("header_pairs", "empty", &encode(&[]));
    write("header_pairs", "get-healthz", &encode(&pairs(&[(":method", "GET"), (":path", "/healthz"), (":authority", "example.com")])));
    write("header_pairs", "with-token", &encode(&pairs(&[(":method", "POST"), (":path", "/app"), (":authority", "example.com"), ("authorization", &bearer), ("X-Workspace-Email", "root@example.com"), ("cookie", "a=b; GCP_IAP_AUTH_TOKEN=x")])));
    let mut truncated = encode(&pairs(&[("name", "value")]));
    truncated.truncate(truncated.len() - 3);
    write("header_pairs", "truncated", &truncated);
}
