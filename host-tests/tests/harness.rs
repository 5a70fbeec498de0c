//! The wasmtime harness with the real wsgate.wasm: it provides every import, runs
//! the fixture cases exactly as the core does natively, and fails when it should.
//! Run with `make harness` (needs the built .wasm in `WSGATE_WASM`).

mod support;

use serde_json::{Value, json};
use std::path::PathBuf;
use support::wasm::harness;
use support::{case_config, case_key, cases_dir};
use wsgate_harness::abi::{DELIBERATELY_UNIMPLEMENTED, IMPLEMENTED};
use wsgate_harness::plugin::HttpRequest;
use wsgate_harness::replay::executor::{Executor, NativeExecutor, WasmExecutor};
use wsgate_harness::replay::{self, Loaded, report};

fn config() -> Vec<u8> {
    serde_json::to_vec(&case_config()).unwrap()
}

fn fixture_cases() -> Vec<Loaded> {
    replay::load(&[cases_dir().join("traffic")]).unwrap()
}

fn wasm_executor() -> WasmExecutor {
    WasmExecutor::new(harness(), &config(), replay::case::DEFAULT_TIME).unwrap()
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn every_import_of_the_plugin_is_implemented_by_the_harness() {
    let missing: Vec<String> = harness()
        .imports()
        .into_iter()
        .filter(|(module, name)| module == "env" && !IMPLEMENTED.contains(&name.as_str()) && !DELIBERATELY_UNIMPLEMENTED.contains(&name.as_str()))
        .map(|(_, name)| name)
        .collect();
    assert!(missing.is_empty(), "the plugin imports host calls the harness does not implement: {missing:?}");
    let modules: Vec<String> = harness().imports().into_iter().map(|(m, _)| m).filter(|m| m != "env" && m != "wasi_snapshot_preview1").collect();
    assert!(modules.is_empty(), "imports from modules no proxy-wasm host provides: {modules:?}");
    let wasi = harness().imports().into_iter().filter(|(m, _)| m == "wasi_snapshot_preview1").count();
    assert!(wasi > 0, "expected WASI imports (clock, random) from a wasip1 build");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_fixture_cases_pass_through_the_wasm() {
    let cases = fixture_cases();
    assert!(cases.len() >= 15, "{}", cases.len());
    let results = replay::run(&mut wasm_executor(), &cases, Some(&case_key()), None, |_| {});
    assert_eq!(report::passed(&results), results.len(), "{}", report::text(&results));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_fixture_cases_pass_natively_through_the_core() {
    let results = replay::run(&mut NativeExecutor::new(&config()).unwrap(), &fixture_cases(), Some(&case_key()), None, |_| {});
    assert_eq!(report::passed(&results), results.len(), "{}", report::text(&results));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_wasm_and_the_core_agree_on_every_case() {
    let key = case_key();
    let mut wasm = wasm_executor();
    let mut native = NativeExecutor::new(&config()).unwrap();
    for loaded in fixture_cases() {
        let now = loaded.time.unwrap_or(replay::case::DEFAULT_TIME);
        let tokens = loaded.tokens.iter().map(|(n, spec)| (n.clone(), spec.mint(&key, now).unwrap())).collect();
        let headers = loaded.case.headers(&tokens).unwrap();
        let upstream: Vec<(String, String)> = loaded.case.upstream.headers.clone().into_iter().collect();
        let from_wasm = wasm.send(&headers, (loaded.case.upstream.status, &upstream), now).unwrap();
        let from_core = native.send(&headers, (loaded.case.upstream.status, &upstream), now).unwrap();
        let sorted = |mut pairs: Vec<(String, String)>| {
            pairs.sort();
            pairs
        };
        assert_eq!(from_wasm.status, from_core.status, "{}", loaded.case.name);
        assert_eq!(from_wasm.body, from_core.body, "{}", loaded.case.name);
        assert_eq!(sorted(from_wasm.response_headers), sorted(from_core.response_headers), "{}", loaded.case.name);
        assert_eq!(from_wasm.upstream_headers.map(sorted), from_core.upstream_headers.map(sorted), "{}", loaded.case.name);
        assert_eq!(from_wasm.logs, from_core.logs, "{}", loaded.case.name);
    }
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_wrong_expectation_fails_with_a_readable_diff() {
    let mut cases = fixture_cases();
    cases.truncate(2);
    cases[1].case.expect.status = Some(418);
    cases[1].case.expect.upstream_headers.insert("x-workspace-email".into(), "mallory@example.com".into());
    let results = replay::run(&mut wasm_executor(), &cases, Some(&case_key()), None, |_| {});
    let text = report::text(&results);
    assert!(text.contains("status: expected \"418\", got \"200\""), "{text}");
    assert!(text.contains("upstream header x-workspace-email: expected \"mallory@example.com\", got \"alice@example.com\""), "{text}");
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_tap_trace_replays_with_its_recorded_response_as_the_expectation() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tap-unit");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = |status: &str, body: &str| {
        json!({"http_buffered_trace": {
            "request": {"headers": [
                {"key": ":authority", "value": "app.example.com"}, {"key": ":path", "value": "/app"},
                {"key": ":method", "value": "GET"}, {"key": "x-request-id", "value": "tap-1"}]},
            "response": {"headers": [{"key": ":status", "value": status}, {"key": "www-authenticate", "value": "Bearer realm=\"wsgate\""}],
                         "body": {"truncated": false, "as_string": body}}
        }})
    };
    std::fs::write(dir.join("good.json"), trace("401", r#"{"error":"missing_token","request_id":"tap-1"}"#).to_string()).unwrap();
    std::fs::write(dir.join("bad.json"), trace("200", "").to_string()).unwrap();
    let cases = replay::load(&[dir]).unwrap();
    let results = replay::run(&mut wasm_executor(), &cases, None, Some(replay::case::DEFAULT_TIME), |_| {});
    let text = report::text(&results);
    assert!(text.contains("FAIL bad") && !text.contains("FAIL good"), "{text}");
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn an_invalid_config_is_refused_by_on_configure_naming_the_field() {
    let mut config: Value = serde_json::from_slice(&config()).unwrap();
    config["providers"][0]["audiences"] = json!([]);
    let error = harness().start(config.to_string().as_bytes(), 0).err().expect("configure must fail");
    assert!(format!("{error:#}").contains("providers[0].audiences: needs at least one audience"), "{error:#}");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn decisions_are_counted_in_the_harness_metrics_and_logs() {
    let request = |path: &str| HttpRequest {
        headers: vec![(":method".into(), "GET".into()), (":path".into(), path.into()), (":authority".into(), "h".into())],
        ..HttpRequest::default()
    };
    let mut plugin = harness().start(&config(), replay::case::DEFAULT_TIME * 1_000_000_000).unwrap();
    assert_eq!(plugin.send(&request("/healthz")).unwrap().status, 200);
    assert_eq!(plugin.send(&request("/app")).unwrap().status, 401);
    assert_eq!(plugin.metric("wsgate.reason.missing_token"), Some(0), "counts within a second wait for the tick");
    plugin.tick().unwrap();
    assert_eq!(plugin.metric("wsgate.requests.allowed"), Some(1));
    assert_eq!(plugin.metric("wsgate.reason.missing_token"), Some(1));
    assert_eq!(plugin.metric("wsgate.rule.health.allow"), Some(1));
    assert!(plugin.unimplemented_calls().is_empty(), "{:?}", plugin.unimplemented_calls());
    assert!(plugin.logs().iter().any(|l| l.message.contains("\"reason\":\"missing_token\"")));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_request_body_is_passed_to_the_plugin_and_forwarded_unchanged() {
    let mut plugin = harness().start(&config(), replay::case::DEFAULT_TIME * 1_000_000_000).unwrap();
    let health = HttpRequest {
        headers: vec![(":method".into(), "POST".into()), (":path".into(), "/healthz".into()), (":authority".into(), "h".into())],
        body: b"{\"probe\":true}".to_vec(),
        ..HttpRequest::default()
    };
    let exchange = plugin.send(&health).unwrap();
    assert_eq!(exchange.status, 200);
    assert_eq!(exchange.upstream_body, b"{\"probe\":true}");
    let refused = HttpRequest { headers: vec![(":method".into(), "POST".into()), (":path".into(), "/app".into()), (":authority".into(), "h".into())], ..health };
    let exchange = plugin.send(&refused).unwrap();
    assert_eq!(exchange.status, 401);
    assert!(exchange.upstream_body.is_empty(), "a refused request's body goes nowhere");
}
