//! Remote keys through the real wsgate.wasm in the harness, with scripted answers
//! from the JWKS cluster and a clock the test moves: the fetch at start, rotation,
//! the endpoint down at start, stale-if-error and its bound.
//! Run with `make harness` (needs the built .wasm in `WSGATE_WASM`).

mod support;

use serde_json::{Value, json};
use std::sync::OnceLock;
use support::AUDIENCE;
use support::wasm::{T0, call_header, error_code, get_with_bearer, metric, set_seconds, start};
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::configs::google_provider_fetching;
use wsgate_fixtures::{GoogleClaims, patched};
use wsgate_harness::plugin::{Exchange, Plugin};
use wsgate_harness::state::ScriptedAnswer;

fn keys() -> &'static [SigningKey; 3] {
    static KEYS: OnceLock<[SigningKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| ["k1", "k2", "k3"].map(|kid| SigningKey::generate_rs256(kid).unwrap()))
}

fn config(remote_changes: Value) -> Vec<u8> {
    let config = json!({
        "providers": [patched(google_provider_fetching(AUDIENCE, "google"), &json!({"remote_jwks": remote_changes}))],
        "policy": {"allow": {"domains": ["example.com"]}}
    });
    serde_json::to_vec(&config).unwrap()
}

/// Google's certs endpoint answering with these keys.
fn certs(published: &[&SigningKey], max_age: u64) -> ScriptedAnswer {
    let headers = vec![
        (":status".to_owned(), b"200".to_vec()),
        ("content-type".to_owned(), b"application/json; charset=UTF-8".to_vec()),
        ("cache-control".to_owned(), format!("public, max-age={max_age}, must-revalidate, no-transform").into_bytes()),
    ];
    ScriptedAnswer { response: Some((headers, jwks(published).to_string().into_bytes())) }
}

