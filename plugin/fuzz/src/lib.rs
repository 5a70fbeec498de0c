//! Fixtures shared by the fuzz targets and the seed writer (`examples/seeds.rs`): the
//! TEST-ONLY keys, a configuration trusting them, the shipped policies, and the
//! committed tokens (`tokens.json`) with whether each verifies at [`NOW`].
//!
//! Everything is fixed, so a crashing input reproduces on any machine: the RSA key is
//! the host tests' (`host-tests/cases/TEST-ONLY-signing-key.json`), the EC key is
//! `keys/TEST-ONLY-ec-signing-key.json`, and the clock never moves.

use serde_json::{Value, json};
use wsgate_core::mint::SigningKey;
use wsgate_core::{Gate, Settings};
use wsgate_fixtures::{GoogleClaims, patched};

/// 2030-03-17, as in the core's tests and the replay fixtures.
pub const NOW: u64 = 1_900_000_000;
pub const GOOGLE: &str = "https://accounts.google.com";
pub const GOOGLE_SHORT: &str = "accounts.google.com";
pub const AUDIENCE: &str = "https://hello-abc123-uc.a.run.app";
pub const IAP: &str = "https://cloud.google.com/iap";
pub const IAP_AUDIENCE: &str = "/projects/123/global/backendServices/456";
pub const CLOCK_SKEW: u64 = 60;
pub const MAX_LIFETIME: u64 = 3600;

pub const RSA_KEY: &str = include_str!("../../../host-tests/cases/TEST-ONLY-signing-key.json");
pub const RSA_KID: &str = "wsgate-TEST-ONLY-1";
pub const EC_KEY: &str = include_str!("../keys/TEST-ONLY-ec-signing-key.json");
pub const EC_KID: &str = "wsgate-fuzz-TEST-ONLY-ec-1";
/// Written by `cargo run --example seeds`.
pub const TOKENS: &str = include_str!("../tokens.json");

pub const ADMIN_PATHS: &str = include_str!("../../../policies/admin-paths.json");
pub const MULTI_SERVICE: &str = include_str!("../../../policies/multi-service-gateway.json");
pub const ROLLOUT_DRY_RUN: &str = include_str!("../../../policies/rollout-dry-run.json");

pub fn rsa_key() -> SigningKey {
    SigningKey::from_private_jwk(RSA_KEY).expect("the TEST-ONLY RSA key loads")
}

pub fn ec_key() -> SigningKey {
    SigningKey::from_private_jwk(EC_KEY).expect("the TEST-ONLY EC key loads")
}

/// Both public keys; each provider gets both, so a token signed with the other
/// provider's kind of key reaches the algorithm checks.
pub fn jwks() -> Value {
    wsgate_core::mint::jwks(&[&rsa_key(), &ec_key()])
}

/// A full configuration: a Google provider (RS256, hd example.com or partner.example)
/// and an IAP provider (ES256), every token source, and `policy`.
pub fn config(policy: Value) -> Value {
    let jwks = jwks();
    json!({
        "providers": [
            {
                "name": "google",
                "issuers": [GOOGLE, GOOGLE_SHORT],
                "audiences": [AUDIENCE],
                "local_jwks": jwks,
                "algorithms": ["RS256"],
                "clock_skew_seconds": CLOCK_SKEW,
                "max_lifetime_seconds": MAX_LIFETIME,
                "allowed_domains": ["example.com", "partner.example"]
            },
            {
                "name": "iap",
                "issuers": [IAP],
                "audiences": [IAP_AUDIENCE],
                "local_jwks": jwks.to_string(),
                "algorithms": ["ES256"],
                "clock_skew_seconds": CLOCK_SKEW,
                "max_lifetime_seconds": MAX_LIFETIME,
                "require_email_verified": false
            }
        ],
        "policy": policy,
        "token_sources": [
            {"header": "authorization", "prefix": "Bearer "},
            {"header": "x-serverless-authorization", "prefix": "Bearer "},
            {"header": "x-goog-iap-jwt-assertion"},
            {"cookie": "GCP_IAP_AUTH_TOKEN"}
        ]
    })
}

/// The policies `gate_decide` runs: three shipped ones, and a shorthand one with public
/// paths and the explanation header.
pub fn policies() -> Vec<(&'static str, Value)> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).expect("a shipped policy is JSON");
    vec![
        ("admin-paths", parse(ADMIN_PATHS)),
        ("multi-service-gateway", parse(MULTI_SERVICE)),
        ("rollout-dry-run", parse(ROLLOUT_DRY_RUN)),
        (
            "shorthand",
            json!({
                "public_paths": ["/healthz"],
                "allow": {"domains": ["example.com"], "users": ["pat@partner.example"]},
                "explain_header": "x-wsgate-decision"
            }),
        ),
    ]
}

