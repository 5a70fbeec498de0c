//! The root context: parses and checks the configuration once per (re)configuration,
//! keeps remote keys fresh, and decides held requests once their keys arrive.

use crate::held::{Held, HeldRequests};
use crate::host;
use crate::http::{self, Decision, WsgateHttp};
use crate::keys::RemoteKeys;
use crate::metrics::Metrics;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action as ProxyAction, BufferType, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use wsgate_core::Gate;

/// What every request of this VM shares.
pub struct Shared {
    pub gate: RefCell<Gate>,
    pub metrics: Metrics,
    pub keys: RefCell<RemoteKeys>,
    pub held: RefCell<HeldRequests>,
    /// Explanation headers of held requests, decided by the root, by context id.
    pub response_headers: RefCell<HashMap<u32, Vec<(String, String)>>>,
}

/// Counters are handed over, and the shared keys checked, this often.
const TICK_PERIOD: Duration = Duration::from_secs(1);
/// With remote keys the root ticks faster, so that a fetch a request claimed starts,
/// and a request held for another VM's fetch is decided, within this long.
const KEYS_TICK_PERIOD: Duration = Duration::from_millis(100);

pub struct WsgateRoot {
    context_id: u32,
    shared: Option<Rc<Shared>>,
    /// When the shared keys were last checked (Unix ms).
    keys_checked_at: u64,
}

impl WsgateRoot {
    pub fn new(context_id: u32) -> Self {
        Self { context_id, shared: None, keys_checked_at: 0 }
    }

    /// Fetches what is due, installs what other VMs fetched, and decides the held
    /// requests that can be decided.
    fn tend_keys(&mut self, shared: &Shared, now_ms: u64) {
        let busy = shared.held.try_borrow().is_ok_and(|held| !held.is_empty())
            || shared.keys.try_borrow().is_ok_and(|keys| keys.dispatch_wanted());
        let due = now_ms.saturating_sub(self.keys_checked_at) >= TICK_PERIOD.as_millis() as u64;
        if !busy && !due {
            return;
        }
        let changed = {
            let (Ok(mut keys), Ok(mut gate)) = (shared.keys.try_borrow_mut(), shared.gate.try_borrow_mut()) else { return };
            if keys.is_empty() {
                return;
            }
            if due {
                self.keys_checked_at = now_ms;
                keys.report_age(now_ms);
            }
            keys.refresh(&mut gate, now_ms)
        };
        let Ok(fetching) = shared.keys.try_borrow().map(|keys| keys.fetching_providers(now_ms)) else { return };
        // Held here, fetched by another VM: decide once its fetch has ended.
        self.release(shared, now_ms, |held| changed.contains(&held.provider) || now_ms >= held.deadline_ms || !fetching.contains(&held.provider));
    }

    /// Decides the held requests that `ready` picks, on their own contexts.
    fn release(&self, shared: &Shared, now_ms: u64, ready: impl FnMut(&Held) -> bool) {
        let released = match shared.held.try_borrow_mut() {
            Ok(mut held) => held.release(ready),
            Err(_) => return,
        };
        if released.is_empty() {
            return;
        }
        for held in released {
            // A client that went away has no context left to act on.
            if host::act_for(held.context_id) {
                decide_held(shared, held.context_id, now_ms);
            }
        }
        host::act_for(self.context_id);
    }
}

/// The held request of the effective context, decided again with whatever keys there
/// are now, and carried out: it is not held a second time.
fn decide_held(shared: &Shared, context_id: u32, now_ms: u64) {
    let Some(request) = host::request_headers() else {
        http::fail_closed();
        return;
    };
    match http::decide(shared, &request, now_ms, false) {
        Some(Decision::Final(verdict)) => {
            let (action, headers) = http::conclude(shared, verdict, now_ms / 1000);
            if !headers.is_empty()
                && let Ok(mut stored) = shared.response_headers.try_borrow_mut()
            {
                stored.insert(context_id, headers);
            }
            if action == ProxyAction::Continue && !host::resume_request() {
                http::fail_closed();
            }
        }
        _ => {
            http::fail_closed();
        }
    }
}

impl Context for WsgateRoot {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let (Some(shared), Some(now_ms)) = (self.shared.clone(), host::now_ms()) else { return };
        let provider = {
            let (Ok(mut keys), Ok(mut gate)) = (shared.keys.try_borrow_mut(), shared.gate.try_borrow_mut()) else { return };
            keys.on_response(&mut gate, token_id, body_size, now_ms)
        };
        // Fetched or failed, the wait is over for requests held for these keys.
        if let Some(provider) = provider {
            self.release(&shared, now_ms, |held| held.provider == provider);
        }
    }
}

impl RootContext for WsgateRoot {
    /// Returning false makes Envoy refuse the configuration instead of serving with it.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, plugin_configuration_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Gate::from_json(&config) {
            Ok(gate) => {
                for warning in &gate.settings().warnings {
                    let _ = hostcalls::log(LogLevel::Warn, &format!("wsgate: configuration warning: {warning}"));
                }
                // The first fetch waits for the first tick: while Envoy is still
                // loading its configuration, clusters may not exist yet, and a call
                // made then never answers.
                let keys = RemoteKeys::new(&gate);
                let period = if keys.is_empty() { TICK_PERIOD } else { KEYS_TICK_PERIOD };
                self.shared = Some(Rc::new(Shared {
                    gate: RefCell::new(gate),
                    metrics: Metrics::define(),
                    keys: RefCell::new(keys),
                    held: RefCell::default(),
                    response_headers: RefCell::default(),
                }));
                let _ = hostcalls::set_tick_period(period);
                true
            }
            Err(errors) => {
                for error in &errors.0 {
                    let _ = hostcalls::log(LogLevel::Critical, &format!("wsgate: invalid configuration: {error}"));
                }
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let (Some(shared), Some(now_ms)) = (self.shared.clone(), host::now_ms()) else { return };
        // An empty flush costs nothing; counts wait at most one tick.
        shared.metrics.flush();
        self.tend_keys(&shared, now_ms);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WsgateHttp::new(context_id, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
