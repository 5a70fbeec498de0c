//! Carries the outbound engine's effects to Envoy (calls, log lines, metrics) and
//! Envoy's answers back to it; the engine's shared records live in Envoy's shared data.

use crate::host::{self, LogLevel};
use crate::vm::Vm;
use wsgate_core::outbound::{Answer, Effect, Level, SharedRecords};

/// The engine's shared records, in Envoy's shared data.
pub struct HostRecords;

impl SharedRecords for HostRecords {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        host::shared_get(key).ok()
    }

    fn set(&mut self, key: &str, value: &[u8], version: u32) -> bool {
        host::shared_set(key, value, version).is_ok()
    }
}

/// Carries out every effect the engine has queued, from the effective context (the
/// one whose callback runs: Envoy sends a call's answer to the context that made it).
pub fn carry(vm: &Vm, now: u64) {
    loop {
        let Some(effect) = vm.outbound.try_borrow_mut().ok().and_then(|mut o| o.next_effect()) else { return };
        match effect {
            Effect::Call(call) => match host::http_call(&call) {
                Ok(token) => {
                    if let Ok(mut outbound) = vm.outbound.try_borrow_mut() {
                        outbound.call_started(call.id, token);
                    }
                }
                Err(error) => {
                    let (Ok(mut outbound), Ok(mut gate)) = (vm.outbound.try_borrow_mut(), vm.gate.try_borrow_mut()) else { return };
                    outbound.call_not_started(&mut gate, &mut HostRecords, call.id, &error.to_string(), now);
                }
            },
            Effect::Log(level, line) => host::log(log_level(level), &line),
            Effect::Count(metric, delta) => vm.metrics.add_outbound(metric, delta),
            Effect::Record(metric, value) => vm.metrics.record_outbound(metric, value),
        }
    }
}

fn log_level(level: Level) -> LogLevel {
    match level {
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    }
}

/// Hands the answer to call `token` (delivered to `context_id`) to the engine, and
/// carries out what follows. False if it was not the engine's call.
pub fn deliver(vm: &Vm, token: u32, body_size: usize, now: u64, context_id: u32) -> bool {
    let Some(limit) = vm.outbound.try_borrow().ok().and_then(|o| o.answer_limit(token)) else { return false };
    // Headers the host cannot give read as no response; a body it cannot give, as empty.
    let headers = host::call_response_headers().unwrap_or_default();
    let body = if body_size <= limit { host::call_response_body(body_size).unwrap_or_default() } else { Vec::new() };
    let answer = Answer { headers, body, body_size };
    {
        let (Ok(mut outbound), Ok(mut gate)) = (vm.outbound.try_borrow_mut(), vm.gate.try_borrow_mut()) else { return true };
        outbound.answered(&mut gate, &mut HostRecords, token, &answer, now, context_id);
    }
    carry(vm, now);
    true
}
