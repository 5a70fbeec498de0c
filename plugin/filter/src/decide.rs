//! Deciding a request and carrying the decision out: the gate's verdict, paused
//! while keys or group answers it depends on are fetched, then logged, counted, and
//! turned into forwarded headers or a local answer on the effective context.

use crate::host::{self, LogLevel, Map, Next};
use crate::outbound::{self, HostRecords};
use crate::vm::{Stage, Vm};
use wsgate_core::config::{DECISION_PROPERTY, DecisionLogTo};
use wsgate_core::header_edit::HeaderEdit;
use wsgate_core::outbound::{KeyWait, WaitingFor};
use wsgate_core::{Action, Gate, LocalResponse, Reason, RequestSnapshot, Verdict};

pub enum Decision {
    Final(Verdict),
    /// Pause the request until what it waits for arrives, or the deadline (Unix ms).
    Pause { waiting_for: WaitingFor, deadline: u64 },
}

/// The gate's verdict on `request` at `now` (Unix ms). If `may_pause`: a token
/// refused for want of keys asks the engine whether new keys are coming, and a
/// decision may wait for group lookups. The lookups a decision asks for start at
/// once if `lookups_from` names the context running this callback (and effective);
/// else the caller starts them. `None`: the gate is unavailable.
pub fn decide(vm: &Vm, request: &RequestSnapshot, now: u64, may_pause: bool, lookups_from: Option<u32>) -> Option<Decision> {
    let wait_ms = vm.gate.try_borrow().ok()?.group_lookup().map_or(0, |lookup| lookup.wait_ms);
    let may_wait_for_groups = may_pause && wait_ms > 0;
    let verdict = match decide_once(vm, request, now, may_pause, may_wait_for_groups)? {
        Ok(verdict) => verdict,
        Err(deadline) => return Some(deadline),
    };
    // Start the lookups the decision asked for: this request waits for them, or (if
    // it could not wait) the next request finds their answers.
    let failed_before = vm.outbound.try_borrow().ok()?.lookups_failed_on_the_spot();
    if let Some(context_id) = lookups_from {
        let (mut engine, mut gate) = (vm.outbound.try_borrow_mut().ok()?, vm.gate.try_borrow_mut().ok()?);
        engine.start_group_lookups(&mut gate, now, context_id);
    }
    outbound::carry(vm, now);
    let failed_on_the_spot = vm.outbound.try_borrow().ok()?.lookups_failed_on_the_spot() != failed_before;
    Some(match verdict.awaiting_groups {
        // A lookup that could not even be started: decide with what there is.
        true if failed_on_the_spot => Decision::Final(vm.gate.try_borrow_mut().ok()?.decide_now(request, now)),
        true => Decision::Pause { waiting_for: WaitingFor::Groups, deadline: now.saturating_add(wait_ms) },
        false => Decision::Final(verdict),
    })
}

/// The gate's verdict, decided again if new keys arrived meanwhile; `Err` with the
/// pause if the request should wait for keys being fetched.
fn decide_once(vm: &Vm, request: &RequestSnapshot, now: u64, may_pause: bool, may_wait_for_groups: bool) -> Option<Result<Verdict, Decision>> {
    let (mut gate, mut engine) = (vm.gate.try_borrow_mut().ok()?, vm.outbound.try_borrow_mut().ok()?);
    let decide = |gate: &mut Gate| if may_wait_for_groups { gate.decide(request, now) } else { gate.decide_now(request, now) };
    let verdict = decide(&mut gate);
    let Some(provider) = verdict.awaiting_keys.filter(|_| may_pause) else { return Some(Ok(verdict)) };
    let unknown_kid = verdict.reason == Reason::UnknownKeyId;
    Some(match engine.keys_missing(&mut gate, &mut HostRecords, provider, unknown_kid, now) {
        KeyWait::DecideAgain => Ok(decide(&mut gate)),
        KeyWait::PauseUntil(deadline) => Err(Decision::Pause { waiting_for: WaitingFor::Keys(provider), deadline }),
        KeyWait::AnswerNow => Ok(verdict),
    })
}

/// Logs and counts a final verdict and carries it out on the effective context,
/// request `context_id`. Returns what the request callback returns.
pub fn conclude(vm: &Vm, verdict: Verdict, now: u64, context_id: u32) -> Next {
    if let Some(line) = &verdict.log_line {
        log_decision(vm.decision_log_to, line);
    }
    vm.metrics.count(&verdict, now);
    vm.metrics.sample_memory();
    let Verdict { action, response_headers, .. } = verdict;
    let next = match &action {
        Action::Forward { .. } => {
            vm.keep_explanation(context_id, response_headers);
            forward(&action.header_edits())
        }
        Action::Respond(response) => respond(response),
    };
    let stage = if next == Next::Continue { Stage::Forwarded } else { Stage::Answered };
    if vm.set_stage(context_id, stage).is_err() {
        // Unknown counts as answered: its body would not pass.
        return fail_closed("the request table is busy");
    }
    next
}

/// A line the host refuses is lost, never a reason to change the decision.
fn log_decision(to: DecisionLogTo, line: &str) {
    match to {
        DecisionLogTo::EnvoyLog => host::log(LogLevel::Info, line),
        DecisionLogTo::AccessLog => {
            if host::set_property(DECISION_PROPERTY, line.as_bytes()).is_err() {
                host::log(LogLevel::Info, line);
            }
        }
    }
}

fn forward(edits: &[HeaderEdit<'_>]) -> Next {
    match edits.iter().try_for_each(|edit| host::edit_header(Map::Request, *edit)) {
        Ok(()) => Next::Continue,
        // Identity headers half-written must never reach the upstream.
        Err(error) => fail_closed(&format!("changing the request headers failed: {error}")),
    }
}

fn respond(response: &LocalResponse) -> Next {
    if let Err(error) = host::send_response(response.status, &response.headers, response.body.as_bytes()) {
        // The request stays paused (never forwarded) until the client gives up.
        host::log(LogLevel::Critical, &format!("wsgate: sending the {} answer failed: {error}; the request is held, never forwarded", response.status));
    }
    Next::Pause
}

/// Something the gate depends on failed (`why`): never let the request through.
pub fn fail_closed(why: &str) -> Next {
    host::log(LogLevel::Error, &format!("wsgate: internal failure, request refused: {why}"));
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    if let Err(error) = host::send_response(500, &headers, br#"{"error":"internal_error"}"#) {
        host::log(LogLevel::Critical, &format!("wsgate: sending the 500 answer failed: {error}; the request is held, never forwarded"));
    }
    Next::Pause
}
