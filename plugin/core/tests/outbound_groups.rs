//! The outbound engine making live group lookups, natively: the metadata server's
//! access token, Cloud Identity's group name, then the membership question, each
//! from the context that needs it; refused tokens replaced; calls that cannot be made
//! or whose context ends. The same behaviour runs through the .wasm in
//! `harness_groups` and through Envoy in `e2e_groups`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::outbound::shared::MemoryRecords;
use wsgate_core::outbound::{Answer, Effect, Level, Metric, Outbound, OutboundCall, Paused, WaitingFor};
use wsgate_core::{Gate, Reason, RequestSnapshot};

const ROOT: u32 = 1;
const REQUEST: u32 = 7;
const T0: u64 = NOW * 1000;
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

struct Vm {
    gate: Gate,
    engine: Outbound,
    store: MemoryRecords,
    /// The calls started, by token: (context, call).
    calls: Vec<(u32, u32, OutboundCall)>,
    logs: Vec<(Level, String)>,
    counts: Vec<(Metric, u64)>,
    next_token: u32,
}

impl Vm {
    fn new(changes: Value) -> Self {
        let rules = json!([{"name": "admins", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}}]);
        let gate = live_groups_gate(changes, rules);
        let engine = Outbound::new(&gate);
        Self { gate, engine, store: MemoryRecords::default(), calls: Vec::new(), logs: Vec::new(), counts: Vec::new(), next_token: 100 }
    }

    /// Carries the effects out from `context`; with `refuse`, no call starts.
    fn carry(&mut self, context: u32, now: u64, refuse: bool) {
        while let Some(effect) = self.engine.next_effect() {
            match effect {
                Effect::Call(call) if refuse => self.engine.call_not_started(&mut self.gate, &mut self.store, call.id, "BadArgument (2)", now),
                Effect::Call(call) => {
                    self.next_token += 1;
                    self.engine.call_started(call.id, self.next_token);
                    self.calls.push((self.next_token, context, call));
                }
                Effect::Log(level, line) => self.logs.push((level, line)),
                Effect::Count(metric, n) | Effect::Record(metric, n) => self.counts.push((metric, n)),
            }
        }
    }

    /// Alice asks for /admin from `REQUEST`: the gate's verdict, and the lookups it
    /// asked for started from that context. True if paused.
    fn request(&mut self, now: u64, refuse: bool) -> (Reason, bool) {
        let verdict = self.gate.decide(&admin(), now);
        let failed_before = self.engine.lookups_failed_on_the_spot();
        self.engine.start_group_lookups(&mut self.gate, now, REQUEST);
        self.carry(REQUEST, now, refuse);
        let settled = self.engine.lookups_failed_on_the_spot() != failed_before;
        if verdict.awaiting_groups && !settled {
            self.engine.pause(Paused { context_id: REQUEST, waiting_for: WaitingFor::Groups, deadline: now + 3000 });
        }
        (verdict.reason, verdict.awaiting_groups && !settled)
    }

    /// Answers the call made to `path` (its first open one) with `answer`.
    fn answer(&mut self, path_prefix: &str, answer: Answer, now: u64) -> u32 {
        let index = self.calls.iter().position(|(_, _, call)| call.header(":path").unwrap().starts_with(path_prefix)).unwrap_or_else(|| panic!("no call to {path_prefix}: {:?}", self.calls));
        let (token, context, _) = self.calls.remove(index);
        self.engine.answered(&mut self.gate, &mut self.store, token, &answer, now, context);
        self.carry(context, now, false);
        context
    }

    /// The root's tick, its effects carried out from the root.
    fn tick(&mut self, now: u64) {
        self.engine.tick(&mut self.gate, &mut self.store, now, ROOT);
        self.carry(ROOT, now, false);
    }

    fn paths(&self) -> Vec<String> {
        self.calls.iter().map(|(_, _, call)| call.header(":path").unwrap().split('?').next().unwrap().to_owned()).collect()
    }
}

fn admin() -> RequestSnapshot {
    RequestSnapshot::new("GET", "api.example.com", "/admin").with_header("authorization", format!("Bearer {}", rsa_token(&google_claims())))
}

fn token_answer(expires_in: u64) -> Answer {
    Answer::new(200, &[], json!({"access_token": "ya29.first", "expires_in": expires_in, "token_type": "Bearer"}).to_string().as_bytes())
}

