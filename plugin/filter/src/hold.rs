//! Requests held while their decision is open: waiting for keys or group answers, or
//! for the body that carries the user token of a caller acting for a user. Envoy
//! holds the body and trailers with the headers until the decision is carried out:
//! a body or trailers that arrive while the decision is open must never let the
//! headers through, and only a forwarded request's pass.

use crate::decide::{self, Decision};
use crate::host::{self, BodyNext, Next};
use crate::vm::{Hold, Stage, Vm};
use crate::outbound;
use wsgate_core::outbound::{Paused, WaitingFor};
use wsgate_core::session::exchange::{ExchangeAnswer, ExchangeRequest};
use wsgate_core::{RequestSnapshot, Verdict};

/// Where a request stands after a decision was attempted.
pub enum Settled {
    /// Carried out: what the callback returns.
    Done(Next),
    /// Held by Envoy until the engine or the body wakes it.
    Held,
}

/// How one attempt at a decision may go.
#[derive(Clone, Copy)]
pub struct Attempt {
    pub now: u64,
    /// Whether the request may still wait for keys or groups.
    pub may_pause: bool,
    /// A request paused again keeps its first deadline: nothing waits longer than it may.
    pub deadline_at_most: u64,
    /// The context to start group lookups from, if it is the effective one.
    pub lookups_from: Option<u32>,
}

impl Attempt {
    /// A request's first attempt, in its own callback.
    pub fn first(now: u64, context_id: u32) -> Self {
        Attempt { now, may_pause: true, deadline_at_most: u64::MAX, lookups_from: Some(context_id) }
    }
}

/// Decides `request` of context `context_id` (effective) and carries the decision
/// out, or holds the request: paused for what the engine fetches, or until its body
/// is whole. `hold` is what Envoy holds of it so far; a body the decision needs that
/// Envoy already holds whole is read here.
pub fn settle(vm: &Vm, context_id: u32, mut request: RequestSnapshot, mut hold: Hold, attempt: &Attempt) -> Result<Settled, String> {
    let Attempt { now, may_pause, deadline_at_most, lookups_from } = *attempt;
    if let Some(answer) = vm.outbound.try_borrow_mut().map_err(|_| "the engine is busy")?.exchange_answer(context_id, may_pause) {
        request = request.with_exchange(answer);
    }
    for _ in 0..2 {
        match decide::decide(vm, &request, now, may_pause, lookups_from).ok_or("the gate is busy")? {
            Decision::Pause { waiting_for, deadline } => {
                vm.set_stage(context_id, Stage::Open(Hold { body_limit: None, ..hold }))?;
                let deadline = deadline.min(deadline_at_most);
                vm.outbound.try_borrow_mut().map_err(|_| "the engine is busy")?.pause(Paused { context_id, waiting_for, deadline });
                return Ok(Settled::Held);
            }
            Decision::Final(Verdict { awaiting_exchange: Some(exchange), .. }) => match exchange_code(vm, context_id, hold, &exchange, now)? {
                // Failed on the spot: decide with that at once.
                Some(answer) => request = request.with_exchange(answer),
                None => return Ok(Settled::Held),
            },
            Decision::Final(verdict) => match verdict.awaiting_body {
                None => return Ok(Settled::Done(decide::conclude(vm, verdict, now, context_id))),
                Some(limit) if hold.body_complete || hold.body_size > limit => request = request.with_body(read_body(vm, context_id, &hold, limit)?),
                Some(limit) => {
                    hold.body_limit = Some(limit);
                    vm.set_stage(context_id, Stage::Open(hold))?;
                    return Ok(Settled::Held);
                }
            },
        }
    }
    Err("the decision asked for the body twice".to_owned())
}

