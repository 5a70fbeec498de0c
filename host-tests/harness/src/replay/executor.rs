//! The things that can run a request: the .wasm in the harness, and the core crate
//! natively. (Real Envoy runs the end-to-end subset in the e2e tests.)

use crate::Harness;
use crate::plugin::{HttpRequest, Plugin};
use crate::replay::outcome::Outcome;
use wsgate_core::header_edit::{self, HeaderEdit};
use wsgate_core::session::cookies;
use wsgate_core::{Action, Gate, RequestSnapshot};

pub trait Executor {
    /// Runs one request at `now` (Unix seconds); the upstream answers `upstream`.
    fn send(&mut self, headers: &[(String, String)], upstream: (u16, &[(String, String)]), now: u64) -> Result<Outcome, String>;
}

/// The real `wsgate.wasm`, in wasmtime. One VM for the whole replay, as one Envoy
/// worker would be: its token cache stays warm across requests.
pub struct WasmExecutor {
    plugin: Plugin,
    /// The time each request spent in the plugin's request hooks, in order.
    hook_times: Vec<std::time::Duration>,
}

impl WasmExecutor {
    pub fn new(harness: &Harness, config: &[u8], now: u64) -> Result<Self, String> {
        let plugin = harness.start(config, now.saturating_mul(1_000_000_000)).map_err(|e| format!("{e:#}"))?;
        Ok(Self::on(plugin))
    }

    /// Replays through a plugin started otherwise (with host calls refused, say).
    pub fn on(plugin: Plugin) -> Self {
        Self { plugin, hook_times: Vec::new() }
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub fn hook_times(&self) -> &[std::time::Duration] {
        &self.hook_times
    }
}

impl Executor for WasmExecutor {
    fn send(&mut self, headers: &[(String, String)], upstream: (u16, &[(String, String)]), now: u64) -> Result<Outcome, String> {
        self.plugin.set_time(now.saturating_mul(1_000_000_000));
        let request = HttpRequest { headers: headers.to_vec(), upstream_status: upstream.0, upstream_headers: upstream.1.to_vec(), ..HttpRequest::default() };
        let exchange = self.plugin.send(&request).map_err(|e| format!("{e:#}"))?;
        self.hook_times.push(exchange.request_hooks);
        let local = exchange.local_reply.as_ref();
        Ok(Outcome {
            status: exchange.status,
            local_reply: local.is_some(),
            body: local.map(|r| String::from_utf8_lossy(&r.body).into_owned()).unwrap_or_default(),
            response_headers: exchange.response_headers,
            upstream_headers: exchange.upstream_request,
            logs: exchange.logs.into_iter().map(|l| l.message).collect(),
        })
    }
}

/// The core crate called directly, with the glue's steps done here in Rust: what the
/// .wasm must agree with.
pub struct NativeExecutor {
    gate: Gate,
}

impl NativeExecutor {
    pub fn new(config: &[u8]) -> Result<Self, String> {
        Gate::from_json(config).map(|gate| Self { gate }).map_err(|e| e.to_string())
    }
}

impl Executor for NativeExecutor {
    fn send(&mut self, headers: &[(String, String)], upstream: (u16, &[(String, String)]), now: u64) -> Result<Outcome, String> {
        // The filter's steps, with the filter's header edits: strip every forged
        // identity header, decide, then carry the decision's edits out.
        let mut request: Vec<(String, Vec<u8>)> = headers.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())).collect();
        let forged = self.gate.forged_identity_headers(&RequestSnapshot::from_pairs(request.clone()));
        for name in &forged {
            header_edit::apply(&mut request, HeaderEdit::Remove(name));
        }
        // Cases count seconds; the gate's clock is milliseconds.
        let verdict = self.gate.decide(&RequestSnapshot::from_pairs(request.clone()), now.saturating_mul(1000));
        let logs = verdict.log_line.iter().cloned().collect();
        if let Action::Respond(reply) = verdict.action {
            return Ok(Outcome { status: reply.status, local_reply: true, response_headers: reply.headers, upstream_headers: None, body: reply.body, logs });
        }
        for edit in verdict.action.header_edits() {
            header_edit::apply(&mut request, edit);
        }
        let mut response: Vec<(String, Vec<u8>)> = upstream.1.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())).collect();
        let cache_control: Vec<&[u8]> = response.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cache-control")).map(|(_, v)| v.as_slice()).collect();
        let cookies_allowed = cookies::may_set_on_response(&cache_control);
        for (name, value) in verdict.response_headers.iter().filter(|(name, _)| cookies_allowed || name != "set-cookie") {
            header_edit::apply(&mut response, HeaderEdit::for_response(name, value.as_bytes()));
        }
        let text = |pairs: Vec<(String, Vec<u8>)>| pairs.into_iter().map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned())).collect::<Vec<_>>();
        let mut response_headers = vec![(":status".to_owned(), upstream.0.to_string())];
        response_headers.extend(text(response));
        Ok(Outcome { status: upstream.0, local_reply: false, response_headers, upstream_headers: Some(text(request)), body: String::new(), logs })
    }
}
