//! Decision counters, visible in Envoy's `/stats` as `wasmcustom.wsgate.*`:
//! totals, one per reason code, one per rule and effect, and dry-run "would deny".

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wsgate_core::Reason;
use wsgate_core::Verdict;
use wsgate_core::policy::index::RuleId;

/// Counter ids of this VM. A counter the host refuses is skipped: counting must
/// never block a decision.
#[derive(Default)]
pub struct Metrics {
    allowed: Option<u32>,
    denied: Option<u32>,
    would_deny: Option<u32>,
    by_reason: HashMap<Reason, u32>,
    /// Defined on first use: a policy may have thousands of rules.
    by_rule: RefCell<HashMap<(RuleId, &'static str), Option<u32>>>,
    /// Gauge of this VM's linear memory, sampled every [`MEMORY_SAMPLE_EVERY`] requests.
    memory: Option<u32>,
    requests: Cell<u64>,
}

const MEMORY_SAMPLE_EVERY: u64 = 1024;

fn counter(name: &str) -> Option<u32> {
    hostcalls::define_metric(MetricType::Counter, name).ok()
}

impl Metrics {
    /// Defines the fixed counters up front, so dashboards see zeros rather than gaps.
    pub fn define() -> Self {
        Self {
            allowed: counter("wsgate.requests.allowed"),
            denied: counter("wsgate.requests.denied"),
            would_deny: counter("wsgate.dry_run.would_deny"),
            by_reason: Reason::ALL
                .into_iter()
                .filter_map(|reason| Some((reason, counter(&format!("wsgate.reason.{}", reason.code()))?)))
                .collect(),
            by_rule: RefCell::default(),
            memory: hostcalls::define_metric(MetricType::Gauge, "wsgate.vm.memory_bytes").ok(),
            requests: Cell::new(0),
        }
    }

    /// Samples the VM's memory now and then: enough to see growth, free per request.
    pub fn sample_memory(&self) {
        let seen = self.requests.get();
        self.requests.set(seen.wrapping_add(1));
        if let Some(id) = self.memory.filter(|_| seen.is_multiple_of(MEMORY_SAMPLE_EVERY)) {
            let _ = hostcalls::record_metric(id, linear_memory_bytes());
        }
    }

    pub fn count(&self, verdict: &Verdict) {
        let total = if verdict.reason.admits() { self.allowed } else { self.denied };
        let dry_run = verdict.would_deny.as_ref().and(self.would_deny);
        let rule = verdict.rule.as_ref().and_then(|rule| self.rule_counter(rule.id, &rule.name, rule.effect.name()));
        for id in [total, self.by_reason.get(&verdict.reason).copied(), dry_run, rule].into_iter().flatten() {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    fn rule_counter(&self, id: RuleId, name: &str, effect: &'static str) -> Option<u32> {
        let mut by_rule = self.by_rule.try_borrow_mut().ok()?;
        *by_rule.entry((id, effect)).or_insert_with(|| counter(&format!("wsgate.rule.{name}.{effect}")))
    }
}

#[cfg(target_arch = "wasm32")]
fn linear_memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 65_536
}

/// Native builds (clippy, tests) have no linear memory to report.
#[cfg(not(target_arch = "wasm32"))]
fn linear_memory_bytes() -> u64 {
    0
}
