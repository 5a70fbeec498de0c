//! The root context: parses and checks the configuration once per (re)configuration,
//! ticks the outbound engine (keys, the access token, group lookups), and decides
//! paused requests once what they wait for arrives or their wait runs out.

use crate::host::{self, LogLevel};
use crate::outbound::{self, HostRecords};
use crate::resume;
use crate::vm::Vm;
use wsgate_core::config::Profile;
use std::cell::RefCell;
use std::rc::Rc;

/// Counters are handed over, and the shared keys checked, this often (ms).
const TICK_PERIOD_MS: u32 = 1000;
/// With remote keys or live groups the root ticks faster, so that a fetch a request
/// claimed starts, and a paused request is decided at its deadline, within this long.
const BUSY_TICK_PERIOD_MS: u32 = 100;

pub struct Root {
    context_id: u32,
    /// Replaced on every (re)configuration; requests keep the one they started with.
    vm: RefCell<Option<Rc<Vm>>>,
}

impl Root {
    pub fn new(context_id: u32) -> Self {
        Self { context_id, vm: RefCell::new(None) }
    }

    /// The VM state requests created now share.
    pub fn vm(&self) -> Option<Rc<Vm>> {
        self.vm.try_borrow().ok()?.clone()
    }

    pub fn on_call_answer(&self, token: u32, body_size: usize) {
        let (Some(vm), Ok(now)) = (self.vm(), host::now_ms()) else { return };
        if outbound::deliver(&vm, token, body_size, now, self.context_id) {
            resume::resume_ready(&vm, now, self.context_id);
        }
    }

    /// False makes Envoy refuse the configuration instead of serving with it.
    pub fn configure(&self, plugin_configuration_size: usize) -> bool {
        let config = match host::plugin_configuration(plugin_configuration_size) {
            Ok(config) => config,
            Err(error) => {
                host::log(LogLevel::Critical, &format!("wsgate: cannot read the plugin configuration: {error}"));
                return false;
            }
        };
        match Vm::configure(&config) {
            Ok(vm) => {
                for warning in &vm.gate.borrow().settings().warnings {
                    host::log(LogLevel::Warn, &format!("wsgate: configuration warning: {warning}"));
                }
                if vm.gate.borrow().settings().policy.reads_bodies() {
                    // The filter cannot ask Envoy which it is: say it once, where the operator looks.
                    host::log(LogLevel::Info, "wsgate: `on_behalf_of` callers are decided on the body: the filter needs Envoy's `allow_on_headers_stop_iteration: true` (Envoy 1.35+), or their requests wait until they time out (never forwarded)");
                }
                // The first fetch waits for the first tick: while Envoy is still
                // loading its configuration, clusters may not exist yet, and a call
                // made then never answers.
                let idle = vm.outbound.borrow().is_idle();
                let period = if idle { TICK_PERIOD_MS } else { BUSY_TICK_PERIOD_MS };
                // Service Extensions has no timers; the profile needs none (nothing is
                // fetched, and no counters are handed over).
                let timers = vm.gate.borrow().settings().profile != Profile::ServiceExtensions;
                if timers && let Err(error) = host::set_tick_period_ms(period) {
                    // Without ticks no key is ever fetched and counts wait for traffic.
                    host::log(LogLevel::Critical, &format!("wsgate: cannot set the tick period: {error}"));
                    return false;
                }
                let Ok(mut current) = self.vm.try_borrow_mut() else { return false };
                *current = Some(Rc::new(vm));
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

    pub fn tick(&self) {
        let (Some(vm), Ok(now)) = (self.vm(), host::now_ms()) else { return };
        // An empty flush costs nothing; counts wait at most one tick.
        vm.metrics.flush();
        if let (Ok(mut engine), Ok(mut gate)) = (vm.outbound.try_borrow_mut(), vm.gate.try_borrow_mut()) {
            engine.tick(&mut gate, &mut HostRecords, now, self.context_id);
        }
        outbound::carry(&vm, now);
        resume::resume_ready(&vm, now, self.context_id);
    }
}