fn name_answer() -> Answer {
    Answer::new(200, &[], br#"{"name": "groups/admins01"}"#)
}

fn member_answer(member: bool) -> Answer {
    Answer::new(200, &[], json!({"hasMembership": member}).to_string().as_bytes())
}

#[test]
fn token_then_group_name_then_membership_and_the_paused_request_is_decided() {
    let mut vm = Vm::new(json!({}));
    assert_eq!(vm.request(T0, false), (Reason::GroupsUnavailable, true));
    assert_eq!(vm.paths(), [TOKEN_PATH]);
    let token_call = &vm.calls[0].2;
    assert_eq!((token_call.cluster.as_str(), token_call.header("metadata-flavor")), ("metadata", Some("Google")));

    vm.answer(TOKEN_PATH, token_answer(3600), T0 + 10);
    assert_eq!(vm.paths(), ["/v1/groups:lookup"], "the group's resource name next, from the same context");
    assert_eq!(vm.calls[0].1, REQUEST);
    assert_eq!(vm.calls[0].2.header("authorization"), Some("Bearer ya29.first"));

    vm.answer("/v1/groups:lookup", name_answer(), T0 + 20);
    assert_eq!(vm.paths(), ["/v1/groups/admins01/memberships:checkTransitiveMembership"]);
    assert!(vm.engine.take_ready(T0 + 20).is_empty(), "nothing settled yet");

    vm.answer("/v1/groups/admins01", member_answer(true), T0 + 45);
    assert!(vm.counts.contains(&(Metric::GroupLookupMs, 25)));
    let ready = vm.engine.take_ready(T0 + 45);
    assert_eq!(ready.iter().map(|p| p.context_id).collect::<Vec<_>>(), [REQUEST]);
    assert_eq!(vm.gate.decide(&admin(), T0 + 45).reason, Reason::Allowed);
}

#[test]
fn a_refused_access_token_is_dropped_and_the_next_lookup_fetches_a_new_one() {
    let mut vm = Vm::new(json!({"backend": "admin_sdk"}));
    vm.request(T0, false);
    vm.answer(TOKEN_PATH, token_answer(3600), T0 + 10);
    assert_eq!(vm.paths(), ["/admin/directory/v1/groups/admins%40example.com/hasMember/alice%40example.com"], "the Admin SDK asks by email");
    vm.answer("/admin/directory", Answer::new(401, &[], b"{}"), T0 + 20);
    assert!(vm.logs.iter().any(|(_, l)| l.contains("HTTP 401: the access token was refused")), "{:?}", vm.logs);
    assert!(vm.engine.take_ready(T0 + 20).len() == 1, "the failed lookup settles its request");

    // The failure backs off one second; then the next request's lookup needs a token.
    vm.request(T0 + 1020, false);
    assert_eq!(vm.paths(), [TOKEN_PATH], "a new token before asking again");
}

#[test]
fn the_token_is_refreshed_by_the_root_before_it_expires_without_a_request() {
    let mut vm = Vm::new(json!({"backend": "admin_sdk"}));
    vm.request(T0, false);
    vm.answer(TOKEN_PATH, token_answer(600), T0);
    vm.answer("/admin/directory", Answer::new(200, &[], br#"{"isMember": true}"#), T0 + 10);
    vm.tick(T0 + 299_999);
    assert!(vm.paths().is_empty());
    vm.tick(T0 + 300_000);
    assert_eq!(vm.paths(), [TOKEN_PATH], "at half a ten-minute token's life");
    assert_eq!(vm.calls[0].1, ROOT);
}

#[test]
fn a_metadata_server_that_cannot_be_called_fails_the_lookup_at_once() {
    let mut vm = Vm::new(json!({"access_token": {"cluster": "no_metadata"}}));
    let (reason, paused) = vm.request(T0, true);
    assert_eq!(reason, Reason::GroupsUnavailable);
    assert!(!paused, "settled on the spot: decided with what there is");
    assert!(vm.logs.iter().any(|(_, l)| l.contains("cannot call cluster `no_metadata` for group lookups (BadArgument (2))")), "{:?}", vm.logs);
    assert_eq!(vm.gate.decide_now(&admin(), T0).reason, Reason::GroupsUnavailable);
    assert_eq!(vm.gate.group_stats().failures, 1);
}

#[test]
fn lookups_of_a_request_that_ends_are_made_again_by_the_root() {
    let mut vm = Vm::new(json!({"backend": "admin_sdk"}));
    vm.request(T0, false);
    vm.answer(TOKEN_PATH, token_answer(3600), T0 + 10);
    assert_eq!(vm.calls.len(), 1);
    // The client goes away: Envoy cancels its call.
    vm.calls.clear();
    vm.engine.context_done(REQUEST);
    assert!(vm.engine.take_ready(T0 + 20).is_empty(), "no longer paused");
    vm.tick(T0 + 100);
    assert_eq!(vm.calls.len(), 1, "asked again");
    assert_eq!(vm.calls[0].1, ROOT, "from the root, whose answer cannot be cancelled");
    vm.answer("/admin/directory", Answer::new(200, &[], br#"{"isMember": true}"#), T0 + 150);
    assert_eq!(vm.gate.decide(&admin(), T0 + 150).reason, Reason::Allowed, "the next request finds the answer");
}

#[test]
fn a_call_that_never_answers_lapses_one_second_after_its_timeout() {
    let mut vm = Vm::new(json!({"backend": "admin_sdk", "timeout_ms": 2000}));
    vm.request(T0, false);
    vm.answer(TOKEN_PATH, token_answer(3600), T0);
    vm.calls.clear();
    // The gate gives the pending lookup up at the same moment, and asks again.
    vm.tick(T0 + 2999);
    assert!(vm.gate.decide(&admin(), T0 + 2999).awaiting_groups);
    assert!(vm.calls.is_empty());
    vm.request(T0 + 3000, false);
    assert_eq!(vm.calls.len(), 1, "made again once the first lapsed");
}

#[test]
fn the_cache_counts_are_reported_as_deltas() {
    let mut vm = Vm::new(json!({"backend": "admin_sdk"}));
    vm.request(T0, false);
    vm.answer(TOKEN_PATH, token_answer(3600), T0);
    vm.answer("/admin/directory", Answer::new(200, &[], br#"{"isMember": true}"#), T0 + 10);
    vm.gate.decide(&admin(), T0 + 20);
    vm.tick(T0 + 100);
    assert!(vm.counts.contains(&(Metric::GroupCacheMisses, 1)) && vm.counts.contains(&(Metric::GroupCacheHits, 1)), "{:?}", vm.counts);
    vm.counts.clear();
    vm.tick(T0 + 200);
    assert!(vm.counts.is_empty(), "nothing new, nothing reported: {:?}", vm.counts);
}
