//! The `wsgate` binary as users run it.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};
use wsgate_core::{Gate, Reason, RequestSnapshot};
use wsgate_fixtures::configs::google_provider;

fn wsgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsgate")).args(args).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config_trusting(jwks: Value) -> Value {
    json!({"providers": [google_provider("wsgate-demo", &jwks)], "policy": {"allow": {"domains": ["example.com"]}}})
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_minted_token_is_accepted_by_a_config_trusting_the_generated_jwks() {
    let dir = scratch("mint");
    assert!(wsgate(&["keygen", "--out", path(&dir)]).status.success());
    let minted = wsgate(&["mint", "--key", path(&dir.join("signing-key.json")), "--email", "alice@example.com"]);
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();

    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    let mut gate = Gate::from_json(config_trusting(jwks).to_string().as_bytes()).unwrap();
    let request = RequestSnapshot::new("GET", "h", "/").with_header("authorization", format!("Bearer {token}"));
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let verdict = gate.decide(&request, now_ms);
    assert_eq!(verdict.reason, Reason::Allowed, "{:?}", verdict.log_line);
    assert_eq!(verdict.verified.unwrap().identity.domain.as_deref(), Some("example.com"));
}

#[test]
fn an_es256_key_mints_iap_style_tokens() {
    let dir = scratch("mint-es256");
    assert!(wsgate(&["keygen", "--out", path(&dir), "--alg", "es256", "--kid", "iap-1"]).status.success());
    let minted = wsgate(&["mint", "--key", path(&dir.join("signing-key.json")), "--email", "a@example.com", "--iss", "https://cloud.google.com/iap"]);
    let token = String::from_utf8(minted.stdout).unwrap();
    let header = token.split('.').next().unwrap();
    assert!(header.starts_with("eyJhbGciOiJFUzI1NiIs"), "ES256 header expected, got {header}");
}

