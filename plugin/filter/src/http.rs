//! The per-request context: strip, decide (holding the request while keys are
//! fetched, if its token needs them, or while group lookups its decision depends on
//! are made), act, log, count.

use crate::held::{Held, Waiting};
use crate::host;
use crate::keys::Hold;
use crate::resume;
use crate::root::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action as ProxyAction, LogLevel, MapType};
use std::rc::Rc;
use wsgate_core::config::{DECISION_PROPERTY, DecisionLogTo};
use wsgate_core::{Action, Gate, LocalResponse, Reason, RequestSnapshot, Verdict};

pub struct WsgateHttp {
    context_id: u32,
    /// `None` only if a request arrives without a valid configuration, which Envoy
    /// should never allow; such a request is refused.
    shared: Option<Rc<Shared>>,
    /// Added to the upstream's response: the opt-in explanation header.
    response_headers: Vec<(String, String)>,
}

impl WsgateHttp {
    pub fn new(context_id: u32, shared: Option<Rc<Shared>>) -> Self {
        Self { context_id, shared, response_headers: Vec::new() }
    }
}

impl Context for WsgateHttp {
    /// A group lookup this request made answered: settle it, and decide the requests
    /// held for lookups (this one among them) again.
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let (Some(shared), Some(now_ms)) = (self.shared.clone(), host::now_ms()) else { return };
        if on_group_answer(&shared, token_id, body_size, now_ms, self.context_id) {
            resume::release(&shared, now_ms, self.context_id, |held| held.waiting == Waiting::Groups);
        }
    }

    fn on_done(&mut self) -> bool {
        // Calls this request made for others die with it: the root makes them again.
        if let Some(lookups) = self.shared.as_ref().and_then(|s| s.lookups.as_ref()?.try_borrow_mut().ok()).as_mut() {
            lookups.context_done(self.context_id);
        }
        if let Some(held) = self.shared.as_ref().and_then(|s| s.held.try_borrow_mut().ok()).as_mut() {
            held.forget(self.context_id);
        }
        if let Some(headers) = self.shared.as_ref().and_then(|s| s.response_headers.try_borrow_mut().ok()).as_mut() {
            headers.remove(&self.context_id);
        }
        true
    }
}

impl HttpContext for WsgateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> ProxyAction {
        let (Some(shared), Some(now_ms), Some(mut request)) = (self.shared.clone(), host::now_ms(), host::request_headers()) else {
            return fail_closed();
        };
        if strip_identity_headers(&shared, &mut request).is_none() {
            return fail_closed();
        }
        match decide(&shared, &request, now_ms, true, Some(self.context_id)) {
            Some(Decision::Final(verdict)) => {
                let (action, headers) = conclude(&shared, verdict, now_ms / 1000);
                self.response_headers = headers;
                action
            }
            Some(Decision::Hold { waiting, deadline_ms }) => {
                let Ok(mut held) = shared.held.try_borrow_mut() else { return fail_closed() };
                held.hold(Held { context_id: self.context_id, waiting, deadline_ms });
                ProxyAction::Pause
            }
            None => fail_closed(),
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> ProxyAction {
        let decided_later = self.shared.as_ref().and_then(|s| s.response_headers.try_borrow_mut().ok()?.remove(&self.context_id));
        for (name, value) in self.response_headers.iter().chain(decided_later.iter().flatten()) {
            let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, name, Some(value));
        }
        ProxyAction::Continue
    }
}

/// Removes every spelling of an identity header the client sent; only headers the
/// client actually sent cost a host call.
fn strip_identity_headers(shared: &Shared, request: &mut RequestSnapshot) -> Option<()> {
    let gate = shared.gate.try_borrow().ok()?;
    for name in gate.forged_identity_headers(request) {
        if request.remove(&name) && hostcalls::remove_map_value(MapType::HttpRequestHeaders, &name).is_err() {
            return None;
        }
    }
    Some(())
}

pub enum Decision {
    Final(Verdict),
    /// Hold the request until what it waits for arrives, or the deadline.
    Hold { waiting: Waiting, deadline_ms: u64 },
}

