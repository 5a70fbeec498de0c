//! The adversarial corpus without Envoy: every case whose answer does not depend on
//! Envoy's own handling (`Case::needs_envoy`) through the real .wasm in the wasmtime
//! harness and through the core natively, with the same expected answers as
//! `e2e_adversarial`. Run with `make harness`.

mod support;

use serde_json::Value;
use support::wasm::harness;
use wsgate_host_tests::attack::{Case, Expect, corpus, plugin_config};
use wsgate_harness::replay::executor::{Executor, NativeExecutor, WasmExecutor};
use wsgate_harness::replay::outcome::Outcome;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Why `outcome` is not what `case` expects, if it is not.
fn mismatch(case: &Case, outcome: &Outcome) -> Option<String> {
    let error = serde_json::from_str::<Value>(&outcome.body).ok().and_then(|b| b["error"].as_str().map(str::to_owned));
    match (&case.expect, &outcome.upstream_headers) {
        (Expect::Forwarded(email), Some(headers)) => {
            let seen = headers.iter().find(|(n, _)| n == "x-workspace-email").map(|(_, v)| v.as_str());
            let forged: Vec<&String> = headers.iter().filter(|(_, v)| v.contains("forged")).map(|(n, _)| n).collect();
            (seen != *email || !forged.is_empty()).then(|| format!("forwarded with email {seen:?} (expected {email:?}), forged headers {forged:?}"))
        }
        (Expect::Forwarded(_), None) => Some(format!("expected to be forwarded; got {} {error:?}", outcome.status)),
        (Expect::Refused(status, reason), None) => {
            (outcome.status != *status || error.as_deref() != Some(reason)).then(|| format!("expected {status} {reason}; got {} {error:?}", outcome.status))
        }
        (expect, _) => Some(format!("FORWARDED; expected {expect:?}")),
    }
}

fn run(name: &str, executor: &mut dyn Executor) {
    let now = now();
    let cases: Vec<Case> = corpus::cases(now).into_iter().filter(|c| !c.needs_envoy()).collect();
    assert!(cases.len() >= 150, "{} cases run without Envoy", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let outcome = executor.send(&case.as_filter_sees_it(), (200, &[]), now).unwrap();
            mismatch(case, &outcome).map(|why| format!("[{}] {}: {why}", case.class.name(), case.name))
        })
        .collect();
    println!("{name}: {} cases", cases.len());
    assert!(failures.is_empty(), "{name}: {} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_wasm_gives_every_case_of_the_corpus_its_expected_answer() {
    let config = plugin_config().to_string();
    let mut wasm = WasmExecutor::new(harness(), config.as_bytes(), now()).unwrap();
    run("wasm", &mut wasm);
}

#[test]
fn the_core_gives_every_case_of_the_corpus_its_expected_answer() {
    let mut native = NativeExecutor::new(plugin_config().to_string().as_bytes()).unwrap();
    run("native", &mut native);
}