/// Starts the sign-in callback's code exchange from context `context_id` (effective)
/// and holds the request until it answers, or its timeout and a second more pass
/// (`None`). `Some`: the answer to decide with now, a failure, when the exchange could
/// not be made (too many under way, or the call refused on the spot).
fn exchange_code(vm: &Vm, context_id: u32, hold: Hold, exchange: &ExchangeRequest, now: u64) -> Result<Option<ExchangeAnswer>, String> {
    let engine = || vm.outbound.try_borrow_mut().map_err(|_| "the engine is busy");
    if !engine()?.start_exchange(context_id, exchange) {
        return Ok(Some(ExchangeAnswer::default()));
    }
    outbound::carry(vm, now);
    if let Some(answer) = engine()?.exchange_answer(context_id, true) {
        return Ok(Some(answer));
    }
    vm.set_stage(context_id, Stage::Open(Hold { body_limit: None, ..hold }))?;
    let deadline = now.saturating_add(exchange.timeout_ms).saturating_add(1000);
    engine()?.pause(Paused { context_id, waiting_for: WaitingFor::Exchange(context_id), deadline });
    Ok(None)
}

/// More body arrived for context `context_id`: `body_size` bytes held in all, the
/// whole of it if `complete`.
pub fn on_body(vm: &Vm, context_id: u32, body_size: usize, complete: bool) -> Result<BodyNext, String> {
    let mut hold = match vm.stage(context_id) {
        Some(Stage::Forwarded) => return Ok(BodyNext::Continue),
        Some(Stage::Open(hold)) => hold,
        Some(Stage::Answered) | None => return Ok(BodyNext::Drop),
    };
    hold.body_size = body_size;
    hold.body_complete = complete;
    vm.set_stage(context_id, Stage::Open(hold))?;
    let wanted = hold.body_limit.filter(|&limit| complete || body_size > limit);
    if wanted.is_none() {
        return Ok(BodyNext::Buffer);
    }
    let now = host::now_ms().map_err(|e| format!("reading the clock failed: {e}"))?;
    let request = host::request_headers().map_err(|e| format!("reading the request headers failed: {e}"))?;
    Ok(match settle(vm, context_id, request, hold, &Attempt::first(now, context_id))? {
        Settled::Done(Next::Continue) => BodyNext::Continue,
        Settled::Done(Next::Pause) => BodyNext::Drop,
        Settled::Held => BodyNext::Buffer,
    })
}

/// Trailers arrived for context `context_id`: the body is whole. Whether they (and
/// what Envoy held) may pass.
pub fn on_trailers(vm: &Vm, context_id: u32) -> Result<Next, String> {
    let hold = match vm.stage(context_id) {
        Some(Stage::Forwarded) => return Ok(Next::Continue),
        Some(Stage::Open(hold)) => hold,
        Some(Stage::Answered) | None => return Ok(Next::Pause),
    };
    Ok(match on_body(vm, context_id, hold.body_size, true)? {
        BodyNext::Continue => Next::Continue,
        BodyNext::Buffer | BodyNext::Drop => Next::Pause,
    })
}

/// Something request `context_id` depends on failed (`why`): it is answered 500,
/// and nothing of it passes afterwards.
pub fn refuse(vm: &Vm, context_id: u32, why: &str) -> Next {
    // Refused either way: a table too busy to say so leaves the request unknown,
    // which counts as answered.
    let _ = vm.set_stage(context_id, Stage::Answered);
    decide::fail_closed(why)
}

/// The body the decision reads: all Envoy holds, or one byte past `limit` (the gate
/// refuses it then). Kept for the decision's later rounds.
fn read_body(vm: &Vm, context_id: u32, hold: &Hold, limit: usize) -> Result<Vec<u8>, String> {
    if let Some(body) = vm.body(context_id) {
        return Ok(body);
    }
    let wanted = hold.body_size.min(limit.saturating_add(1));
    let body = if wanted == 0 { Vec::new() } else { host::request_body(wanted).map_err(|e| format!("reading the request body failed: {e}"))? };
    vm.keep_body(context_id, body.clone());
    Ok(body)
}