pub fn settings(config: &Value) -> Settings {
    Settings::from_json(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("fixture config: {e}"))
}

pub fn gate(config: &Value) -> Gate {
    Gate::new(settings(config))
}

/// A committed token: its name, the token, and whether it verifies at [`NOW`] under
/// [`config`].
#[derive(Debug, Clone)]
pub struct KnownToken {
    pub name: String,
    pub token: String,
    pub valid: bool,
}

pub fn known_tokens() -> Vec<KnownToken> {
    let doc: Value = serde_json::from_str(TOKENS).expect("tokens.json is JSON");
    doc["tokens"]
        .as_array()
        .map(|tokens| {
            tokens
                .iter()
                .map(|t| KnownToken {
                    name: t["name"].as_str().unwrap_or_default().to_owned(),
                    token: t["token"].as_str().unwrap_or_default().to_owned(),
                    valid: t["valid"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Which key signs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Rsa,
    Ec,
}

/// A Google ID token's claims for `email`, issued a minute before [`NOW`]; `hd`
/// `None` for a consumer account.
fn google(email: &str, hd: Option<&str>) -> Value {
    GoogleClaims::id_token(email, AUDIENCE, NOW)
        .issued_ago(60)
        .subject(format!("1100000000000{:08}", email.len()))
        .set("azp", "1234.apps.googleusercontent.com")
        .hd(Some(hd.unwrap_or("")))
        .build()
}

fn with(claims: Value, changes: Value) -> Value {
    patched(claims, &changes)
}

/// The tokens the seed writer mints: callers of the shipped policies, and tokens wrong
/// in one way each.
pub fn token_claims() -> Vec<(&'static str, Signer, Value)> {
    let iap = GoogleClaims::iap_assertion("alice@example.com", IAP_AUDIENCE, NOW).issued_ago(60).subject("accounts.google.com:110000000000000000042").build();
    vec![
        ("alice", Signer::Rsa, google("alice@example.com", Some("example.com"))),
        ("root", Signer::Rsa, google("root@example.com", Some("example.com"))),
        ("olivia", Signer::Rsa, google("olivia@example.com", Some("example.com"))),
        ("intern", Signer::Rsa, google("intern@example.com", Some("example.com"))),
        ("fred", Signer::Rsa, google("fred@example.com", Some("example.com"))),
        ("petra", Signer::Rsa, google("petra@example.com", Some("example.com"))),
        ("pat", Signer::Rsa, google("pat@partner.example", Some("partner.example"))),
        (
            "carol-groups-claim",
            Signer::Rsa,
            with(google("carol@example.com", Some("example.com")), json!({"groups": ["admins@example.com", "finance@example.com", 7, "people-team@example.com"]})),
        ),
        ("short-issuer-string-verified", Signer::Rsa, with(google("dan@example.com", Some("example.com")), json!({"iss": GOOGLE_SHORT, "email_verified": "true"}))),
        ("no-audience", Signer::Rsa, with(google("erin@example.com", Some("example.com")), json!({"aud": null}))),
        ("iap-alice", Signer::Ec, iap.clone()),
        ("iap-no-email", Signer::Ec, with(iap.clone(), json!({"email": null, "hd": null}))),
        // Wrong in one way each.
        ("expired", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"iat": NOW - 7200, "exp": NOW - 3600}))),
        ("issued-in-future", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"iat": NOW + 600, "exp": NOW + 1200}))),
        ("not-yet-valid", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"nbf": NOW + 600}))),
        ("lifetime-too-long", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"exp": NOW + 86_400}))),
        ("no-expiry", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"exp": null}))),
        ("no-issued-at", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"iat": null}))),
        ("other-audience", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"aud": "someone-else"}))),
        ("other-domain", Signer::Rsa, google("eve@evil.example", Some("evil.example"))),
        ("consumer-account", Signer::Rsa, google("someone@gmail.com", None)),
        ("unverified-email", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"email_verified": false}))),
        ("unknown-issuer", Signer::Rsa, with(google("alice@example.com", Some("example.com")), json!({"iss": "https://evil.example"}))),
        ("rsa-for-iap", Signer::Rsa, iap.clone()),
        ("ec-for-google", Signer::Ec, google("alice@example.com", Some("example.com"))),
        ("iap-expired", Signer::Ec, with(iap, json!({"iat": NOW - 7200, "exp": NOW - 3600}))),
    ]
}

