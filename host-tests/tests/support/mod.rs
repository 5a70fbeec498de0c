//! Helpers for the end-to-end tests: real Envoy, the built .wasm, minted tokens.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wsgate_core::mint::{SigningKey, TestKeys};
use wsgate_fixtures::configs::google_and_iap;
use wsgate_fixtures::{GoogleClaims, patched};
use wsgate_host_tests::http::Response;
use wsgate_host_tests::stack::{Stack, StackOptions};

pub mod envoy_executor;
pub mod wasm;

pub const AUDIENCE: &str = wsgate_fixtures::configs::AUDIENCE;
pub const IAP_AUDIENCE: &str = wsgate_fixtures::configs::IAP_AUDIENCE;

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn env_path(name: &str) -> PathBuf {
    let path = std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these tests with `make e2e`"));
    let path = PathBuf::from(path);
    assert!(path.exists(), "{name}={} does not exist: run `make e2e`", path.display());
    path
}

pub fn repo_file(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A path in the repository, from its top.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Google (RS256, hd example.com) and IAP (ES256) providers; example.com admitted;
/// /healthz public.
pub fn plugin_config() -> Value {
    let mut config = google_and_iap(&TestKeys::shared().jwks(), json!({"public_paths": ["/healthz"], "allow": {"domains": ["example.com"]}}));
    config["providers"][0]["allowed_domains"] = json!(["example.com", "partner.example"]);
    config
}

pub fn start(test: &str, config: Value) -> Stack {
    Stack::start_ready(&options(test, config)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn options(test: &str, config: Value) -> StackOptions {
    StackOptions {
        envoy_binary: env_path("WSGATE_ENVOY"),
        wasm: env_path("WSGATE_WASM"),
        envoy_template: repo_file("envoy/demo.yaml"),
        plugin_config: config,
        dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e").join(test),
        listen_port: None,
        admin_port: None,
        extra_http_filters: String::new(),
        extra_clusters: String::new(),
        workers: 1,
        environment: Vec::new(),
    }
}

/// An ID token for `email`, aged ten seconds, with `changes` overlaid (`null`
/// removes a claim). Its subject is `sub-<email>`, which the tests' expectations name.
pub fn google_token(email: &str, changes: Value) -> String {
    let claims = GoogleClaims::id_token(email, AUDIENCE, now()).issued_ago(10).subject(format!("sub-{email}"));
    TestKeys::shared().rsa.sign(&patched(claims.build(), &changes)).unwrap()
}

pub fn alice() -> String {
    google_token("alice@example.com", json!({}))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The headers the upstream received, from its JSON echo.
pub fn upstream_headers(response: &Response) -> Value {
    assert_eq!(response.status, 200, "expected the upstream's echo, got {response:?}");
    response.json()["headers"].clone()
}

/// The JSON decision lines of Envoy's log (Envoy prefixes each with its own fields).
pub fn decision_lines(stack: &Stack) -> Vec<Value> {
    // Envoy writes the log asynchronously; give it a moment.
    std::thread::sleep(Duration::from_millis(200));
    stack
        .envoy
        .log()
        .lines()
        .filter_map(|line| line.find("{\"decision\"").map(|at| &line[at..]))
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}


/// The replay fixtures: `host-tests/cases`.
pub fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// The plugin configuration the fixture cases run with.
pub fn case_config() -> Value {
    serde_json::from_str(&std::fs::read_to_string(cases_dir().join("config.json")).unwrap()).unwrap()
}

/// The test-only key that `case_config` trusts and fixture tokens are signed with.
pub fn case_key() -> SigningKey {
    SigningKey::from_private_jwk(&std::fs::read_to_string(cases_dir().join("TEST-ONLY-signing-key.json")).unwrap()).unwrap()
}

/// Two clients call `send(n)` (each `n` distinct) back to back while `meanwhile`
/// runs, then stop; every call's outcome, in no particular order.
pub fn under_traffic<T: Send + 'static>(send: impl Fn(u64) -> T + Send + Sync + 'static, meanwhile: impl FnOnce()) -> Vec<T> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (send, stop, sequence) = (Arc::new(send), Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (send, stop, sequence) = (Arc::clone(&send), Arc::clone(&stop), Arc::clone(&sequence));
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    outcomes.push(send(sequence.fetch_add(1, Ordering::SeqCst)));
                }
                outcomes
            })
        })
        .collect();
    meanwhile();
    stop.store(true, Ordering::SeqCst);
    clients.into_iter().flat_map(|client| client.join().unwrap()).collect()
}
