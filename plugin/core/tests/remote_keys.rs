//! A provider whose keys are fetched: what the gate decides before they arrive,
//! after, and when a token names a key they lack. The fetching itself is the outbound
//! engine's (`outbound_keys.rs`); here the gate is handed the fetched document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::json;
use support::*;
use wsgate_core::mint::{SigningKey, TestKeys, jwks};
use wsgate_core::{Action, Reason, RequestSnapshot};

fn alice_request(token: &str) -> RequestSnapshot {
    RequestSnapshot::new("GET", "api.example.com", "/reports").with_header("authorization", format!("Bearer {token}"))
}

fn header<'a>(action: &'a Action, name: &str) -> Option<&'a str> {
    match action {
        Action::Respond(response) => response.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        Action::Forward { .. } => None,
    }
}

fn status(action: &Action) -> u16 {
    match action {
        Action::Respond(response) => response.status,
        Action::Forward { .. } => 200,
    }
}

#[test]
fn before_any_keys_a_token_gets_503_keys_unavailable_and_may_wait_for_them() {
    let mut gate = remote_keys_gate(json!({}));
    let verdict = gate.decide(&alice_request(&rsa_token(&google_claims())), ms(NOW));
    assert_eq!(verdict.reason, Reason::KeysUnavailable);
    assert_eq!(status(&verdict.action), 503);
    // No fetch scheduled yet (the engine tells the gate): the soonest, one second.
    assert_eq!(header(&verdict.action, "retry-after"), Some("1"));
    assert_eq!(verdict.awaiting_keys, Some(0));
    assert!(verdict.log_line.unwrap().contains(r#""status":503,"reason":"keys_unavailable""#));
}

#[test]
fn a_provider_may_answer_missing_keys_with_401_instead() {
    let mut gate = remote_keys_gate(json!({"unavailable_status": 401}));
    let verdict = gate.decide(&alice_request(&rsa_token(&google_claims())), ms(NOW));
    assert_eq!(status(&verdict.action), 401);
    assert_eq!(
        header(&verdict.action, "www-authenticate"),
        Some("Bearer realm=\"wsgate\", error=\"invalid_token\", error_description=\"the keys to verify the token are not available\"")
    );
    assert!(verdict.log_line.unwrap().contains(r#""status":401,"reason":"keys_unavailable""#));
}

#[test]
fn fetched_keys_verify_tokens_and_a_new_kid_waits_for_the_next_fetch() {
    let mut gate = remote_keys_gate(json!({}));
    let count = gate.install_fetched_keys(0, TestKeys::shared().jwks().to_string().as_bytes()).unwrap();
    assert_eq!(count, 2);
    let verdict = gate.decide(&alice_request(&rsa_token(&google_claims())), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!(verdict.awaiting_keys, None);

    let rotated = SigningKey::generate_rs256("rsa-2").unwrap();
    let verdict = gate.decide(&alice_request(&rotated.sign(&google_claims()).unwrap()), ms(NOW));
    assert_eq!(verdict.reason, Reason::UnknownKeyId);
    assert_eq!(verdict.awaiting_keys, Some(0), "new keys could admit it");

    gate.install_fetched_keys(0, jwks(&[&TestKeys::shared().rsa, &rotated]).to_string().as_bytes()).unwrap();
    let verdict = gate.decide(&alice_request(&rotated.sign(&google_claims()).unwrap()), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
}

#[test]
fn a_bad_document_is_refused_and_the_keys_in_use_stay() {
    let mut gate = remote_keys_gate(json!({}));
    gate.install_fetched_keys(0, TestKeys::shared().jwks().to_string().as_bytes()).unwrap();
    let error = gate.install_fetched_keys(0, b"{\"keys\": [{\"kty\": \"oct\", \"kid\": \"k\"}]}").unwrap_err();
    assert!(error.contains("unsupported kty"), "{error}");
    assert_eq!(gate.decide(&alice_request(&rsa_token(&google_claims())), ms(NOW)).reason, Reason::Allowed);
}

#[test]
fn dropped_keys_make_uncached_tokens_unverifiable_again() {
    let mut gate = remote_keys_gate(json!({}));
    gate.install_fetched_keys(0, TestKeys::shared().jwks().to_string().as_bytes()).unwrap();
    gate.drop_keys(0);
    let verdict = gate.decide(&alice_request(&rsa_token(&google_with(json!({"sub": "another"})))), ms(NOW));
    assert_eq!(verdict.reason, Reason::KeysUnavailable);
}

#[test]
fn configured_keys_never_wait_and_nor_do_other_refusals() {
    let rotated = SigningKey::generate_rs256("rsa-2").unwrap();
    let verdict = gate().decide(&alice_request(&rotated.sign(&google_claims()).unwrap()), ms(NOW));
    assert_eq!(verdict.reason, Reason::UnknownKeyId);
    assert_eq!(verdict.awaiting_keys, None, "local keys never change");

    let mut gate = remote_keys_gate(json!({}));
    gate.install_fetched_keys(0, TestKeys::shared().jwks().to_string().as_bytes()).unwrap();
    let expired = rsa_token(&google_with(json!({"iat": NOW - 7200, "exp": NOW - 3600})));
    assert_eq!(gate.decide(&alice_request(&expired), ms(NOW)).awaiting_keys, None);
    let public = RequestSnapshot::new("GET", "api.example.com", "/healthz").with_header("authorization", format!("Bearer {}", rotated.sign(&google_claims()).unwrap()));
    let verdict = gate.decide(&public, ms(NOW));
    assert_eq!((verdict.reason, verdict.awaiting_keys), (Reason::PublicPath, None), "a public path never waits");
}