/// The gate's verdict. If `may_hold`: a token refused for want of keys asks the key
/// fetcher whether new keys are coming, and a decision may wait for group lookups.
/// The lookups it asks for start at once if `dispatch_as` names the context running
/// this callback (and effective); else the caller starts them
/// ([`start_group_lookups`]). `None`: the gate is unavailable.
pub fn decide(shared: &Shared, request: &RequestSnapshot, now_ms: u64, may_hold: bool, dispatch_as: Option<u32>) -> Option<Decision> {
    let mut gate = shared.gate.try_borrow_mut().ok()?;
    let now = now_ms / 1000;
    let wait_ms = gate.group_lookup().map_or(0, |lookup| lookup.wait_ms);
    let may_wait_for_groups = may_hold && wait_ms > 0;
    let decide_once = |gate: &mut Gate| if may_wait_for_groups { gate.decide(request, now) } else { gate.decide_now(request, now) };
    let mut verdict = decide_once(&mut gate);
    if let Some(provider) = verdict.awaiting_keys.filter(|_| may_hold) {
        let unknown_kid = verdict.reason == Reason::UnknownKeyId;
        match shared.keys.try_borrow_mut().ok()?.hold(&mut gate, provider, unknown_kid, now_ms) {
            Hold::DecideAgain => verdict = decide_once(&mut gate),
            Hold::Wait(deadline_ms) => return Some(Decision::Hold { waiting: Waiting::Keys(provider), deadline_ms }),
            Hold::Answer => {}
        }
    }
    // Start the lookups the decision asked for: this request waits for them, or (if
    // it could not wait) the next request finds their answers.
    let settled = match dispatch_as {
        Some(context_id) if gate.wants_group_lookups() => shared.lookups.as_ref()?.try_borrow_mut().ok()?.pump(&mut gate, now_ms, context_id),
        _ => false,
    };
    Some(match verdict.awaiting_groups {
        // A lookup that could not even be started: decide with what there is.
        true if settled => Decision::Final(gate.decide_now(request, now)),
        true => Decision::Hold { waiting: Waiting::Groups, deadline_ms: now_ms.saturating_add(wait_ms) },
        false => Decision::Final(verdict),
    })
}

/// Makes the group lookups decisions asked for, from `context_id` (running this
/// callback, and effective). True if one could not be made and settled as failed.
pub fn start_group_lookups(shared: &Shared, now_ms: u64, context_id: u32) -> bool {
    let (Some(lookups), Ok(mut gate)) = (shared.lookups.as_ref(), shared.gate.try_borrow_mut()) else { return false };
    let Ok(mut lookups) = lookups.try_borrow_mut() else { return false };
    gate.wants_group_lookups() && lookups.pump(&mut gate, now_ms, context_id)
}

/// Hands a call's answer to the group lookups. True if a lookup settled.
pub fn on_group_answer(shared: &Shared, token_id: u32, body_size: usize, now_ms: u64, context_id: u32) -> bool {
    let (Some(lookups), Ok(mut gate)) = (shared.lookups.as_ref(), shared.gate.try_borrow_mut()) else { return false };
    let Ok(mut lookups) = lookups.try_borrow_mut() else { return false };
    lookups.on_response(&mut gate, token_id, body_size, now_ms, context_id).unwrap_or(false)
}

/// Logs and counts a final verdict and carries it out on the effective context.
/// Returns what the request callback returns, and the headers for the response.
pub fn conclude(shared: &Shared, verdict: Verdict, now: u64) -> (ProxyAction, Vec<(String, String)>) {
    if let Some(line) = &verdict.log_line {
        log_decision(shared.decision_log_to, line);
    }
    shared.metrics.count(&verdict, now);
    shared.metrics.sample_memory();
    match verdict.action {
        Action::Forward { set, remove } => (forward(&set, &remove), verdict.response_headers),
        Action::Respond(response) => (respond(&response), Vec::new()),
    }
}

/// A line the host refuses is lost, never a reason to change the decision.
fn log_decision(to: DecisionLogTo, line: &str) {
    match to {
        DecisionLogTo::EnvoyLog => host::log(LogLevel::Info, line),
        DecisionLogTo::AccessLog => {
            if !host::set_property(DECISION_PROPERTY, line.as_bytes()) {
                host::log(LogLevel::Info, line);
            }
        }
    }
}

fn forward(set: &[(String, Vec<u8>)], remove: &[String]) -> ProxyAction {
    let removed = remove.iter().all(|name| hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_ok());
    let set_ok = set
        .iter()
        .all(|(name, value)| hostcalls::set_map_value_bytes(MapType::HttpRequestHeaders, name, Some(value)).is_ok());
    if removed && set_ok { ProxyAction::Continue } else { fail_closed() }
}

fn respond(response: &LocalResponse) -> ProxyAction {
    let headers: Vec<(&str, &str)> = response.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let _ = hostcalls::send_http_response(u32::from(response.status), headers, Some(response.body.as_bytes()));
    ProxyAction::Pause
}

/// Something the gate depends on failed: never let the request through.
pub fn fail_closed() -> ProxyAction {
    host::log(LogLevel::Error, "wsgate: internal failure, request refused");
    let _ = hostcalls::send_http_response(500, vec![("content-type", "application/json")], Some(br#"{"error":"internal_error"}"#));
    ProxyAction::Pause
}
