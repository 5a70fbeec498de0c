//! The outbound engine fetching remote keys, natively: one VM fetches for all through
//! the shared record, requests refused for want of keys pause until the fetch ends,
//! failures back off with the one rule, and a call that cannot be made is a failure,
//! not a hang. The same behaviour runs through the .wasm in `harness_keys` and
//! through Envoy in `e2e_keys`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::mint::{TestKeys, jwks};
use wsgate_core::outbound::shared::MemoryRecords;
use wsgate_core::outbound::{Answer, Effect, KeyWait, Level, Metric, Outbound, OutboundCall, Paused, WaitingFor};
use wsgate_core::{Gate, Reason, RequestSnapshot};

const ROOT: u32 = 1;
const T0: u64 = NOW * 1000;

/// One VM: its gate and its engine, sharing records with the other VMs.
struct Vm {
    gate: Gate,
    engine: Outbound,
}

/// What a VM's engine asked for, carried out as Envoy would: every call starts.
#[derive(Default, Debug)]
struct Carried {
    calls: Vec<(u32, OutboundCall)>,
    logs: Vec<(Level, String)>,
    counts: Vec<(Metric, u64)>,
}

impl Vm {
    fn new(changes: Value) -> Self {
        let gate = remote_keys_gate(changes);
        let engine = Outbound::new(&gate);
        Self { gate, engine }
    }

    /// Carries the effects out; calls get tokens from 100 on (or fail, if `refuse`).
    fn carry(&mut self, store: &mut MemoryRecords, now: u64, refuse: bool) -> Carried {
        let mut carried = Carried::default();
        while let Some(effect) = self.engine.next_effect() {
            match effect {
                Effect::Call(call) if refuse => self.engine.call_not_started(&mut self.gate, store, call.id, "BadArgument (2)", now),
                Effect::Call(call) => {
                    let token = 100 + call.id as u32;
                    self.engine.call_started(call.id, token);
                    carried.calls.push((token, call));
                }
                Effect::Log(level, line) => carried.logs.push((level, line)),
                Effect::Count(metric, n) | Effect::Record(metric, n) => carried.counts.push((metric, n)),
            }
        }
        carried
    }

    fn tick(&mut self, store: &mut MemoryRecords, now: u64) -> Carried {
        self.engine.tick(&mut self.gate, store, now, ROOT);
        self.carry(store, now, false)
    }

    fn answer(&mut self, store: &mut MemoryRecords, token: u32, answer: Answer, now: u64) -> Carried {
        self.engine.answered(&mut self.gate, store, token, &answer, now, ROOT);
        self.carry(store, now, false)
    }

    fn decide(&mut self, now: u64) -> Reason {
        self.gate.decide(&alice(), now).reason
    }
}

fn alice() -> RequestSnapshot {
    RequestSnapshot::new("GET", "api.example.com", "/reports").with_header("authorization", format!("Bearer {}", rsa_token(&google_claims())))
}

fn certs(max_age: u64) -> Answer {
    let body = jwks(&[&TestKeys::shared().rsa]).to_string();
    Answer::new(200, &[("cache-control", &format!("public, max-age={max_age}"))], body.as_bytes())
}

#[test]
fn the_first_tick_fetches_the_keys_once_for_every_vm() {
    let mut store = MemoryRecords::default();
    let (mut first, mut second) = (Vm::new(json!({})), Vm::new(json!({})));
    let carried = first.tick(&mut store, T0);
    assert_eq!(carried.calls.len(), 1);
    let (token, call) = &carried.calls[0];
    assert_eq!((call.cluster.as_str(), call.header(":path"), call.header(":authority")), ("google", Some("/oauth2/v3/certs"), Some("www.googleapis.com")));
    assert!(second.tick(&mut store, T0 + 10).calls.is_empty(), "the other VM sees the claim and waits");

    let carried = first.answer(&mut store, *token, certs(21_600), T0 + 50);
    assert!(carried.counts.contains(&(Metric::JwksFetched(0), 1)));
    assert_eq!(first.decide(T0 + 60), Reason::Allowed);
    assert_eq!(second.decide(T0 + 60), Reason::KeysUnavailable, "installed on its next tick, not before");
    second.tick(&mut store, T0 + 1100);
    assert_eq!(second.decide(T0 + 1100), Reason::Allowed, "installed from the shared record without a fetch of its own");
}

