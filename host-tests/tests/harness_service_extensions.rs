//! The .wasm as Google Cloud Service Extensions runs it, in the harness: the
//! `service_extensions` profile, every host call that proxy lacks refused (outbound
//! calls, timers, shared data, custom metrics, filter state), linear memory capped at
//! 16 MiB, serving the recorded fixture traffic (`host-tests/cases`) and mixed
//! generated traffic with cache misses; the per-callback time of the request hooks
//! reported against the 1 ms budget. Run with `make harness`.

mod support;

use serde_json::json;
use std::time::Duration;
use support::wasm::{T0, bearer_request, harness};
use wsgate_core::mint::TestKeys;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::{AUDIENCE, IAP_AUDIENCE, google_and_iap};
use wsgate_harness::plugin::HttpRequest;
use wsgate_harness::replay::{self, executor::WasmExecutor};
use wsgate_harness::status::Status;

/// What Service Extensions does not offer a plugin (its documented limits).
const REFUSED: [&str; 8] = [
    "proxy_http_call",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_set_property",
];
const MEMORY_BYTES: usize = 16 << 20;

fn config() -> serde_json::Value {
    let policy = json!({
        "rules": [
            {"name": "health", "match": {"paths": [{"prefix": "/healthz"}]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "eng", "match": {"paths": [{"prefix": "/eng"}]}, "effect": "allow", "subjects": {"groups": ["eng@example.com"]}},
            {"name": "staff", "match": {"paths": [{"prefix": "/reports"}]}, "effect": "allow", "subjects": {"domains": ["example.com"]}}
        ],
        "directory": {"eng@example.com": ["user0@example.com", "user1@example.com"]}
    });
    let mut config = google_and_iap(&TestKeys::shared().jwks(), policy);
    config["profile"] = json!("service_extensions");
    config["token_cache_bytes"] = json!(1 << 20);
    config
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50, p99 and max of `times`, as the report prints them.
fn distribution(times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    format!("p50 {:?}, p99 {:?}, max {:?}", percentile(&sorted, 0.5), percentile(&sorted, 0.99), sorted.last().copied().unwrap_or_default())
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_recorded_fixture_traffic_replays_the_same_under_the_profile() {
    let mut config = support::case_config();
    config["profile"] = json!("service_extensions");
    let config = serde_json::to_vec(&config).unwrap();
    let cases = replay::load(&[support::cases_dir().join("traffic")]).unwrap();
    let plugin = harness().start_restricted(&config, T0 * 1_000_000_000, &REFUSED, Status::Unimplemented, MEMORY_BYTES).unwrap();
    let mut executor = WasmExecutor::on(plugin);
    let results = replay::run(&mut executor, &cases, Some(&support::case_key()), None, |_| {});
    let failed: Vec<String> = results.iter().filter(|r| !r.differences.is_empty()).map(|r| format!("{}: {:?}", r.name, r.differences)).collect();
    assert!(failed.is_empty(), "cases that differ under the profile:\n{}", failed.join("\n"));
    assert!(results.len() >= 19, "the fixture traffic: {} cases", results.len());
    for import in REFUSED {
        assert_eq!(executor.plugin().failed_calls(import), 0, "the profile never asks for {import}");
    }
    println!("service_extensions: the recorded fixture traffic, {} cases, all as recorded; request hooks per request: {}", results.len(), distribution(executor.hook_times()));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_profile_serves_mixed_traffic_within_the_limits_and_never_asks_for_a_missing_host_call() {
    let config = serde_json::to_vec(&config()).unwrap();
    let mut plugin = harness().start_restricted(&config, T0 * 1_000_000_000, &REFUSED, Status::Unimplemented, MEMORY_BYTES).unwrap();
    let keys = TestKeys::shared();
    let token = |user: usize| keys.rsa.sign(&GoogleClaims::id_token(&format!("user{user}@example.com"), AUDIENCE, T0).issued_ago(10).build()).unwrap();
    let warm: Vec<String> = (0..50).map(token).collect();
    let iap = keys.ec.sign(&GoogleClaims::iap_assertion("user2@example.com", IAP_AUDIENCE, T0).issued_ago(5).build()).unwrap();
    let mut times = Vec::new();
    let (mut misses, mut allowed, mut refused) = (0, 0, 0);
    for i in 0..3000usize {
        let (request, expected): (HttpRequest, u16) = match i % 20 {
            // A new user: a signature to verify (cache miss).
            0..=3 => {
                misses += 1;
                (bearer_request("GET", "/reports", &token(1000 + i)), 200)
            }
            4 => (bearer_request("GET", "/eng", &warm[5]), 403),
            5 => (bearer_request("GET", "/eng", &warm[0]), 200),
            6 => {
                let mut request = bearer_request("GET", "/reports", "x");
                request.headers.retain(|(n, _)| n != "authorization");
                request.headers.push(("x-goog-iap-jwt-assertion".into(), iap.clone()));
                (request, 200)
            }
            7 => {
                let mut request = bearer_request("GET", "/healthz", "x");
                request.headers.retain(|(n, _)| n != "authorization");
                (request, 200)
            }
            8 => (bearer_request("GET", "/reports", "not-a-token"), 401),
            _ => (bearer_request("GET", "/reports", &warm[i % warm.len()]), 200),
        };
        let exchange = plugin.send(&request).unwrap();
        assert_eq!(exchange.status, expected, "request {i}: {:?}", exchange.local_reply);
        if expected == 200 { allowed += 1 } else { refused += 1 }
        times.push(exchange.request_hooks);
    }
    for import in REFUSED {
        assert_eq!(plugin.failed_calls(import), 0, "the profile never asks for {import}");
    }
    println!(
        "service_extensions: {} requests ({allowed} allowed, {refused} refused, {misses} cache misses), 16 MiB memory cap, {} host calls refused;\n  request hooks per request (wasmtime, this machine): {}; budget 1 ms per callback",
        times.len(),
        REFUSED.len(),
        distribution(&times)
    );
}
