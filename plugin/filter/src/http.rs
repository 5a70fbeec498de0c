//! The per-request context: strip, decide, act, log, count.

use crate::host;
use crate::root::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action as ProxyAction, LogLevel, MapType};
use std::rc::Rc;
use wsgate_core::{Action, LocalResponse};

pub struct WsgateHttp {
    /// `None` only if a request arrives without a valid configuration, which Envoy
    /// should never allow; such a request is refused.
    shared: Option<Rc<Shared>>,
    /// Added to the upstream's response: the opt-in explanation header.
    response_headers: Vec<(String, String)>,
}

impl WsgateHttp {
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        Self { shared, response_headers: Vec::new() }
    }
}

impl Context for WsgateHttp {}

impl HttpContext for WsgateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> ProxyAction {
        let (Some(shared), Some(now), Some(mut request)) = (&self.shared, host::now(), host::request_headers()) else {
            return fail_closed();
        };
        let Ok(mut gate) = shared.gate.try_borrow_mut() else {
            return fail_closed();
        };
        // Only headers the client actually sent cost a host call to remove.
        for name in gate.headers_to_strip() {
            if request.remove(name) && hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_err() {
                return fail_closed();
            }
        }
        let verdict = gate.decide(&request, now);
        drop(gate);
        if let Some(line) = &verdict.log_line {
            let _ = hostcalls::log(LogLevel::Info, line);
        }
        shared.metrics.count(&verdict, now);
        shared.metrics.sample_memory();
        match verdict.action {
            Action::Forward { set, remove } => {
                self.response_headers = verdict.response_headers;
                forward(&set, &remove)
            }
            Action::Respond(response) => respond(&response),
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> ProxyAction {
        for (name, value) in &self.response_headers {
            let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, name, Some(value));
        }
        ProxyAction::Continue
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
fn fail_closed() -> ProxyAction {
    let _ = hostcalls::log(LogLevel::Error, "wsgate: internal failure, request refused");
    let _ = hostcalls::send_http_response(500, vec![("content-type", "application/json")], Some(br#"{"error":"internal_error"}"#));
    ProxyAction::Pause
}