#[test]
fn a_request_refused_for_want_of_keys_pauses_until_the_fetch_ends() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({"wait_for_keys_ms": 3000}));
    let verdict = vm.gate.decide(&alice(), T0);
    assert_eq!((verdict.reason, verdict.awaiting_keys), (Reason::KeysUnavailable, Some(0)));
    let wait = vm.engine.keys_missing(&mut vm.gate, &mut store, 0, false, T0);
    assert_eq!(wait, KeyWait::PauseUntil(T0 + 3000));
    vm.engine.pause(Paused { context_id: 7, waiting_for: WaitingFor::Keys(0), deadline: T0 + 3000 });
    assert!(vm.engine.take_ready(T0 + 50).is_empty());

    let carried = vm.tick(&mut store, T0 + 100);
    assert_eq!(carried.calls.len(), 1, "the root makes the call the request claimed");
    vm.answer(&mut store, carried.calls[0].0, certs(600), T0 + 200);
    let ready = vm.engine.take_ready(T0 + 200);
    assert_eq!(ready.iter().map(|p| p.context_id).collect::<Vec<_>>(), [7]);
    assert!(ready[0].may_wait(T0 + 200));
    assert_eq!(vm.decide(T0 + 200), Reason::Allowed);
}

#[test]
fn a_paused_request_is_decided_at_its_deadline_if_no_fetch_ends() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({"wait_for_keys_ms": 3000}));
    vm.engine.keys_missing(&mut vm.gate, &mut store, 0, false, T0);
    vm.engine.pause(Paused { context_id: 7, waiting_for: WaitingFor::Keys(0), deadline: T0 + 3000 });
    vm.tick(&mut store, T0 + 100);
    assert!(vm.engine.take_ready(T0 + 2999).is_empty());
    let ready = vm.engine.take_ready(T0 + 3000);
    assert_eq!(ready.len(), 1);
    assert!(!ready[0].may_wait(T0 + 3000));
}

#[test]
fn failed_fetches_keep_no_keys_and_retry_after_one_then_two_seconds() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({}));
    let token = vm.tick(&mut store, T0).calls[0].0;
    let carried = vm.answer(&mut store, token, Answer::new(500, &[], b"oops"), T0 + 10);
    assert!(carried.counts.contains(&(Metric::JwksFailed(0), 1)));
    let warning = &carried.logs[0];
    assert_eq!(warning.0, Level::Warn);
    assert!(warning.1.contains("fetching keys for provider `google` from cluster `google` failed: HTTP 500; no usable keys, retrying in 1000 ms"), "{warning:?}");
    // The shared keys are checked once a second, so a retry starts at the first
    // check after it is due.
    assert!(vm.tick(&mut store, T0 + 1000).calls.is_empty(), "backing off until T0 + 1010");
    let token = vm.tick(&mut store, T0 + 2000).calls[0].0;
    let carried = vm.answer(&mut store, token, Answer::none(), T0 + 2010);
    assert!(carried.logs[0].1.contains("no response (timeout, reset or connection failure)"), "{:?}", carried.logs);
    assert!(carried.logs[0].1.contains("retrying in 2000 ms"), "{:?}", carried.logs);
    assert!(vm.tick(&mut store, T0 + 3000).calls.is_empty());
    assert!(vm.tick(&mut store, T0 + 4000).calls.is_empty(), "then two seconds, until T0 + 4010");
    assert_eq!(vm.tick(&mut store, T0 + 5000).calls.len(), 1);
}

