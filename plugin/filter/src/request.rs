//! One request's context: strip forged identity headers, decide (pausing while what
//! the decision needs is fetched), carry the decision out, add the explanation
//! header to the response, and clean up when the request ends.

use crate::decide;
use crate::hold::{self, Attempt, Settled};
use crate::host::{self, BodyNext, Map, Next};
use crate::outbound;
use crate::resume;
use crate::vm::{Hold, Vm};
use std::rc::Rc;
use wsgate_core::session::cookies;
use wsgate_core::{RequestHeaders, RequestSnapshot};
use wsgate_core::header_edit::HeaderEdit;

pub struct RequestContext {
    context_id: u32,
    /// `None` only if a request arrives without a valid configuration, which Envoy
    /// should never allow; such a request is refused.
    vm: Option<Rc<Vm>>,
}

impl RequestContext {
    pub fn new(context_id: u32, vm: Option<Rc<Vm>>) -> Self {
        Self { context_id, vm }
    }

    fn on_request(&self, vm: &Vm, end_of_stream: bool) -> Result<Next, String> {
        let now = host::now_ms().map_err(|e| format!("reading the clock failed: {e}"))?;
        let mut request = host::request_headers().map_err(|e| format!("reading the request headers failed: {e}"))?;
        strip_identity_headers(vm, &mut request)?;
        let hold = Hold { body_complete: end_of_stream, ..Hold::default() };
        match hold::settle(vm, self.context_id, request, hold, &Attempt::first(now, self.context_id))? {
            Settled::Done(next) => Ok(next),
            Settled::Held => Ok(Next::Pause),
        }
    }

    /// Body for this request: passed on once decided, held while the decision is open.
    pub fn on_request_body(&self, body_size: usize, end_of_stream: bool) -> BodyNext {
        let Some(vm) = self.vm.as_deref() else { return BodyNext::Drop };
        hold::on_body(vm, self.context_id, body_size, end_of_stream).unwrap_or_else(|why| {
            hold::refuse(vm, self.context_id, &why);
            BodyNext::Drop
        })
    }

    /// Trailers for this request: the body is whole; passed on once decided.
    pub fn on_request_trailers(&self) -> Next {
        let Some(vm) = self.vm.as_deref() else { return Next::Pause };
        hold::on_trailers(vm, self.context_id).unwrap_or_else(|why| hold::refuse(vm, self.context_id, &why))
    }

    /// A call this request made answered: hand it to the engine, and decide the
    /// paused requests it readied (this one among them).
    pub fn on_call_answer(&self, token: u32, body_size: usize) {
        let (Some(vm), Ok(now)) = (self.vm.as_deref(), host::now_ms()) else { return };
        if outbound::deliver(vm, token, body_size, now, self.context_id) {
            resume::resume_ready(vm, now, self.context_id);
        }
    }

    pub fn on_done(&self) {
        if let Some(vm) = self.vm.as_deref() {
            // Calls this request made for others die with it: the root makes them again.
            if let Ok(mut engine) = vm.outbound.try_borrow_mut() {
                engine.context_done(self.context_id);
            }
            vm.take_explanation(self.context_id);
            vm.forget(self.context_id);
        }
    }

    pub fn on_request_headers(&self, end_of_stream: bool) -> Next {
        let Some(vm) = self.vm.clone() else { return decide::fail_closed("no valid configuration") };
        self.on_request(&vm, end_of_stream).unwrap_or_else(|why| hold::refuse(&vm, self.context_id, &why))
    }

    pub fn on_response_headers(&self) {
        let mut explanation = self.vm.as_deref().map(|vm| vm.take_explanation(self.context_id)).unwrap_or_default();
        if explanation.iter().any(|(name, _)| name == "set-cookie") {
            // A session refresh: not onto a response a shared cache may keep.
            let response = host::response_headers().unwrap_or_default();
            if !cookies::may_set_on_response(&response.header_values("cache-control")) {
                explanation.retain(|(name, _)| name != "set-cookie");
            }
        }
        for (name, value) in &explanation {
            // A header the host refuses is an explanation lost, not a reason to fail.
            let _ = host::edit_header(Map::Response, HeaderEdit::for_response(name, value.as_bytes()));
        }
    }
}

/// Removes every spelling of an identity header the client sent; only headers the
/// client actually sent cost a host call.
fn strip_identity_headers(vm: &Vm, request: &mut RequestSnapshot) -> Result<(), String> {
    let gate = vm.gate.try_borrow().map_err(|_| "the gate is busy")?;
    for name in gate.forged_identity_headers(request) {
        if request.remove(&name) {
            host::edit_header(Map::Request, HeaderEdit::Remove(&name)).map_err(|e| format!("removing header `{name}` failed: {e}"))?;
        }
    }
    Ok(())
}
