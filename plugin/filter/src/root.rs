//! The root context: parses and checks the configuration once per (re)configuration.

use crate::http::WsgateHttp;
use crate::metrics::Metrics;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wsgate_core::Gate;

/// What every request of this VM shares.
pub struct Shared {
    pub gate: RefCell<Gate>,
    pub metrics: Metrics,
}

const METRICS_FLUSH_PERIOD: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct WsgateRoot {
    shared: Option<Rc<Shared>>,
}

impl Context for WsgateRoot {}

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
                self.shared = Some(Rc::new(Shared { gate: RefCell::new(gate), metrics: Metrics::define() }));
                // The tick hands over counts that no later request would flush.
                let _ = hostcalls::set_tick_period(METRICS_FLUSH_PERIOD);
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
        if let Some(shared) = &self.shared {
            shared.metrics.flush();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WsgateHttp::new(self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
