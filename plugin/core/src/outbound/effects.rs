//! What the engine asks the proxy to do: make a call, write a log line, move a
//! metric. Collected in an [`Outbox`] and taken out one at a time by the glue, so a
//! state machine never touches the host itself.

use super::call::{CallId, OutboundCall};
use std::collections::VecDeque;

/// How bad a logged event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warn,
    Error,
}

/// The kind of an Envoy metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// A metric the engine moves; the glue defines each once and keeps its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Successful key fetches of provider (index).
    JwksFetched(usize),
    /// Failed key fetches of provider (index).
    JwksFailed(usize),
    /// Age of provider (index)'s keys, seconds.
    JwksAgeSeconds(usize),
    GroupCacheHits,
    GroupCacheMisses,
    GroupStale,
    GroupLookupsFailed,
    /// Time from a membership call to its answer, ms.
    GroupLookupMs,
}

impl Metric {
    pub fn kind(self) -> MetricKind {
        match self {
            Metric::JwksAgeSeconds(_) => MetricKind::Gauge,
            Metric::GroupLookupMs => MetricKind::Histogram,
            _ => MetricKind::Counter,
        }
    }

    /// Its name in Envoy's stats (under `wasmcustom.`); `provider` names a provider
    /// by index.
    pub fn name(self, provider: impl Fn(usize) -> String) -> String {
        match self {
            Metric::JwksFetched(index) => format!("wsgate.jwks.{}.fetched", provider(index)),
            Metric::JwksFailed(index) => format!("wsgate.jwks.{}.failed", provider(index)),
            Metric::JwksAgeSeconds(index) => format!("wsgate.jwks.{}.age_seconds", provider(index)),
            Metric::GroupCacheHits => "wsgate.groups.cache_hits".to_owned(),
            Metric::GroupCacheMisses => "wsgate.groups.cache_misses".to_owned(),
            Metric::GroupStale => "wsgate.groups.stale".to_owned(),
            Metric::GroupLookupsFailed => "wsgate.groups.lookups_failed".to_owned(),
            Metric::GroupLookupMs => "wsgate.groups.lookup_ms".to_owned(),
        }
    }
}

/// One thing for the proxy to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Make this call, then tell the engine it started (with the proxy's token) or
    /// could not.
    Call(OutboundCall),
    Log(Level, String),
    /// Add to a counter.
    Count(Metric, u64),
    /// Set a gauge, or record a histogram sample.
    Record(Metric, u64),
}

/// Effects waiting to be carried out, in order, and the next call's id.
#[derive(Debug, Default)]
pub struct Outbox {
    effects: VecDeque<Effect>,
    next_call: CallId,
}

impl Outbox {
    /// Queues a call; `build` receives its id.
    pub fn call(&mut self, build: impl FnOnce(CallId) -> OutboundCall) -> CallId {
        self.next_call += 1;
        let id = self.next_call;
        self.effects.push_back(Effect::Call(build(id)));
        id
    }

    pub fn log(&mut self, level: Level, line: String) {
        self.effects.push_back(Effect::Log(level, line));
    }

    pub fn count(&mut self, metric: Metric, delta: u64) {
        if delta > 0 {
            self.effects.push_back(Effect::Count(metric, delta));
        }
    }

    pub fn record(&mut self, metric: Metric, value: u64) {
        self.effects.push_back(Effect::Record(metric, value));
    }

    pub fn take(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }
}
