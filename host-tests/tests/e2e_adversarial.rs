//! The adversarial suite: every request of the corpus (`wsgate_host_tests::attack`),
//! written with its expected answer, sent through real Envoy + wsgate in front of an
//! upstream that records every request it receives. A refused request must never
//! appear there; an admitted one must carry exactly the gate's identity. A second
//! Envoy that lets underscore headers through proves wsgate's own wall; the held
//! requests run against the Google stand-in with injected failures. Run with `make e2e`.

mod support;

use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;
use wsgate_fixtures::configs::google_provider_fetching;
use wsgate_fixtures::{GoogleClaims, patched};
use wsgate_host_tests::attack::run::{mismatch, send_all};
use wsgate_host_tests::attack::{Case, Class, Expect, corpus, plugin_config};
use wsgate_host_tests::envoy::http_cluster;
use wsgate_host_tests::google::{Fault, GoogleStandIn};
use wsgate_host_tests::http::get;

fn report(cases: &[Case], failures: &[String]) {
    let mut per_class: BTreeMap<Class, usize> = BTreeMap::new();
    for case in cases {
        *per_class.entry(case.class).or_default() += 1;
    }
    for (class, count) in &per_class {
        println!("adversarial: {count:4} cases  {}", class.name());
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn no_request_of_the_corpus_gets_around_the_gate() {
    let cases = corpus::cases(now());
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let stack = start("adversarial", plugin_config());
    let answers = send_all(stack.port(), &stack.upstream, &cases);
    let failures: Vec<String> = cases
        .iter()
        .zip(&answers)
        .filter_map(|(case, answer)| mismatch(case, answer).map(|why| format!("[{}] {}: {why}", case.class.name(), case.name)))
        .collect();
    report(&cases, &failures);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn with_underscore_headers_allowed_by_envoy_wsgate_still_strips_every_spelling() {
    let mut options = options("adversarial_underscores", plugin_config());
    options.envoy_template = options.envoy_template.replace("headers_with_underscores_action: REJECT_REQUEST", "headers_with_underscores_action: ALLOW");
    let stack = wsgate_host_tests::stack::Stack::start_ready(&options).unwrap();
    let alice = wsgate_host_tests::attack::forge::Forge { now: now() }.id_token("alice@example.com");
    let cases: Vec<Case> = ["x_workspace_email", "X_Workspace_Email", "x-workspace_email", "x_workspace_groups", "x_workspace_subject", "x__workspace__email"]
        .iter()
        .flat_map(|name| {
            let forged = vec![("host".to_owned(), "app.example.com".to_owned()), ((*name).to_owned(), "forged-root@example.com".to_owned())];
            let mut with_token = forged.clone();
            with_token.push(("authorization".to_owned(), format!("Bearer {alice}")));
            [
                Case { class: Class::IdentityHeader, name: format!("{name} on a public path"), method: "GET".into(), target: "/healthz".into(), headers: forged, expect: Expect::Forwarded(None) },
                Case { class: Class::IdentityHeader, name: format!("{name} beside a valid token"), method: "GET".into(), target: "/app/home".into(), headers: with_token, expect: Expect::Forwarded(Some("alice@example.com")) },
            ]
        })
        .collect();
    let answers = send_all(stack.port(), &stack.upstream, &cases);
    let failures: Vec<String> = cases.iter().zip(&answers).filter_map(|(c, a)| mismatch(c, a).map(|why| format!("{}: {why}", c.name))).collect();
    report(&cases, &failures);
}

/// Remote keys and live groups through the stand-in, with failures injected: a held
/// request is answered, never forwarded, while what it waits for is failing.
#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn held_requests_are_never_forwarded_while_keys_or_groups_fail() {
    let google = GoogleStandIn::start().unwrap();
    google.set_fault("/oauth2/v3/certs", Fault::Status(500));
    google.set_members("oncall@example.com", &["alice@example.com"]);
    let mut config = plugin_config();
    config["providers"][0] = patched(google_provider_fetching(AUDIENCE, "google"), &json!({"remote_jwks": {"wait_for_keys_ms": 300, "timeout_ms": 500}}));
    config["policy"]["rules"].as_array_mut().unwrap().push(json!({"name": "oncall", "match": {"paths": [{"prefix": "/oncall"}]}, "effect": "allow", "subjects": {"groups": ["oncall@example.com"]}}));
    config["group_lookup"] = json!({"backend": "cloud_identity", "cluster": "google", "wait_ms": 400, "timeout_ms": 300, "ttl_seconds": 1, "negative_ttl_seconds": 1, "stale_if_error_seconds": 1});
    config["group_lookup"]["access_token"] = json!({"cluster": "google"});
    let mut options = options("adversarial_held", config);
    options.extra_clusters = http_cluster("google", google.port);
    let stack = wsgate_host_tests::stack::Stack::start_ready(&options).unwrap();
    let alice = format!("Bearer {}", google.mint(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).issued_ago(10).build()).unwrap());
    let mut failures = Vec::new();
    let mut count = 0;
    // One request; `patience` > 0: repeated until it gets the answer (a recovery takes
    // the fetcher's backoff). A refused request must never reach the service.
    let mut expect = |what: &str, path: &str, status: u16, reason: &str, patience: Duration, failures: &mut Vec<String>| {
        count += 1;
        let deadline = std::time::Instant::now() + patience;
        loop {
            let tag = format!("held-{count}-{}", now());
            let response = get(stack.port(), path, &[("host", "app.example.com"), ("authorization", &alice), ("x-case-id", &tag)]).unwrap();
            let reached = stack.upstream.received().iter().any(|r| r["headers"]["x-case-id"] == tag.as_str());
            let got = (response.status, response.json()["error"].as_str().unwrap_or("").to_owned(), reached);
            let want = (status, reason.to_owned(), status == 200);
            if reached && status != 200 {
                failures.push(format!("{what}: REACHED THE SERVICE while failing: {got:?}"));
                return;
            }
            if got == want {
                return;
            }
            if std::time::Instant::now() >= deadline {
                failures.push(format!("{what}: expected {want:?}, got {got:?}"));
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let now_only = Duration::ZERO;
    let recovery = Duration::from_secs(20);
    expect("keys endpoint answering 500 from the start", "/app/home", 503, "keys_unavailable", now_only, &mut failures);
    google.set_fault("/oauth2/v3/certs", Fault::Hang);
    expect("keys endpoint hanging", "/app/home", 503, "keys_unavailable", now_only, &mut failures);
    google.set_fault("/oauth2/v3/certs", Fault::Drop);
    expect("keys endpoint dropping the connection", "/app/home", 503, "keys_unavailable", now_only, &mut failures);
    google.set_fault("/oauth2/v3/certs", Fault::Status(200));
    expect("keys endpoint answering garbage", "/app/home", 503, "keys_unavailable", now_only, &mut failures);
    google.clear_faults();
    expect("keys endpoint recovered", "/app/home", 200, "", recovery, &mut failures);
    google.set_fault("/v1/groups", Fault::Status(503));
    expect("group API answering 503", "/oncall/page", 403, "groups_unavailable", now_only, &mut failures);
    google.set_fault("/v1/groups", Fault::Hang);
    expect("group API hanging", "/oncall/page", 403, "groups_unavailable", now_only, &mut failures);
    google.set_fault("/computeMetadata", Fault::Status(500));
    google.set_fault("/v1/groups", Fault::Status(401));
    expect("metadata server failing and the group API refusing the token", "/oncall/page", 403, "groups_unavailable", now_only, &mut failures);
    google.clear_faults();
    expect("group lookups recovered", "/oncall/page", 200, "", recovery, &mut failures);
    println!("adversarial: {count:4} cases  {}", Class::HeldUnderFailure.name());
    assert!(failures.is_empty(), "{}\n--- envoy log tail:\n{}", failures.join("\n"), stack.envoy.log().lines().rev().take(30).collect::<Vec<_>>().join("\n"));
}
