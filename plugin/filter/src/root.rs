//! The root context: parses and checks the configuration once per (re)configuration,
//! keeps remote keys and the group-lookup access token fresh, and decides held
//! requests once what they wait for arrives or their wait runs out.

use crate::groups::LiveLookups;
use crate::held::{HeldRequests, Waiting};
use crate::host;
use crate::http::{self, WsgateHttp};
use crate::keys::RemoteKeys;
use crate::metrics::Metrics;
use crate::resume::{self, waits_for_keys};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use wsgate_core::Gate;
use wsgate_core::config::DecisionLogTo;

/// What every request of this VM shares.
pub struct Shared {
    pub gate: RefCell<Gate>,
    pub metrics: Metrics,
    pub keys: RefCell<RemoteKeys>,
    /// Live group lookups, when configured.
    pub lookups: Option<RefCell<LiveLookups>>,
    pub held: RefCell<HeldRequests>,
    /// Explanation headers of held requests, decided by the root, by context id.
    pub response_headers: RefCell<HashMap<u32, Vec<(String, String)>>>,
    /// Where decision log lines go.
    pub decision_log_to: DecisionLogTo,
}

/// Counters are handed over, and the shared keys checked, this often.
const TICK_PERIOD: Duration = Duration::from_secs(1);
/// With remote keys or live groups the root ticks faster, so that a fetch a request
/// claimed starts, and a held request is decided at its deadline, within this long.
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
        resume::release(shared, now_ms, self.context_id, |held| waits_for_keys(held, |p| changed.contains(&p) || !fetching.contains(&p)));
    }

    /// Starts lookups that wait for nothing but a call (a token refresh is due, or a
    /// lookup's call lapsed) and hands the cache counts to Envoy.
    fn tend_groups(&self, shared: &Shared, now_ms: u64) {
        let Some(lookups) = shared.lookups.as_ref() else { return };
        let settled = {
            let (Ok(mut lookups), Ok(mut gate)) = (lookups.try_borrow_mut(), shared.gate.try_borrow_mut()) else { return };
            lookups.report(&gate);
            lookups.pump(&mut gate, now_ms, self.context_id)
        };
        if settled {
            resume::release(shared, now_ms, self.context_id, |held| held.waiting == Waiting::Groups);
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
            resume::release(&shared, now_ms, self.context_id, |held| held.waiting == Waiting::Keys(provider));
        } else if http::on_group_answer(&shared, token_id, body_size, now_ms, self.context_id) {
            resume::release(&shared, now_ms, self.context_id, |held| held.waiting == Waiting::Groups);
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
                    host::log(LogLevel::Warn, &format!("wsgate: configuration warning: {warning}"));
                }
                // The first fetch waits for the first tick: while Envoy is still
                // loading its configuration, clusters may not exist yet, and a call
                // made then never answers.
                let keys = RemoteKeys::new(&gate);
                let lookups = LiveLookups::new(&gate);
                let period = if keys.is_empty() && lookups.is_none() { TICK_PERIOD } else { KEYS_TICK_PERIOD };
                let decision_log_to = gate.settings().decision_log_to;
                self.shared = Some(Rc::new(Shared {
                    gate: RefCell::new(gate),
                    metrics: Metrics::define(),
                    keys: RefCell::new(keys),
                    lookups: lookups.map(RefCell::new),
                    held: RefCell::default(),
                    response_headers: RefCell::default(),
                    decision_log_to,
                }));
                let _ = hostcalls::set_tick_period(period);
                true
            }
            Err(errors) => {
                for error in &errors.0 {
                    host::log(LogLevel::Critical, &format!("wsgate: invalid configuration: {error}"));
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
        self.tend_groups(&shared, now_ms);
        resume::release(&shared, now_ms, self.context_id, |held| now_ms >= held.deadline_ms);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WsgateHttp::new(context_id, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
