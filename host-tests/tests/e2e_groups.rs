//! Live group membership end to end: real Envoy asking the local Google stand-in
//! (metadata token, Cloud Identity) through clusters with `dispatch_http_call`.
//! A user removed from a group, an API outage, and concurrent requests sharing one
//! lookup. Run with `make e2e`.

mod support;

use serde_json::{Value, json};
use std::thread;
use std::time::{Duration, Instant};
use support::*;
use wsgate_fixtures::configs::cloud_identity_lookup;
use wsgate_fixtures::patched;
use wsgate_host_tests::envoy::http_cluster;
use wsgate_host_tests::google::{Fault, GoogleStandIn};
use wsgate_host_tests::http::{Response, get};
use wsgate_host_tests::stack::Stack;

const ADMINS: &str = "admins@example.com";
const MEMBERSHIP: &str = "/v1/groups/";
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// `/admin` for the admins group, looked up live in Cloud Identity (the stand-in).
fn start_with(test: &str, google: &GoogleStandIn, lookup: Value) -> Stack {
    let mut config = plugin_config();
    config["policy"] = json!({
        "public_paths": ["/healthz"],
        "rules": [{"name": "admins", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": [ADMINS]}}]
    });
    config["group_lookup"] = patched(cloud_identity_lookup("cloudidentity"), &lookup);
    let mut options = options(test, config);
    options.extra_clusters = http_cluster("cloudidentity", google.port) + &http_cluster("metadata", google.port);
    Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"))
}

fn admin(stack: &Stack) -> Response {
    admin_as(stack.port(), "alice@example.com")
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_user_removed_from_a_group_is_denied_once_the_ttl_has_passed_not_before() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members(ADMINS, &["alice@example.com"]);
    let stack = start_with("groups_removed", &google, json!({"ttl_seconds": 3, "negative_ttl_seconds": 1}));

    let first = admin(&stack);
    let looked_up_at = Instant::now();
    assert_eq!(upstream_headers(&first)["x-workspace-groups"], ADMINS);
    assert_eq!(google.requests_to(TOKEN_PATH).len(), 1, "one access token from the metadata server");
    assert_eq!(google.requests_to(MEMBERSHIP).len(), 1);

    google.set_members(ADMINS, &[]);
    // Within the TTL (3 s, counted in whole seconds: at least 2 s) the cached answer stands.
    while looked_up_at.elapsed() < Duration::from_millis(1500) {
        assert_eq!(admin(&stack).status, 200, "denied before the TTL passed");
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(google.requests_to(MEMBERSHIP).len(), 1, "no lookup within the TTL");

    thread::sleep(Duration::from_secs(4).saturating_sub(looked_up_at.elapsed()));
    let after = admin(&stack);
    assert_eq!(after.status, 403, "{after:?}");
    assert_eq!(after.json()["error"], "not_allowed");
    assert_eq!(google.requests_to(MEMBERSHIP).len(), 2, "looked up again once the TTL passed");
    assert_eq!(google.requests_to(TOKEN_PATH).len(), 1, "the access token is reused");
    assert!(stack.envoy.counter_reaching("wasmcustom.wsgate.groups.cache_hits", 1) >= 1);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.groups.cache_misses", 2), 2);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_group_api_outage_serves_stale_answers_within_the_bound_then_fails_closed() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members(ADMINS, &["alice@example.com"]);
    let lookup = json!({"ttl_seconds": 1, "negative_ttl_seconds": 1, "stale_if_error_seconds": 4, "timeout_ms": 500, "max_retry_seconds": 1});
    let stack = start_with("groups_outage", &google, lookup);
    assert_eq!(admin(&stack).status, 200);
    let answered_at = Instant::now();

    google.set_fault(MEMBERSHIP, Fault::Status(503));
    thread::sleep(Duration::from_millis(2100));
    let stale = admin(&stack);
    assert_eq!(stale.status, 200, "the stale answer within stale_if_error_seconds: {stale:?}");
    google.set_fault(MEMBERSHIP, Fault::Hang);
    thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    assert_eq!(admin(&stack).status, 200, "a timed-out lookup falls back to the stale answer too");
    assert!(started.elapsed() < Duration::from_millis(2500), "held {:?}", started.elapsed());
    assert!(stack.envoy.counter_reaching("wasmcustom.wsgate.groups.stale", 2) >= 2);

    // TTL (1 s) + stale_if_error (4 s) after the last good answer: fail closed.
    thread::sleep(Duration::from_secs(6).saturating_sub(answered_at.elapsed()));
    let closed = admin(&stack);
    assert_eq!(closed.status, 403, "{closed:?}");
    assert_eq!(closed.json()["error"], "groups_unavailable");
    assert!(stack.envoy.counter_reaching("wasmcustom.wsgate.groups.lookups_failed", 2) >= 2);
    assert!(stack.envoy.log().contains("failed: HTTP 503"), "the failure is logged");

    google.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let status = admin(&stack).status;
        if status == 200 || Instant::now() > deadline {
            break status;
        }
        thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(status, 200, "served again once the API answers (after the backoff)");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn concurrent_requests_for_one_user_share_one_lookup() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members(ADMINS, &["alice@example.com"]);
    // Slow answers, so that every request arrives while the first lookup is under way.
    google.set_fault(MEMBERSHIP, Fault::Slow(Duration::from_millis(500)));
    let stack = start_with("groups_coalesced", &google, json!({}));
    let port = stack.port();
    let clients: Vec<_> = (0..8)
        .map(|_| thread::spawn(move || get(port, "/admin/users", &[("authorization", &bearer(&alice()))]).unwrap().status))
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(statuses, [200; 8]);
    assert_eq!(google.requests_to(MEMBERSHIP).len(), 1, "8 concurrent requests, one lookup");
    assert_eq!(google.requests_to("/v1/groups:lookup").len(), 1);
    assert_eq!(google.requests_to(TOKEN_PATH).len(), 1);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_lookup_made_from_a_request_that_ends_first_is_made_again_not_lost() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members(ADMINS, &["alice@example.com", "bob@example.com"]);
    // Alice's request fetches the token (slowly); Bob's queues behind it, so both
    // lookups leave from Alice's request. Alice's answer is quick and her request
    // ends; Bob's is slow, and Envoy cancels it with her request.
    google.set_fault(TOKEN_PATH, Fault::Slow(Duration::from_millis(300)));
    let bob_lookup = "/v1/groups/61646d696e73/memberships:checkTransitiveMembership?query=member_key_id%20%3D%3D%20%27bob";
    google.set_fault(bob_lookup, Fault::Slow(Duration::from_millis(800)));
    let stack = start_with("groups_requeued", &google, json!({}));
    let port = stack.port();
    let alice = thread::spawn(move || admin_as(port, "alice@example.com"));
    thread::sleep(Duration::from_millis(100));
    let bob = admin_as(port, "bob@example.com");
    assert_eq!(alice.join().unwrap().status, 200);
    assert_eq!(bob.status, 200, "bob is a member: {bob:?}");
    assert_eq!(google.requests_to(TOKEN_PATH).len(), 1);
    assert!(!google.requests_to(bob_lookup).is_empty());
}

fn admin_as(port: u16, email: &str) -> Response {
    get(port, "/admin/users", &[("authorization", &bearer(&google_token(email, json!({}))))]).unwrap()
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_group_api_cluster_missing_from_envoy_fails_closed_at_once_and_says_so() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members(ADMINS, &["alice@example.com"]);
    let stack = start_with("groups_no_cluster", &google, json!({"cluster": "cloud_identity_typo"}));
    let started = Instant::now();
    let response = admin(&stack);
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(response.json()["error"], "groups_unavailable");
    assert!(started.elapsed() < Duration::from_millis(1000), "answered at once, not at wait_ms: {:?}", started.elapsed());
    thread::sleep(Duration::from_millis(1500));
    let complaints = stack.envoy.log().matches("cannot call cluster `cloud_identity_typo`").count();
    assert!((1..=2).contains(&complaints), "said once per attempt, not on every tick: {complaints}");
}