#[test]
fn validate_accepts_a_good_config_and_exits_zero() {
    let dir = scratch("validate-ok");
    assert!(wsgate(&["keygen", "--out", path(&dir)]).status.success());
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    let file = dir.join("config.json");
    std::fs::write(&file, config_trusting(jwks).to_string()).unwrap();
    let output = wsgate(&["validate", path(&file)]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok"));
}

#[test]
fn validate_lists_every_problem_with_its_field_path_and_fails() {
    let dir = scratch("validate-bad");
    let file = dir.join("config.json");
    let config = json!({
        "providers": [{"name": "x", "issuers": [], "audiences": ["a"], "local_jwks": {"keys": []}}],
        "policy": {"allow": {}}
    });
    std::fs::write(&file, config.to_string()).unwrap();
    let output = wsgate(&["validate", path(&file)]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in ["providers[0].issuers: needs at least one issuer", "providers[0].local_jwks: holds no key", "policy.allow: names nobody"] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("3 problem(s)"));
}

#[cfg(not(feature = "replay"))]
#[test]
fn without_the_replay_feature_replay_fails_and_says_how_to_get_it() {
    let cases = cases_dir();
    let output = wsgate(&["replay", "--native", "--config", path(&cases.join("config.json")), path(&cases.join("traffic"))]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("built without `replay`") && stderr.contains("make cli"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing was replayed");
}

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../host-tests/cases")
}

#[cfg(feature = "replay")]
#[test]
fn replay_prints_the_closing_line_and_exits_zero_when_every_case_passes() {
    let cases = cases_dir();
    let output = wsgate(&[
        "replay", "--native", "--config", path(&cases.join("config.json")),
        "--key", path(&cases.join("TEST-ONLY-signing-key.json")), path(&cases.join("traffic")),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.trim_end().ends_with("19 passed, 0 failed"), "{stdout}");
}

#[cfg(feature = "replay")]
#[test]
fn replay_shows_a_diff_and_fails_when_a_case_does_not_hold() {
    let cases = cases_dir();
    let dir = scratch("replay-failing");
    let file = dir.join("wrong.json");
    std::fs::write(&file, r#"{"cases": [{"name": "health is not really public", "request": {"path": "/healthz"}, "expect": {"status": 401}}]}"#).unwrap();
    let output = wsgate(&["replay", "--native", "--json", "--config", path(&cases.join("config.json")), path(&file)]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((report["passed"].as_u64(), report["failed"].as_u64()), (Some(0), Some(1)));
    assert_eq!(report["cases"][0]["differences"][0], json!({"field": "status", "expected": "\"401\"", "actual": "\"200\""}));
}

#[test]
fn inline_keys_puts_a_fetched_jwks_into_the_configuration_for_the_service_extensions_profile() {
    let dir = scratch("inline-keys");
    assert!(wsgate(&["keygen", "--out", path(&dir)]).status.success());
    let config_path = dir.join("wsgate.json");
    let mut config = config_trusting(json!({"keys": []}));
    let provider = config["providers"][0].as_object_mut().unwrap();
    provider.remove("local_jwks");
    provider.insert("remote_jwks".into(), json!({"cluster": "googleapis", "authority": "www.googleapis.com", "path": "/oauth2/v3/certs"}));
    config["profile"] = json!("service_extensions");
    config["token_cache_bytes"] = json!(1 << 20);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let refused = wsgate(&["validate", path(&config_path)]);
    assert!(!refused.status.success(), "remote keys are refused under service_extensions");

    let done = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--jwks", path(&dir.join("jwks.json"))]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("provider `google` now has 1 inline keys"));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert!(written["providers"][0].get("remote_jwks").is_none());
    assert_eq!(written["providers"][0]["local_jwks"]["keys"][0]["kid"], "wsgate-demo-1");
    let valid = wsgate(&["validate", path(&config_path)]);
    assert!(valid.status.success(), "{}{}", String::from_utf8_lossy(&valid.stdout), String::from_utf8_lossy(&valid.stderr));

    std::fs::write(dir.join("bad.json"), r#"{"keys": [{"kty": "RSA", "kid": "x"}]}"#).unwrap();
    let bad = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--jwks", path(&dir.join("bad.json"))]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("the JWKS is not usable"));
    let other = wsgate(&["inline-keys", path(&config_path), "--provider", "okta", "--jwks", path(&dir.join("jwks.json"))]);
    assert!(String::from_utf8_lossy(&other.stderr).contains("no provider named `okta`"));
}

/// Serves `body` once, as a JWKS endpoint on 127.0.0.1 would; the URL to fetch.
#[cfg(feature = "fetch")]
fn serve_once(body: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/oauth2/v3/certs", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).unwrap();
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).unwrap();
    });
    url
}

#[cfg(feature = "fetch")]
#[test]
fn inline_keys_fetches_the_jwks_over_http_from_loopback_and_never_over_plain_http_elsewhere() {
    let dir = scratch("inline-keys-fetch");
    assert!(wsgate(&["keygen", "--out", path(&dir)]).status.success());
    let config_path = dir.join("wsgate.json");
    let mut config = config_trusting(json!({"keys": []}));
    config["profile"] = json!("service_extensions");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let url = serve_once(std::fs::read_to_string(dir.join("jwks.json")).unwrap());
    let done = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--fetch", &url]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert_eq!(written["providers"][0]["local_jwks"]["keys"][0]["kid"], "wsgate-demo-1");
    let plain = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--fetch", "http://www.googleapis.com/oauth2/v3/certs"]);
    assert!(!plain.status.success() && String::from_utf8_lossy(&plain.stderr).contains("https only"), "{}", String::from_utf8_lossy(&plain.stderr));
    let both = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--fetch", &url, "--jwks", "-"]);
    assert!(!both.status.success(), "--fetch and --jwks together are refused");
}

#[cfg(not(feature = "fetch"))]
#[test]
fn a_cli_without_fetch_says_how_to_fetch() {
    let dir = scratch("inline-keys-no-fetch");
    let config_path = dir.join("wsgate.json");
    std::fs::write(&config_path, config_trusting(json!({"keys": []})).to_string()).unwrap();
    let refused = wsgate(&["inline-keys", path(&config_path), "--provider", "google", "--fetch"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("built without `fetch`") && said.contains("make cli"), "{said}");
}

#[test]
fn the_service_extensions_template_validates_once_its_keys_are_inline() {
    let dir = scratch("service-extensions");
    std::fs::create_dir_all(dir.join("rsa")).unwrap();
    std::fs::create_dir_all(dir.join("ec")).unwrap();
    assert!(wsgate(&["keygen", "--out", path(&dir.join("rsa"))]).status.success());
    assert!(wsgate(&["keygen", "--out", path(&dir.join("ec")), "--alg", "es256", "--kid", "iap-1"]).status.success());
    let config = dir.join("wsgate.json");
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envoy/service-extensions/wsgate.template.json");
    std::fs::copy(template, &config).unwrap();
    assert!(!wsgate(&["validate", path(&config)]).status.success(), "no keys yet");
    for (provider, keys) in [("google", "rsa"), ("iap", "ec")] {
        let done = wsgate(&["inline-keys", path(&config), "--provider", provider, "--jwks", path(&dir.join(keys).join("jwks.json"))]);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    }
    let valid = wsgate(&["validate", path(&config)]);
    assert!(valid.status.success(), "{}{}", String::from_utf8_lossy(&valid.stdout), String::from_utf8_lossy(&valid.stderr));
}
