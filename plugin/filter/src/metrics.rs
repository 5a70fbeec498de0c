//! Decision counters, visible in Envoy's `/stats` as `wasmcustom.wsgate.*`:
//! totals, one per reason code, one per rule and effect, and dry-run "would deny".
//!
//! Counts are added up inside the VM and handed to Envoy at most once a second (and
//! on the root context's tick when traffic stops): each host call costs more than the
//! policy decision itself, and Envoy only reports stats every few seconds anyway.

use crate::host::{self, MetricType};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wsgate_core::Reason;
use wsgate_core::Verdict;
use wsgate_core::outbound::{Metric, MetricKind};
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
    /// Counts not yet handed to Envoy, by counter id.
    pending: RefCell<Vec<(u32, u64)>>,
    /// The second (host clock) of the last hand-over.
    flushed_at: Cell<u64>,
    /// The outbound engine's metrics.
    outbound: HashMap<Metric, u32>,
    /// False where the host has no custom metrics (Service Extensions): nothing is
    /// defined, counted or handed over.
    enabled: bool,
}

/// Past this many distinct pending counters (a policy with many rules), hand over now
/// rather than scan a long list per request.
const PENDING_LIMIT: usize = 64;

const MEMORY_SAMPLE_EVERY: u64 = 1024;

/// Defines a metric; `None` if the host refuses, and then it is skipped.
fn define(kind: MetricType, name: &str) -> Option<u32> {
    host::define_metric(kind, name).ok()
}

/// Adds `delta` to counter `id`, if it was defined.
fn add(id: Option<u32>, delta: u64) {
    if let Some(id) = id {
        let _ = host::increment_metric(id, delta);
    }
}

/// Sets gauge `id`, or records a histogram sample, if it was defined.
fn record(id: Option<u32>, value: u64) {
    if let Some(id) = id {
        let _ = host::record_metric(id, value);
    }
}

fn counter(name: &str) -> Option<u32> {
    define(MetricType::Counter, name)
}

impl Metrics {
    /// Metrics for a host without custom metrics: every call a no-op.
    pub fn disabled() -> Self {
        Self::define(&[], false)
    }

    /// Defines the fixed counters up front, so dashboards see zeros rather than gaps.
    pub fn define(outbound: &[(Metric, String)], enabled: bool) -> Self {
        let define = |kind: MetricType, name: &str| if enabled { define(kind, name) } else { None };
        let counter = |name: &str| define(MetricType::Counter, name);
        let kind = |metric: Metric| match metric.kind() {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Gauge => MetricType::Gauge,
            MetricKind::Histogram => MetricType::Histogram,
        };
        Self {
            outbound: outbound.iter().filter_map(|(metric, name)| Some((*metric, define(kind(*metric), name)?))).collect(),
            allowed: counter("wsgate.requests.allowed"),
            denied: counter("wsgate.requests.denied"),
            would_deny: counter("wsgate.dry_run.would_deny"),
            by_reason: Reason::ALL
                .into_iter()
                .filter_map(|reason| Some((reason, counter(&format!("wsgate.reason.{}", reason.code()))?)))
                .collect(),
            by_rule: RefCell::default(),
            memory: define(MetricType::Gauge, "wsgate.vm.memory_bytes"),
            requests: Cell::new(0),
            pending: RefCell::default(),
            flushed_at: Cell::new(0),
            enabled,
        }
    }

    /// Adds to one of the outbound engine's counters.
    pub fn add_outbound(&self, metric: Metric, delta: u64) {
        add(self.outbound.get(&metric).copied(), delta);
    }

    /// Sets one of the outbound engine's gauges, or records a sample.
    pub fn record_outbound(&self, metric: Metric, value: u64) {
        record(self.outbound.get(&metric).copied(), value);
    }

    /// Samples the VM's memory now and then: enough to see growth, free per request.
    pub fn sample_memory(&self) {
        if !self.enabled {
            return;
        }
        let seen = self.requests.get();
        self.requests.set(seen.wrapping_add(1));
        if seen.is_multiple_of(MEMORY_SAMPLE_EVERY) {
            record(self.memory, linear_memory_bytes());
        }
    }

    /// Counts a decision made at `now_ms` (Unix ms); counts are handed over once a second.
    pub fn count(&self, verdict: &Verdict, now_ms: u64) {
        if !self.enabled {
            return;
        }
        let second = now_ms / 1000;
        let total = if verdict.reason.admits() { self.allowed } else { self.denied };
        let dry_run = verdict.would_deny.as_ref().and(self.would_deny);
        let rule = verdict.rule.as_ref().and_then(|rule| self.rule_counter(rule.id, &rule.name, rule.effect.name()));
        let Ok(mut pending) = self.pending.try_borrow_mut() else { return };
        for id in [total, self.by_reason.get(&verdict.reason).copied(), dry_run, rule].into_iter().flatten() {
            match pending.iter_mut().find(|(pending_id, _)| *pending_id == id) {
                Some((_, count)) => *count += 1,
                None => pending.push((id, 1)),
            }
        }
        let due = second != self.flushed_at.get() || pending.len() > PENDING_LIMIT;
        drop(pending);
        if due {
            self.flushed_at.set(second);
            self.flush();
        }
    }

    /// Hands every pending count to Envoy.
    pub fn flush(&self) {
        let Ok(mut pending) = self.pending.try_borrow_mut() else { return };
        for (id, count) in pending.drain(..) {
            add(Some(id), count);
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
