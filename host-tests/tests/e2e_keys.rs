//! Remote keys end to end: real Envoy fetching Google's certs from the local stand-in
//! through a cluster, with `dispatch_http_call`. Key rotation under traffic, and the
//! endpoint down at start. Run with `make e2e`.

mod support;

use serde_json::{Value, json};
use std::thread;
use std::time::{Duration, Instant};
use support::*;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::google_provider_fetching;
use wsgate_host_tests::envoy::http_cluster;
use wsgate_host_tests::google::{Fault, GoogleStandIn};
use wsgate_host_tests::http::get;
use wsgate_host_tests::stack::Stack;

const CERTS: &str = "/oauth2/v3/certs";

fn config() -> Value {
    json!({
        "providers": [google_provider_fetching(AUDIENCE, "google_certs")],
        "policy": {"public_paths": ["/healthz"], "allow": {"domains": ["example.com"]}}
    })
}

fn start_with(test: &str, google: &GoogleStandIn) -> Stack {
    let mut options = options(test, config());
    options.extra_clusters = http_cluster("google_certs", google.port);
    Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"))
}

/// A token from the stand-in's current key; `n` makes each one distinct, so none is
/// answered from the token cache.
fn token(google: &GoogleStandIn, n: u64) -> String {
    google.mint(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).issued_ago(10).set("jti", n.to_string()).build()).unwrap()
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn google_rotates_its_key_under_traffic_and_not_one_valid_request_is_refused() {
    let google = GoogleStandIn::start().unwrap();
    let stack = start_with("keys_rotation", &google);
    let port = stack.port();
    let mut new_kid = String::new();
    let traffic = google.clone();
    let send = move |n| {
        let kid = traffic.current_kid().unwrap();
        let response = get(port, "/api", &[("authorization", &bearer(&token(&traffic, n)))]).unwrap();
        (kid, response.status, response.body)
    };
    let outcomes: Vec<(String, u16, String)> = under_traffic(send, || {
        thread::sleep(Duration::from_millis(1500));
        new_kid = google.rotate().unwrap();
        thread::sleep(Duration::from_millis(1500));
    });

    let refused: Vec<_> = outcomes.iter().filter(|(_, status, _)| *status != 200).collect();
    assert!(refused.is_empty(), "{} of {} valid requests refused: {:?}", refused.len(), outcomes.len(), &refused[..refused.len().min(3)]);
    let with_new_key = outcomes.iter().filter(|(kid, _, _)| *kid == new_kid).count();
    assert!(with_new_key >= 10, "only {with_new_key} requests carried the new key");
    assert!(outcomes.len() - with_new_key >= 10, "only {} requests before the rotation", outcomes.len() - with_new_key);
    assert_eq!(google.requests_to(CERTS).len(), 2, "one fetch at start and one for the new kid, whatever the traffic");
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.jwks.google.fetched", 2), 2);
    assert_eq!(stack.envoy.counter("wasmcustom.wsgate.reason.unknown_kid"), 0);
    println!("rotation: {} requests, {with_new_key} with the new key, 0 refused", outcomes.len());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn with_the_certs_endpoint_down_at_start_requests_get_503_and_are_served_once_it_is_up() {
    let google = GoogleStandIn::start().unwrap();
    google.set_fault(CERTS, Fault::Status(503));
    let stack = start_with("keys_down_at_start", &google);
    let response = get(stack.port(), "/api", &[("authorization", &bearer(&token(&google, 1)))]).unwrap();
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.json()["error"], "keys_unavailable");
    // When the next fetch is due: the backoff's first steps (1, 2 s) while Envoy starts.
    let retry_after: u64 = response.header("retry-after").expect("a Retry-After").parse().unwrap();
    assert!((1..=4).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(get(stack.port(), "/healthz", &[]).unwrap().status, 200, "public paths need no keys");
    assert!(stack.envoy.counter_reaching("wasmcustom.wsgate.jwks.google.failed", 1) >= 1);
    assert!(stack.envoy.log().contains("fetching keys for provider `google` from cluster `google_certs` failed: HTTP 503"));

    google.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 2;
    let status = loop {
        let status = get(stack.port(), "/api", &[("authorization", &bearer(&token(&google, n)))]).unwrap().status;
        n += 1;
        if status == 200 || Instant::now() > deadline {
            break status;
        }
        assert_eq!(status, 503, "only the configured answer while the keys are missing");
        thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(status, 200, "served once the endpoint is up (backoff retries)");
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.jwks.google.fetched", 1), 1);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_hung_certs_endpoint_holds_requests_no_longer_than_the_fetch_timeout() {
    let google = GoogleStandIn::start().unwrap();
    google.set_fault(CERTS, Fault::Hang);
    let mut config = config();
    config["providers"][0]["remote_jwks"]["timeout_ms"] = json!(1000);
    let mut options = options("keys_hung", config);
    options.extra_clusters = http_cluster("google_certs", google.port);
    let stack = Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let response = get(stack.port(), "/api", &[("authorization", &bearer(&token(&google, 1)))]).unwrap();
    assert_eq!(response.status, 503, "{response:?}");
    assert!(started.elapsed() < Duration::from_millis(3500), "held {:?}", started.elapsed());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn two_envoy_workers_share_one_fetch() {
    let google = GoogleStandIn::start().unwrap();
    let mut options = options("keys_two_workers", config());
    options.extra_clusters = http_cluster("google_certs", google.port);
    options.workers = 2;
    let stack = Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"));
    let port = stack.port();
    // Each request on a new connection; the kernel spreads connections over both workers.
    let statuses: Vec<u16> = (0..24u64)
        .map(|n| {
            let token = token(&google, n);
            thread::spawn(move || get(port, "/api", &[("authorization", &bearer(&token))]).unwrap().status)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|client| client.join().unwrap())
        .collect();
    assert_eq!(statuses, [200; 24]);
    let stats = stack.envoy.stats(".downstream_cx_total").unwrap();
    let per_worker: Vec<u64> = (0..2)
        .map(|w| {
            let name = format!("worker_{w}.downstream_cx_total: ");
            stats.lines().filter(|l| l.starts_with("listener.127.0.0.1_") && l.contains(&name)).filter_map(|l| l.rsplit(" ").next()?.parse::<u64>().ok()).sum()
        })
        .collect();
    assert!(per_worker.iter().all(|&n| n > 0), "both workers served requests: {per_worker:?}\n{stats}");
    assert_eq!(google.requests_to(CERTS).len(), 1, "one fetch for both workers' VMs");
    println!("two workers: connections per worker {per_worker:?}, certs fetched once");
}
