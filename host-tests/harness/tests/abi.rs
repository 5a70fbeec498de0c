//! Host calls wsgate does not make yet (HTTP calls, shared data, unknown imports),
//! checked with a small hand-written plugin (`tests/plugins/callout.wat`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;
use wsgate_harness::Harness;
use wsgate_harness::plugin::HttpRequest;
use wsgate_harness::state::ScriptedAnswer;

fn plugin() -> wsgate_harness::plugin::Plugin {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/callout.wat");
    // vm_start fails unless the unknown call answered Unimplemented and CAS worked.
    Harness::load(&path).unwrap().start(b"", 0).unwrap()
}

fn request() -> HttpRequest {
    HttpRequest { headers: vec![(":method".into(), "GET".into()), (":path".into(), "/".into())], ..HttpRequest::default() }
}

#[test]
fn an_unknown_host_call_answers_unimplemented_and_is_recorded() {
    assert_eq!(plugin().unimplemented_calls(), ["proxy_made_up_call"]);
}

#[test]
fn a_paused_request_resumes_when_its_scripted_http_call_answers() {
    let mut plugin = plugin();
    let answer = ScriptedAnswer { response: Some((vec![(":status".into(), b"200".to_vec())], b"{\"keys\":[]}".to_vec())) };
    plugin.script_http_call("keys-cluster", answer);
    let exchange = plugin.send(&request()).unwrap();
    assert_eq!(exchange.status, 200);
    assert!(exchange.upstream_request.is_some(), "resumed and forwarded");
    assert_eq!(exchange.http_calls.len(), 1);
    assert_eq!(exchange.http_calls[0].upstream, "keys-cluster");
}

#[test]
fn a_failed_http_call_lets_the_plugin_answer_itself() {
    let mut plugin = plugin();
    plugin.script_http_call("keys-cluster", ScriptedAnswer { response: None });
    let exchange = plugin.send(&request()).unwrap();
    assert_eq!(exchange.status, 503);
    assert!(exchange.local_reply.is_some() && exchange.upstream_request.is_none());
}

#[test]
fn an_unscripted_call_fails_like_a_reset_upstream() {
    let exchange = plugin().send(&request()).unwrap();
    assert_eq!(exchange.status, 503);
}