/// A standard base64url-no-pad encoder/decoder, as JWTs use.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// Signs `header.payload` (both raw bytes, base64url-encoded here) with the EC key:
/// a token whose claims are anything at all, with a valid ES256 signature.
pub fn es256_token(ec: &p256::ecdsa::SigningKey, header: &[u8], payload: &[u8]) -> String {
    use p256::ecdsa::signature::Signer as _;
    let signed = format!("{}.{}", b64(header), b64(payload));
    let signature: p256::ecdsa::Signature = ec.sign(signed.as_bytes());
    format!("{signed}.{}", b64(&signature.to_bytes()))
}

/// The p256 signing key inside [`ec_key`].
pub fn ec_signing_key() -> p256::ecdsa::SigningKey {
    use jwt_simple::prelude::ECDSAP256KeyPairLike;
    match ec_key() {
        SigningKey::Es256(key) => key.key_pair().as_ref().clone(),
        SigningKey::Rs256(_) => panic!("the EC key is EC"),
    }
}

/// What [`config`]'s providers demand of a token's claims, restated independently of
/// the core: a token the core accepted must pass these.
pub fn assert_claims_acceptable(identity: &wsgate_core::Identity, payload: &[u8], now: u64) {
    let claims: Value = serde_json::from_slice(payload).unwrap_or_else(|e| panic!("accepted payload is not JSON: {e}"));
    let claims = claims.as_object().unwrap_or_else(|| panic!("accepted payload is not an object"));
    let (issuers, audience, google): (&[&str], &str, bool) = match identity.provider {
        0 => (&[GOOGLE, GOOGLE_SHORT], AUDIENCE, true),
        1 => (&[IAP], IAP_AUDIENCE, false),
        other => panic!("identity names provider {other}, and there are 2"),
    };
    let iss = claims.get("iss").and_then(Value::as_str);
    assert!(iss.is_some_and(|iss| issuers.contains(&iss)), "accepted iss {iss:?} for provider {}", identity.provider);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    assert!(aud_ok, "accepted aud {:?}", claims.get("aud"));
    // RFC 7519 §2: a NumericDate may be non-integer; the verifier counts whole seconds.
    let time = |name: &str| {
        claims.get(name).filter(|v| !v.is_null()).map(|v| match v.as_f64() {
            Some(seconds) if seconds >= 0.0 => seconds as u64,
            _ => panic!("accepted a {name} that is not a non-negative number: {v}"),
        })
    };
    let exp = time("exp").unwrap_or_else(|| panic!("accepted a token without exp"));
    let iat = time("iat").unwrap_or_else(|| panic!("accepted a token without iat"));
    assert!(exp.saturating_add(CLOCK_SKEW) >= now, "accepted expired token: exp {exp}, now {now}");
    assert!(iat <= now + CLOCK_SKEW, "accepted iat in the future: {iat}");
    if let Some(nbf) = time("nbf") {
        assert!(nbf <= now + CLOCK_SKEW, "accepted nbf in the future: {nbf}");
    }
    assert!(exp.saturating_sub(iat) <= MAX_LIFETIME, "accepted lifetime {}", exp.saturating_sub(iat));
    assert_eq!(identity.expires_at, exp, "identity expiry differs from exp");
    let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    assert_eq!(identity.subject, string("sub").unwrap_or_default(), "identity subject differs from sub");
    // The core may canonicalise email and domain (ASCII lower case, no trailing dot).
    let loose = |s: Option<&str>| s.map(|s| s.to_ascii_lowercase().trim_end_matches('.').to_owned());
    assert_eq!(loose(identity.email.as_deref()), loose(string("email").as_deref()), "identity email differs from the claim");
    assert_eq!(loose(identity.domain.as_deref()), loose(string("hd").as_deref()), "identity domain differs from hd");
    let groups: Vec<String> = match claims.get("groups") {
        Some(Value::Array(values)) => values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    assert_eq!(identity.groups, groups, "identity groups differ from the claim");
    if google {
        let hd = loose(identity.domain.as_deref());
        assert!(matches!(hd.as_deref(), Some("example.com" | "partner.example")), "accepted hd {:?}", identity.domain);
        if identity.email.is_some() {
            let verified = matches!(claims.get("email_verified"), Some(Value::Bool(true))) || claims.get("email_verified").and_then(Value::as_str) == Some("true");
            assert!(verified, "accepted unverified email: email_verified {:?}", claims.get("email_verified"));
        }
    }
}
