//! One plugin VM and the lifecycle Envoy drives it through: VM start, configure, and
//! per request a context, request headers and body, (HTTP call answers,) response
//! headers, log, done, delete.

use crate::faults::{NotImported, Times};
use crate::state::{HeaderMap, HostState, LocalReply, LogLine, PendingCall, ScriptedAnswer};
use crate::status::{ACTION_CONTINUE, Status, buffer_type, map_type};
use wasmtime::{Engine, Instance, Linker, Module, Store, TypedFunc};

const ROOT_CONTEXT: i32 = 1;

/// A request the plugin holds is given up on after this many root ticks.
const MAX_HELD_TICKS: u32 = 1000;

/// A request as the downstream sent it, and what the upstream will answer if the
/// plugin lets it through.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// Pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`) included.
    pub headers: Vec<(String, String)>,
    /// Empty: a request without a body (headers end the stream).
    pub body: Vec<u8>,
    /// Empty: none (the body, or the headers, end the stream).
    pub trailers: Vec<(String, String)>,
    pub upstream_status: u16,
    pub upstream_headers: Vec<(String, String)>,
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The status the client received.
    pub status: u16,
    /// Set when the plugin answered itself.
    pub local_reply: Option<LocalReply>,
    /// The request headers as forwarded upstream, when they were.
    pub upstream_request: Option<Vec<(String, String)>>,
    /// The request body as forwarded upstream.
    pub upstream_body: Vec<u8>,
    /// Headers of the response the client received.
    pub response_headers: Vec<(String, String)>,
    /// What the plugin logged while handling this request.
    pub logs: Vec<LogLine>,
    /// HTTP calls the plugin dispatched for it (and any the root had pending).
    pub http_calls: Vec<PendingCall>,
    /// How long the plugin held the request (harness clock, ms) before deciding.
    pub held_ms: u64,
    /// Wall time spent inside the request hooks (headers, body, trailers), in this
    /// harness's compiled code: what a per-callback CPU budget is measured against.
    pub request_hooks: std::time::Duration,
}

/// context, token, header count, body size, trailer count.
type CallResponseParams = (i32, i32, i32, i32, i32);

/// The plugin's callbacks. Each is optional, as in Envoy: a plugin that does not
/// export one is not interested in that event, and the stream simply continues.
struct Hooks {
    on_context_create: Option<TypedFunc<(i32, i32), ()>>,
    on_request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_request_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_request_trailers: Option<TypedFunc<(i32, i32), i32>>,
    on_response_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_http_call_response: Option<TypedFunc<CallResponseParams, ()>>,
    on_log: Option<TypedFunc<i32, ()>>,
    on_done: Option<TypedFunc<i32, i32>>,
    on_delete: Option<TypedFunc<i32, ()>>,
    on_tick: Option<TypedFunc<i32, ()>>,
}

/// Calls an optional hook; an absent one answers `absent`.
fn call_hook<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(hook: &Option<TypedFunc<P, R>>, store: &mut Store<HostState>, params: P, absent: R) -> wasmtime::Result<R> {
    match hook {
        Some(func) => func.call(store, params),
        None => Ok(absent),
    }
}

pub struct Plugin {
    store: Store<HostState>,
    hooks: Hooks,
    next_context: i32,
    /// The host calls the module imports (from `env`).
    imports: Vec<String>,
}