fn status(code: u16) -> ScriptedAnswer {
    ScriptedAnswer { response: Some((vec![(":status".to_owned(), code.to_string().into_bytes())], br#"{"error":"backend"}"#.to_vec())) }
}

/// A token for a distinct user each time, so the token cache never answers for it.
fn token(key: &SigningKey, now: u64, user: &str) -> String {
    key.sign(&GoogleClaims::id_token(&format!("{user}@example.com"), AUDIENCE, now).issued_ago(10).build()).unwrap()
}

fn send(plugin: &mut Plugin, token: &str) -> Exchange {
    get_with_bearer(plugin, "/reports", token)
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn keys_are_fetched_at_start_through_the_cluster_and_a_request_waits_for_them() {
    let mut plugin = start(&config(json!({})));
    plugin.script_http_call("google", certs(&[&keys()[0]], 21_600));
    let exchange = send(&mut plugin, &token(&keys()[0], T0, "alice"));
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    let call = exchange.http_calls.iter().find(|c| c.upstream == "google").expect("the start-up fetch");
    let header = |name: &str| call_header(call, name);
    assert_eq!(header(":path").as_deref(), Some("/oauth2/v3/certs"));
    assert_eq!(header(":authority").as_deref(), Some("www.googleapis.com"));
    assert_eq!(header(":method").as_deref(), Some("GET"));
    assert_eq!(exchange.http_calls.len(), 1, "one fetch, not one per request");
    assert_eq!(send(&mut plugin, &token(&keys()[0], T0, "bob")).http_calls.len(), 0);
    assert_eq!(metric(&mut plugin, "wsgate.jwks.google.fetched"), 1);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_rotated_key_is_fetched_while_the_request_waits_and_refreshes_are_rate_limited() {
    let [k1, k2, k3] = keys();
    let mut plugin = start(&config(json!({})));
    plugin.script_http_call("google", certs(&[k1], 21_600));
    plugin.tick().unwrap();

    plugin.script_http_call("google", certs(&[k1, k2], 21_600));
    let exchange = send(&mut plugin, &token(k2, T0, "alice"));
    assert_eq!(exchange.status, 200, "the new kid was fetched and the request served: {:?}", exchange.local_reply);
    assert_eq!(exchange.http_calls.len(), 1);
    assert_eq!(exchange.held_ms, 100, "held until the root's next tick fetched");

    set_seconds(&mut plugin, T0 + 10);
    plugin.script_http_call("google", certs(&[k1, k2, k3], 21_600));
    let exchange = send(&mut plugin, &token(k3, T0 + 10, "bob"));
    assert_eq!((exchange.status, error_code(&exchange).as_str()), (401, "unknown_kid"), "within 30 s of the last forced refresh");
    assert!(exchange.http_calls.is_empty(), "no fetch while rate-limited");

    set_seconds(&mut plugin, T0 + 31);
    let exchange = send(&mut plugin, &token(k3, T0 + 31, "carol"));
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn with_the_endpoint_down_at_start_requests_get_503_then_are_served_once_it_is_up() {
    let mut plugin = start(&config(json!({})));
    plugin.script_http_call("google", status(500));
    let exchange = send(&mut plugin, &token(&keys()[0], T0, "alice"));
    assert_eq!((exchange.status, error_code(&exchange).as_str()), (503, "keys_unavailable"));
    let retry_after = exchange.response_headers.iter().find(|(n, _)| n == "retry-after").map(|(_, v)| v.as_str());
    assert_eq!(retry_after, Some("1"), "the first retry, one second after the failure");
    assert!(plugin.logs().iter().any(|l| l.message.contains("fetching keys for provider `google` from cluster `google` failed: HTTP 500; no usable keys, retrying in 1000 ms")), "{:?}", plugin.logs());

    // In backoff: answered at once, without another fetch.
    let exchange = send(&mut plugin, &token(&keys()[0], T0, "bob"));
    assert_eq!((exchange.status, exchange.http_calls.len(), exchange.held_ms), (503, 0, 0));

    set_seconds(&mut plugin, T0 + 2);
    plugin.script_http_call("google", certs(&[&keys()[0]], 21_600));
    plugin.tick().unwrap();
    assert_eq!(send(&mut plugin, &token(&keys()[0], T0 + 2, "carol")).status, 200);
    assert_eq!(metric(&mut plugin, "wsgate.jwks.google.failed"), 1);
    assert_eq!(metric(&mut plugin, "wsgate.reason.keys_unavailable"), 2);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_provider_may_answer_401_while_it_has_no_keys() {
    let mut plugin = start(&config(json!({"unavailable_status": 401})));
    plugin.script_http_call("google", ScriptedAnswer { response: None });
    let exchange = send(&mut plugin, &token(&keys()[0], T0, "alice"));
    assert_eq!((exchange.status, error_code(&exchange).as_str()), (401, "keys_unavailable"));
    let challenge = exchange.response_headers.iter().find(|(n, _)| n == "www-authenticate").map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer realm=\"wsgate\", error=\"invalid_token\""), "{challenge}");
    assert!(plugin.logs().iter().any(|l| l.message.contains("no response (timeout, reset or connection failure)")));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn failed_refreshes_keep_the_keys_for_the_stale_bound_and_then_fail_closed() {
    let k1 = &keys()[0];
    let mut plugin = start(&config(json!({"min_refresh_seconds": 60, "stale_if_error_seconds": 120})));
    plugin.script_http_call("google", certs(&[k1], 600));
    plugin.tick().unwrap();
    // The refresh is due at 540 s (a tenth early); from then on every fetch fails.
    let mut now = T0;
    while now < T0 + 600 + 119 {
        now += 1;
        set_seconds(&mut plugin, now);
        plugin.tick().unwrap();
    }
    assert!(metric(&mut plugin, "wsgate.jwks.google.failed") >= 5, "retried with backoff");
    assert!(metric(&mut plugin, "wsgate.jwks.google.failed") <= 12, "not every second");
    assert_eq!(send(&mut plugin, &token(k1, now, "alice")).status, 200, "stale keys within the bound still verify");
    assert_eq!(metric(&mut plugin, "wsgate.jwks.google.age_seconds"), 719);

    set_seconds(&mut plugin, T0 + 600 + 120);
    plugin.tick().unwrap();
    assert!(plugin.logs().iter().any(|l| l.message.contains("stale beyond stale_if_error_seconds")));
    let exchange = send(&mut plugin, &token(k1, T0 + 720, "bob"));
    assert_eq!((exchange.status, error_code(&exchange).as_str()), (503, "keys_unavailable"), "fail closed past the bound");

    plugin.script_http_call("google", certs(&[k1], 600));
    set_seconds(&mut plugin, T0 + 800);
    plugin.tick().unwrap();
    assert_eq!(send(&mut plugin, &token(k1, T0 + 800, "carol")).status, 200, "and recover with the next good fetch");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_document_that_is_not_a_usable_jwks_is_a_failed_fetch_and_the_keys_stay() {
    let k1 = &keys()[0];
    let mut plugin = start(&config(json!({"min_refresh_seconds": 60})));
    plugin.script_http_call("google", certs(&[k1], 60));
    plugin.tick().unwrap();
    let html = ScriptedAnswer { response: Some((vec![(":status".into(), b"200".to_vec())], b"<html>captive portal</html>".to_vec())) };
    plugin.script_http_call("google", html);
    set_seconds(&mut plugin, T0 + 55);
    plugin.tick().unwrap();
    assert!(plugin.logs().iter().any(|l| l.message.contains("the JWKS is not JSON")), "{:?}", plugin.logs());
    assert_eq!(send(&mut plugin, &token(k1, T0 + 55, "alice")).status, 200);
    assert_eq!(metric(&mut plugin, "wsgate.jwks.google.fetched"), 1);
    assert_eq!(metric(&mut plugin, "wsgate.jwks.google.failed"), 1);
}