#[test]
fn a_document_that_is_not_a_usable_jwks_never_replaces_the_keys() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({}));
    let token = vm.tick(&mut store, T0).calls[0].0;
    vm.answer(&mut store, token, certs(600), T0 + 10);
    assert_eq!(vm.decide(T0 + 20), Reason::Allowed);

    let token = vm.tick(&mut store, T0 + 541_000).calls[0].0;
    let carried = vm.answer(&mut store, token, Answer::new(200, &[], br#"{"keys": "nope"}"#), T0 + 541_010);
    assert!(carried.logs[0].1.contains("keeping the last good keys"), "{:?}", carried.logs);
    assert_eq!(vm.decide(T0 + 541_020), Reason::Allowed);

    let token = vm.tick(&mut store, T0 + 543_000).calls[0].0;
    let huge = Answer { body_size: 300 * 1024, ..Answer::new(200, &[], b"") };
    let carried = vm.answer(&mut store, token, huge, T0 + 543_010);
    assert!(carried.logs[0].1.contains("the response is 307200 bytes, more than 262144"), "{:?}", carried.logs);
}

#[test]
fn a_call_that_cannot_be_made_is_a_failed_fetch_and_wakes_its_requests() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({"cluster": "typo"}));
    vm.engine.keys_missing(&mut vm.gate, &mut store, 0, false, T0);
    vm.engine.pause(Paused { context_id: 7, waiting_for: WaitingFor::Keys(0), deadline: T0 + 3000 });
    vm.engine.tick(&mut vm.gate, &mut store, T0 + 100, ROOT);
    let carried = vm.carry(&mut store, T0 + 100, true);
    let (level, line) = carried.logs.last().unwrap();
    assert_eq!(*level, Level::Error);
    assert!(line.contains("cannot call cluster `typo` for provider `google`'s keys (BadArgument (2)): is it defined in Envoy's clusters?"), "{line}");
    assert!(carried.counts.contains(&(Metric::JwksFailed(0), 1)));
    assert_eq!(vm.engine.take_ready(T0 + 100).len(), 1, "nobody waits for a call that was never made");
    assert!(vm.tick(&mut store, T0 + 1099).calls.is_empty(), "and it backs off like any failure");
}

#[test]
fn an_unknown_kid_forces_one_refresh_and_then_is_rate_limited() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({"unknown_kid_refresh_seconds": 30}));
    let token = vm.tick(&mut store, T0).calls[0].0;
    vm.answer(&mut store, token, certs(21_600), T0 + 10);
    assert!(matches!(vm.engine.keys_missing(&mut vm.gate, &mut store, 0, true, T0 + 100), KeyWait::PauseUntil(_)));
    let token = vm.tick(&mut store, T0 + 200).calls[0].0;
    vm.answer(&mut store, token, certs(21_600), T0 + 300);
    assert_eq!(vm.engine.keys_missing(&mut vm.gate, &mut store, 0, true, T0 + 400), KeyWait::AnswerNow, "within 30 s of the last forced refresh");
    assert!(vm.tick(&mut store, T0 + 500).calls.is_empty());
}

#[test]
fn a_store_that_refuses_writes_claims_nothing_and_pauses_nobody() {
    let mut store = MemoryRecords::refusing();
    let mut vm = Vm::new(json!({"wait_for_keys_ms": 3000}));
    assert_eq!(vm.engine.keys_missing(&mut vm.gate, &mut store, 0, false, T0), KeyWait::AnswerNow);
    assert!(vm.tick(&mut store, T0 + 100).calls.is_empty(), "a fetch nobody could claim is not made");
}

#[test]
fn the_key_age_is_reported_once_a_second() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({}));
    let token = vm.tick(&mut store, T0).calls[0].0;
    vm.answer(&mut store, token, certs(21_600), T0 + 10);
    let carried = vm.tick(&mut store, T0 + 5010);
    assert!(carried.counts.contains(&(Metric::JwksAgeSeconds(0), 5)), "{:?}", carried.counts);
    assert!(!vm.tick(&mut store, T0 + 5500).counts.iter().any(|(m, _)| *m == Metric::JwksAgeSeconds(0)));
}

#[test]
fn a_503_tells_the_client_when_the_keys_are_next_fetched() {
    let mut store = MemoryRecords::default();
    let mut vm = Vm::new(json!({"max_retry_seconds": 60}));
    let mut now = T0;
    for _ in 0..3 {
        let token = vm.tick(&mut store, now).calls[0].0;
        vm.answer(&mut store, token, Answer::new(503, &[], b""), now);
        now += 10_000;
    }
    // Third failure at T0 + 20 s: the next fetch is 4 s after it.
    let verdict = vm.gate.decide(&alice(), T0 + 20_500);
    let wsgate_core::Action::Respond(response) = verdict.action else { panic!("forwarded") };
    assert_eq!(response.status, 503);
    let retry_after = response.headers.iter().find(|(n, _)| n == "retry-after").map(|(_, v)| v.as_str());
    assert_eq!(retry_after, Some("4"), "3.5 s, rounded up");
}