impl Plugin {
    pub(crate) fn start(engine: &Engine, module: &Module, linker: &Linker<HostState>, state: HostState, config: &[u8]) -> wasmtime::Result<Plugin> {
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limits);
        store.data_mut().buffers.insert(buffer_type::PLUGIN_CONFIGURATION, config.to_vec());
        store.data_mut().buffers.insert(buffer_type::VM_CONFIGURATION, Vec::new());
        let instance = linker.instantiate(&mut store, module)?;
        if let Ok(initialize) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            initialize.call(&mut store, ())?;
        }
        let hooks = Hooks::find(&instance, &mut store);
        call_hook(&hooks.on_context_create, &mut store, (ROOT_CONTEXT, 0), ())?;
        let vm_start = instance.get_typed_func::<(i32, i32), i32>(&mut store, "proxy_on_vm_start")?;
        let configure = instance.get_typed_func::<(i32, i32), i32>(&mut store, "proxy_on_configure")?;
        let log = |store: &Store<HostState>| store.data().logs.iter().map(|l| l.message.clone()).collect::<Vec<_>>().join("\n");
        if vm_start.call(&mut store, (ROOT_CONTEXT, 0))? == 0 {
            wasmtime::bail!("the plugin failed to start (proxy_on_vm_start returned false):\n{}", log(&store));
        }
        if configure.call(&mut store, (ROOT_CONTEXT, config.len() as i32))? == 0 {
            wasmtime::bail!("the plugin refused its configuration:\n{}", log(&store));
        }
        let imports = module.imports().filter(|i| i.module() == "env").map(|i| i.name().to_owned()).collect();
        Ok(Plugin { store, hooks, next_context: ROOT_CONTEXT + 1, imports })
    }

    pub fn set_time(&mut self, unix_nanos: u64) {
        self.store.data().clock.set_unix_nanos(unix_nanos);
    }

    /// Queues the answer the next HTTP call to `upstream` (an Envoy cluster) gets.
    pub fn script_http_call(&mut self, upstream: &str, answer: ScriptedAnswer) {
        self.store.data_mut().scripted.entry(upstream.to_owned()).or_default().push_back(answer);
    }

    /// Everything the plugin logged since it started.
    pub fn logs(&self) -> &[LogLine] {
        &self.store.data().logs
    }

    pub fn metric(&self, name: &str) -> Option<u64> {
        self.store.data().metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    pub fn unimplemented_calls(&self) -> &[String] {
        &self.store.data().unimplemented
    }

    /// From now on, `import` answers `status` without doing its work, `times` over,
    /// as a host failing that call would; a later call for the same import replaces
    /// this one. Refused if the plugin does not import it: the fault could never fire.
    pub fn fail_import(&mut self, import: &str, status: Status, times: Times) -> Result<(), NotImported> {
        if !self.imports.iter().any(|name| name == import) {
            return Err(NotImported(import.to_owned()));
        }
        self.store.data_mut().faults.plan(import, status, times);
        Ok(())
    }

    /// How many calls of `import` an injected fault has answered.
    pub fn failed_calls(&self, import: &str) -> u32 {
        self.store.data().faults.answered(import)
    }

    /// One tick of the root context's timer (whatever period the plugin asked for),
    /// then the answers to any HTTP calls the tick dispatched. The clock stays put.
    pub fn tick(&mut self) -> wasmtime::Result<Vec<PendingCall>> {
        self.store.data_mut().effective_context = ROOT_CONTEXT as u32;
        // HTTP calls made while configuring are answered before the first tick.
        let mut answered = self.answer_http_calls()?;
        call_hook(&self.hooks.on_tick, &mut self.store, ROOT_CONTEXT, ())?;
        answered.extend(self.answer_http_calls()?);
        Ok(answered)
    }

    /// Runs one request through the plugin, as Envoy would.
    pub fn send(&mut self, request: &HttpRequest) -> wasmtime::Result<Exchange> {
        let context = self.begin(request);
        let logs_before = self.store.data().logs.len();
        call_hook(&self.hooks.on_context_create, &mut self.store, (context, ROOT_CONTEXT), ())?;
        self.store.data_mut().effective_context = context as u32;
        let started = std::time::Instant::now();
        let action = self.request_phase(context, request)?;
        let request_hooks = started.elapsed();
        let mut calls = self.answer_http_calls()?;
        let held_ms = self.wait_while_held(action, &mut calls)?;
        let state = self.store.data();
        let forwarded = state.local_reply.is_none() && (action == ACTION_CONTINUE || state.resumed);
        let upstream_body = self.store.data().buffers.get(&buffer_type::HTTP_REQUEST_BODY).cloned().unwrap_or_default();
        let exchange = if forwarded {
            self.forward(context, request)?
        } else if let Some(reply) = self.store.data_mut().local_reply.take() {
            Exchange { status: reply.status, response_headers: reply.headers.clone(), local_reply: Some(reply), upstream_request: None, upstream_body: vec![], logs: vec![], http_calls: vec![], held_ms: 0, request_hooks: std::time::Duration::ZERO }
        } else {
            wasmtime::bail!("the plugin paused the request and never resumed or answered it");
        };
        self.finish(context)?;
        let logs = self.store.data().logs[logs_before..].to_vec();
        let upstream_body = if exchange.upstream_request.is_some() { upstream_body } else { Vec::new() };
        Ok(Exchange { logs, http_calls: calls, upstream_body, held_ms, request_hooks, ..exchange })
    }

    /// While the plugin holds the request without an answer, time passes as in
    /// Envoy: the clock moves on by the root's tick period and the root ticks, its
    /// HTTP calls answered from the script. Returns how long it was held.
    fn wait_while_held(&mut self, action: i32, calls: &mut Vec<PendingCall>) -> wasmtime::Result<u64> {
        let start = self.store.data().clock.unix_nanos();
        for _ in 0..MAX_HELD_TICKS {
            let state = self.store.data();
            if action == ACTION_CONTINUE || state.resumed || state.local_reply.is_some() {
                break;
            }
            let period_ms = u64::from(state.tick_period_ms.max(1));
            state.clock.set_unix_nanos(state.clock.unix_nanos() + period_ms * 1_000_000);
            calls.extend(self.tick()?);
        }
        Ok((self.store.data().clock.unix_nanos() - start) / 1_000_000)
    }

    /// Headers, then the body and the trailers if there are any, as Envoy calls them
    /// with `allow_on_headers_stop_iteration`: each callback runs whatever the one
    /// before said, unless the request was answered. A body or trailers passed on
    /// (`Continue`, also what Envoy assumes of a callback the module does not export)
    /// take headers that were held with them, as Envoy's filter chain does; held, they
    /// keep the request waiting.
    fn request_phase(&mut self, context: i32, request: &HttpRequest) -> wasmtime::Result<i32> {
        let count = request.headers.len() as i32;
        let (has_body, has_trailers) = (!request.body.is_empty(), !request.trailers.is_empty());
        let ends_here = |more: bool| i32::from(!more);
        let mut action = call_hook(&self.hooks.on_request_headers, &mut self.store, (context, count, ends_here(has_body || has_trailers)), ACTION_CONTINUE)?;
        if has_body && self.store.data().local_reply.is_none() {
            self.store.data_mut().buffers.insert(buffer_type::HTTP_REQUEST_BODY, request.body.clone());
            action = call_hook(&self.hooks.on_request_body, &mut self.store, (context, request.body.len() as i32, ends_here(has_trailers)), ACTION_CONTINUE)?;
        }
        if has_trailers && self.store.data().local_reply.is_none() {
            let trailers: HeaderMap = request.trailers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
            self.store.data_mut().maps.insert(map_type::HTTP_REQUEST_TRAILERS, trailers);
            action = call_hook(&self.hooks.on_request_trailers, &mut self.store, (context, request.trailers.len() as i32), ACTION_CONTINUE)?;
        }
        Ok(action)
    }

    fn begin(&mut self, request: &HttpRequest) -> i32 {
        let context = self.next_context;
        self.next_context += 1;
        let state = self.store.data_mut();
        state.local_reply = None;
        state.resumed = false;
        state.buffers.remove(&buffer_type::HTTP_REQUEST_BODY);
        let headers: HeaderMap = request.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        state.maps.insert(map_type::HTTP_REQUEST_HEADERS, headers);
        state.maps.insert(map_type::HTTP_RESPONSE_HEADERS, Vec::new());
        context
    }

    /// Answers dispatched HTTP calls from the script, one at a time, as long as the
    /// plugin keeps the request paused and makes calls.
    fn answer_http_calls(&mut self) -> wasmtime::Result<Vec<PendingCall>> {
        let mut answered = Vec::new();
        while let Some(call) = self.store.data_mut().pending_calls.pop_front() {
            let answer = self.store.data_mut().scripted.get_mut(&call.upstream).and_then(|q| q.pop_front()).unwrap_or_default();
            let (headers, body) = answer.response.unwrap_or_default();
            let (count, body_len) = (headers.len() as i32, body.len() as i32);
            let state = self.store.data_mut();
            state.maps.insert(map_type::HTTP_CALL_RESPONSE_HEADERS, headers);
            state.buffers.insert(buffer_type::HTTP_CALL_RESPONSE_BODY, body);
            state.effective_context = call.context_id;
            call_hook(&self.hooks.on_http_call_response, &mut self.store, (call.context_id as i32, call.token as i32, count, body_len, 0), ())?;
            answered.push(call);
        }
        Ok(answered)
    }

    fn forward(&mut self, context: i32, request: &HttpRequest) -> wasmtime::Result<Exchange> {
        let state = self.store.data_mut();
        let upstream_request = text_pairs(state.map(map_type::HTTP_REQUEST_HEADERS));
        let status = if request.upstream_status == 0 { 200 } else { request.upstream_status };
        let mut response: HeaderMap = vec![(":status".to_owned(), status.to_string().into_bytes())];
        response.extend(request.upstream_headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec())));
        let count = response.len() as i32;
        state.maps.insert(map_type::HTTP_RESPONSE_HEADERS, response);
        call_hook(&self.hooks.on_response_headers, &mut self.store, (context, count, 1), ACTION_CONTINUE)?;
        let response_headers = text_pairs(self.store.data_mut().map(map_type::HTTP_RESPONSE_HEADERS));
        let status = response_headers.iter().find(|(n, _)| n == ":status").and_then(|(_, v)| v.parse().ok()).unwrap_or(status);
        Ok(Exchange { status, local_reply: None, upstream_request: Some(upstream_request), upstream_body: vec![], response_headers, logs: vec![], http_calls: vec![], held_ms: 0, request_hooks: std::time::Duration::ZERO })
    }

    fn finish(&mut self, context: i32) -> wasmtime::Result<()> {
        call_hook(&self.hooks.on_log, &mut self.store, context, ())?;
        call_hook(&self.hooks.on_done, &mut self.store, context, 1)?;
        call_hook(&self.hooks.on_delete, &mut self.store, context, ())
    }
}

impl Hooks {
    fn find(instance: &Instance, store: &mut Store<HostState>) -> Hooks {
        Hooks {
            on_context_create: instance.get_typed_func(&mut *store, "proxy_on_context_create").ok(),
            on_request_headers: instance.get_typed_func(&mut *store, "proxy_on_request_headers").ok(),
            on_request_body: instance.get_typed_func(&mut *store, "proxy_on_request_body").ok(),
            on_request_trailers: instance.get_typed_func(&mut *store, "proxy_on_request_trailers").ok(),
            on_response_headers: instance.get_typed_func(&mut *store, "proxy_on_response_headers").ok(),
            on_http_call_response: instance.get_typed_func(&mut *store, "proxy_on_http_call_response").ok(),
            on_log: instance.get_typed_func(&mut *store, "proxy_on_log").ok(),
            on_done: instance.get_typed_func(&mut *store, "proxy_on_done").ok(),
            on_delete: instance.get_typed_func(&mut *store, "proxy_on_delete").ok(),
            on_tick: instance.get_typed_func(&mut *store, "proxy_on_tick").ok(),
        }
    }
}

fn text_pairs(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter().map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned())).collect()
}
