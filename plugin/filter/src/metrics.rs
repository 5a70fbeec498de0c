//! Decision counters, visible in Envoy's `/stats` as `wasmcustom.wsgate.*`.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::collections::HashMap;
use wsgate_core::Reason;

/// Counter ids of this VM: totals, and one counter per reason code.
#[derive(Default)]
pub struct Metrics {
    allowed: Option<u32>,
    denied: Option<u32>,
    by_reason: HashMap<Reason, u32>,
}

impl Metrics {
    /// Defines every counter up front, so dashboards see zeros rather than gaps.
    /// A counter the host refuses is skipped: counting must never block a decision.
    pub fn define() -> Self {
        let counter = |name: &str| hostcalls::define_metric(MetricType::Counter, name).ok();
        Self {
            allowed: counter("wsgate.requests.allowed"),
            denied: counter("wsgate.requests.denied"),
            by_reason: Reason::ALL
                .into_iter()
                .filter_map(|reason| Some((reason, counter(&format!("wsgate.reason.{}", reason.code()))?)))
                .collect(),
        }
    }

    pub fn count(&self, reason: Reason) {
        let total = if reason.admits() { self.allowed } else { self.denied };
        for id in [total, self.by_reason.get(&reason).copied()].into_iter().flatten() {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}
