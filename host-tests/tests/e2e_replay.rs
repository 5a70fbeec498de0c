//! The fixture cases through real Envoy, and parity: traffic recorded by Envoy's tap
//! filter, replayed through the harness with the same .wasm and config, must get the
//! very same answers. Run with `make e2e`.

mod support;

use std::path::PathBuf;
use std::time::Duration;
use support::envoy_executor::EnvoyExecutor;
use support::*;
use wsgate_harness::Harness;
use wsgate_harness::replay::executor::WasmExecutor;
use wsgate_harness::replay::{self, report};
use wsgate_host_tests::envoy::tap_filter;
use wsgate_host_tests::http::{get, request};
use wsgate_host_tests::stack::Stack;

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn the_envoy_subset_of_the_fixture_cases_passes_through_real_envoy() {
    let stack = start("replay_cases", case_config());
    // Envoy keeps real time: the cases run now, not at their recorded time.
    let mut cases: Vec<_> = replay::load(&[cases_dir().join("traffic")]).unwrap().into_iter().filter(|c| c.case.envoy).collect();
    assert!(cases.len() >= 8, "{}", cases.len());
    for case in &mut cases {
        case.time = None;
    }
    let results = replay::run(&mut EnvoyExecutor::new(&stack), &cases, Some(&case_key()), Some(now()), |_| {});
    assert_eq!(report::passed(&results), results.len(), "{}", report::text(&results));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn traffic_tapped_from_real_envoy_replays_identically_through_the_harness() {
    let taps = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e").join("taps");
    let _ = std::fs::remove_dir_all(&taps);
    std::fs::create_dir_all(&taps).unwrap();
    let mut options = options("parity", case_config());
    options.extra_http_filters = tap_filter(&taps.join("trace"));
    let stack = Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"));

    send_mixed_traffic(&stack);
    let traces = wait_for_traces(&taps, 9);
    assert_eq!(traces, 9, "one tap trace per request");

    let harness = Harness::load(&PathBuf::from(std::env::var("WSGATE_WASM").unwrap())).unwrap();
    let config = serde_json::to_vec(&case_config()).unwrap();
    let mut executor = WasmExecutor::new(&harness, &config, now()).unwrap();
    let cases = replay::load(&[taps]).unwrap();
    let results = replay::run(&mut executor, &cases, None, Some(now()), |_| {});
    assert_eq!(report::passed(&results), results.len(), "the harness disagrees with real Envoy:\n{}", report::text(&results));
}

/// Allowed, no token, bad token, wrong group, public path, spoofed identity, dry-run.
fn send_mixed_traffic(stack: &Stack) {
    let key = case_key();
    let now = now();
    let mint = |email: &str, groups: &[&str]| {
        let spec: replay::case::TokenSpec = serde_json::from_value(serde_json::json!({"email": email, "groups": groups})).unwrap();
        spec.mint(&key, now).unwrap()
    };
    let auth = |token: &str| format!("Bearer {token}");
    let (alice, carol, cat) = (mint("alice@example.com", &[]), mint("carol@example.com", &[]), mint("cat@example.com", &["contractors@example.com"]));
    let port = stack.port();
    let responses = [
        get(port, "/app", &[("authorization", &auth(&alice))]).unwrap().status,
        get(port, "/eng/build", &[("authorization", &auth(&alice))]).unwrap().status,
        get(port, "/app", &[]).unwrap().status,
        get(port, "/app", &[("authorization", "Bearer not.a.jwt")]).unwrap().status,
        get(port, "/eng", &[("authorization", &auth(&carol))]).unwrap().status,
        get(port, "/eng", &[("authorization", &auth(&cat))]).unwrap().status,
        get(port, "/healthz", &[("x-workspace-email", "ceo@example.com")]).unwrap().status,
        get(port, "/app", &[("authorization", &auth(&alice)), ("x-workspace-email", "ceo@example.com")]).unwrap().status,
        request(port, "POST", "/eng/deploy", &[("authorization", &auth(&alice))]).unwrap().status,
    ];
    assert_eq!(responses, [200, 200, 401, 401, 403, 403, 200, 200, 200]);
}

fn wait_for_traces(dir: &PathBuf, expected: usize) -> usize {
    let count = || std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    for _ in 0..100 {
        if count() >= expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    count()
}
