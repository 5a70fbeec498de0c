//! Paused requests decided again, each on its own context, once what they waited
//! for arrived or their wait ran out; then resumed, answered, or paused again until
//! their original deadline (a request waiting for two lookups may see one answer
//! first).
//!
//! Lookups these decisions ask for are made only once the callback's own context is
//! effective again: Envoy binds a call to the context effective when it is made and
//! cancels it when that request ends, and a request just decided here may end at once.

use crate::hold::{self, Attempt, Settled};
use crate::host::{self, Next};
use crate::outbound;
use crate::vm::Vm;
use wsgate_core::outbound::Paused;

/// Rounds of deciding: a lookup that fails on the spot wakes its requests once more,
/// to be decided without waiting; nothing pauses a third time.
const MAX_ROUNDS: usize = 3;

/// Decides the paused requests that are ready, makes `back_to` (the context running
/// this callback) effective again, and starts the lookups they asked for.
pub fn resume_ready(vm: &Vm, now: u64, back_to: u32) {
    for _ in 0..MAX_ROUNDS {
        let ready = match vm.outbound.try_borrow_mut() {
            Ok(mut engine) => engine.take_ready(now),
            Err(_) => return,
        };
        if ready.is_empty() {
            return;
        }
        for paused in ready {
            // A client that went away has no context left to act on.
            if host::act_for(paused.context_id).is_ok() {
                decide_again(vm, paused, now);
            }
        }
        let _ = host::act_for(back_to);
        start_lookups(vm, now, back_to);
    }
}

/// Makes the group lookups decisions asked for, from `context_id` (effective).
fn start_lookups(vm: &Vm, now: u64, context_id: u32) {
    if let (Ok(mut engine), Ok(mut gate)) = (vm.outbound.try_borrow_mut(), vm.gate.try_borrow_mut()) {
        engine.start_group_lookups(&mut gate, now, context_id);
    }
    outbound::carry(vm, now);
}

/// The paused request of the effective context, decided again and carried out.
fn decide_again(vm: &Vm, paused: Paused, now: u64) {
    let request = match host::request_headers() {
        Ok(request) => request,
        Err(error) => {
            hold::refuse(vm, paused.context_id, &format!("reading the request headers failed: {error}"));
            return;
        }
    };
    let attempt = Attempt { now, may_pause: paused.may_wait(now), deadline_at_most: paused.deadline, lookups_from: None };
    match hold::settle(vm, paused.context_id, request, vm.hold(paused.context_id), &attempt) {
        Ok(Settled::Done(Next::Continue)) => {
            if let Err(error) = host::resume_request() {
                hold::refuse(vm, paused.context_id, &format!("resuming the request failed: {error}"));
            }
        }
        Ok(Settled::Done(Next::Pause) | Settled::Held) => {}
        Err(why) => {
            hold::refuse(vm, paused.context_id, &why);
        }
    }
}
