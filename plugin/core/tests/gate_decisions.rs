//! Whole decisions: what the proxy is told to do for a request, and what it logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::{Action, Gate, Reason, RequestSnapshot};

fn request(path: &str) -> RequestSnapshot {
    RequestSnapshot::new("GET", "api.example.com", path).with_header("x-request-id", "req-1")
}

fn with_bearer(path: &str, token: &str) -> RequestSnapshot {
    request(path).with_header("authorization", format!("Bearer {token}"))
}

fn forwarded_headers(action: &Action) -> Vec<(String, String)> {
    match action {
        Action::Forward { set, .. } => set.iter().map(|(n, v)| (n.clone(), String::from_utf8(v.clone()).unwrap())).collect(),
        Action::Respond(response) => panic!("expected Forward, got {response:?}"),
    }
}

#[test]
fn an_allowed_caller_is_forwarded_with_identity_headers() {
    let verdict = gate().decide(&with_bearer("/reports", &rsa_token(&google_claims())), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!(verdict.rule.as_ref().map(|r| &*r.name), Some("allow"));
    assert_eq!(
        forwarded_headers(&verdict.action),
        [
            ("x-workspace-email".to_owned(), "alice@example.com".to_owned()),
            ("x-workspace-subject".to_owned(), "110000000000000000001".to_owned()),
            ("x-workspace-domain".to_owned(), "example.com".to_owned()),
        ]
    );
}

#[test]
fn a_public_path_is_forwarded_without_identity_even_with_a_bad_token() {
    let verdict = gate().decide(&with_bearer("/healthz", "garbage"), ms(NOW));
    assert_eq!(verdict.reason, Reason::PublicPath);
    assert_eq!(verdict.rule.unwrap().name.as_ref(), "public_paths");
    assert!(forwarded_headers(&verdict.action).is_empty());
}

#[test]
fn a_missing_token_is_answered_401_with_the_request_id() {
    let verdict = gate().decide(&request("/reports"), ms(NOW));
    let Action::Respond(response) = verdict.action else { panic!("expected a response") };
    assert_eq!(response.status, 401);
    assert_eq!(response.body, r#"{"error":"missing_token","request_id":"req-1"}"#);
}

#[test]
fn a_caller_outside_the_policy_is_answered_403_by_the_default_rule() {
    let claims = google_with(json!({"email": "bob@example.net", "hd": "example.com"}));
    let mut config = config();
    config["policy"]["allow"] = json!({"users": ["someone@else.test"]});
    let verdict = Gate::new(settings(&config)).decide(&with_bearer("/reports", &rsa_token(&claims)), ms(NOW));
    assert_eq!(verdict.reason, Reason::NotAllowed);
    assert_eq!(verdict.rule, None, "the default decided");
    let Action::Respond(response) = verdict.action else { panic!("expected a response") };
    assert_eq!(response.status, 403);
}

#[test]
fn a_token_is_verified_once_then_served_from_the_cache_until_it_expires() {
    let mut gate = gate();
    let token = rsa_token(&google_claims());
    assert_eq!(gate.decide(&with_bearer("/a", &token), ms(NOW)).reason, Reason::Allowed);
    assert_eq!(gate.cached_tokens(), 1);
    assert_eq!(gate.decide(&with_bearer("/b", &token), ms(NOW + 10)).reason, Reason::Allowed);
    assert_eq!(gate.cached_tokens(), 1, "the second request must reuse the cached verification");
    // Past exp + skew the cached entry is gone and verification refuses the token.
    assert_eq!(gate.decide(&with_bearer("/c", &token), ms(NOW + 3540 + 61)).reason, Reason::TokenExpired);
    assert_eq!(gate.cached_tokens(), 0);
}

#[test]
fn refused_tokens_are_not_cached() {
    let mut gate = gate();
    let token = rsa_token(&google_with(json!({"aud": "someone-else"})));
    assert_eq!(gate.decide(&with_bearer("/a", &token), ms(NOW)).reason, Reason::AudienceNotAllowed);
    assert_eq!(gate.cached_tokens(), 0);
}

#[test]
fn strip_token_removes_the_header_the_token_came_from() {
    let mut config = config();
    config["strip_token"] = json!(true);
    let token = rsa_token(&google_claims());
    let request = request("/a").with_header("x-serverless-authorization", format!("Bearer {token}"));
    let verdict = Gate::new(settings(&config)).decide(&request, ms(NOW));
    let Action::Forward { remove, .. } = verdict.action else { panic!("expected Forward") };
    assert_eq!(remove, ["x-serverless-authorization"]);
}

#[test]
fn the_log_line_is_json_naming_decision_reason_rule_and_caller() {
    let verdict = gate().decide(&with_bearer("/reports?q=1", &rsa_token(&google_claims())), ms(NOW));
    let line: Value = serde_json::from_str(verdict.log_line.as_deref().unwrap()).unwrap();
    assert_eq!(
        line,
        json!({
            "decision": "allow", "status": 200, "reason": "allowed", "rule": "allow",
            "provider": "google", "email": "alice@example.com", "subject": "110000000000000000001",
            "method": "GET", "authority": "api.example.com", "path": "/reports?q=1", "request_id": "req-1"
        })
    );
}

#[test]
fn control_characters_in_logged_fields_cannot_forge_log_lines() {
    let request = RequestSnapshot::new("GET", "h", "/a\n{\"decision\":\"allow\"}").with_header("x-request-id", "x\r\ny");
    let verdict = gate().decide(&request, ms(NOW));
    let line = verdict.log_line.unwrap();
    assert!(!line.contains('\n') && !line.contains("\\n"), "{line}");
}

#[test]
fn decision_log_denied_logs_refusals_only_and_none_logs_nothing() {
    let allowed = || with_bearer("/reports", &rsa_token(&google_claims()));
    let refused = || request("/reports");
    let logged = |mode: &str, request: RequestSnapshot| {
        let mut config = config();
        config["decision_log"] = json!(mode);
        Gate::new(settings(&config)).decide(&request, ms(NOW)).log_line.is_some()
    };
    assert_eq!((logged("all", allowed()), logged("all", refused())), (true, true));
    assert_eq!((logged("denied", allowed()), logged("denied", refused())), (false, true));
    assert_eq!((logged("none", allowed()), logged("none", refused())), (false, false));
}

#[test]
fn identity_headers_to_strip_are_the_configured_ones() {
    let mut config = config();
    config["identity_headers"] = json!({"email": "X-Caller-Email"});
    let gate = Gate::new(settings(&config));
    assert_eq!(gate.identity_header_names(), ["x-caller-email", "x-workspace-subject", "x-workspace-domain", "x-workspace-groups", "x-workspace-via"]);
}

#[test]
fn every_spelling_an_upstream_reads_as_an_identity_header_is_stripped() {
    let gate = Gate::new(settings(&config()));
    let request = RequestSnapshot::new("GET", "svc", "/")
        .with_header("x_workspace_email", "root@example.com")
        .with_header("X-Workspace_Domain", "example.com")
        .with_header("x-workspace.groups", "admins@example.com")
        .with_header("x-workspace-subject", "1")
        .with_header("x-workspace-emails", "kept")
        .with_header("x-workspaceemail", "folded");
    assert_eq!(
        gate.forged_identity_headers(&request),
        ["x_workspace_email", "x-workspace_domain", "x-workspace.groups", "x-workspace-subject", "x-workspaceemail"]
    );
}

#[test]
fn the_service_gets_the_canonical_domain_and_email_the_policy_decided_on() {
    let mut gate = Gate::new(settings(&config()));
    let token = rsa_token(&google_with(json!({"email": "Alice@Example.COM", "hd": "EXAMPLE.COM."})));
    let request = RequestSnapshot::new("GET", "svc", "/").with_header("authorization", format!("Bearer {token}"));
    let Action::Forward { set, .. } = gate.decide(&request, ms(NOW)).action else { panic!("expected the request to be forwarded") };
    let header = |name: &str| set.iter().find(|(n, _)| n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    assert_eq!(header("x-workspace-domain").as_deref(), Some("example.com"));
    assert_eq!(header("x-workspace-email").as_deref(), Some("alice@example.com"));
}

#[test]
fn a_claim_an_upstream_would_read_otherwise_is_not_forwarded() {
    for (subject, forwarded) in [("108\t", false), (" 108", false), ("1\r\n08", false), ("10 8", true), ("108", true)] {
        let mut gate = Gate::new(settings(&config()));
        let token = rsa_token(&google_with(json!({"sub": subject})));
        let request = RequestSnapshot::new("GET", "svc", "/").with_header("authorization", format!("Bearer {token}"));
        let Action::Forward { set, .. } = gate.decide(&request, ms(NOW)).action else { panic!("expected the request to be forwarded") };
        let sent = set.iter().find(|(n, _)| n == "x-workspace-subject").map(|(_, v)| v.clone());
        assert_eq!(sent, forwarded.then(|| subject.as_bytes().to_vec()), "{subject:?}");
    }
}
