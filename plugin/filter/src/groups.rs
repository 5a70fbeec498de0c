//! Live group lookups for this VM, through Envoy's HTTP client: the metadata
//! server's access token (kept until shortly before it expires), Cloud Identity group
//! names, and the membership questions the gate's cache asks. What to send and what
//! answers mean is `wsgate_core::group_lookup`; when to ask is `wsgate_core::group_cache`.
//!
//! Calls are made from whichever context needs them (a request's, or the root's on
//! its tick), and their answers come back to that context: the Rust SDK routes an
//! answer to the context that dispatched the call, and Envoy cancels a finished
//! request's calls. So a request that ends hands its unanswered calls back
//! ([`LiveLookups::context_done`]) and the root makes them again on its next tick.

use crate::host;
use crate::metrics;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MetricType};
use std::collections::HashMap;
use std::time::Duration;
use wsgate_core::{Gate, RequestHeaders, backoff};
use wsgate_core::group_cache::{GroupStats, LookupKey};
use wsgate_core::group_lookup::{ApiAnswer, ApiFailure, Found, GroupLookup, group_name_path};
use wsgate_core::policy::groups::GroupId;

/// Google's answers here are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A token is refreshed this long before it expires (or at half its life if shorter).
const TOKEN_REFRESH_MARGIN_MS: u64 = 300_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    AccessToken,
    GroupName(GroupId),
    Membership(LookupKey),
}

struct InFlight {
    call: Call,
    started_ms: u64,
    /// The context that made it, and will receive its answer.
    context_id: u32,
}

struct AccessToken {
    value: String,
    refresh_at_ms: u64,
    expires_at_ms: u64,
}

/// Counter and histogram ids; a metric the host refuses is skipped.
struct GroupMetrics {
    hits: Option<u32>,
    misses: Option<u32>,
    stale: Option<u32>,
    failed: Option<u32>,
    lookup_ms: Option<u32>,
    /// The gate's counts already handed to Envoy.
    reported: GroupStats,
}

pub struct LiveLookups {
    rules: GroupLookup,
    token: Option<AccessToken>,
    /// After a failed token fetch, the next waits until then (backing off).
    token_retry_at_ms: u64,
    token_failures: u32,
    /// Cloud Identity resource names (`groups/…`) by group.
    names: HashMap<GroupId, String>,
    /// Lookups waiting for the access token or a group name.
    queued: Vec<LookupKey>,
    /// Calls in flight, by token.
    calls: HashMap<u32, InFlight>,
    metrics: GroupMetrics,
}

impl LiveLookups {
    /// `None` when the configuration has no `group_lookup`.
    pub fn new(gate: &Gate) -> Option<Self> {
        let metric = metrics::define;
        Some(Self {
            rules: gate.group_lookup()?.clone(),
            token: None,
            token_retry_at_ms: 0,
            token_failures: 0,
            names: HashMap::new(),
            queued: Vec::new(),
            calls: HashMap::new(),
            metrics: GroupMetrics {
                hits: metric(MetricType::Counter, "wsgate.groups.cache_hits"),
                misses: metric(MetricType::Counter, "wsgate.groups.cache_misses"),
                stale: metric(MetricType::Counter, "wsgate.groups.stale"),
                failed: metric(MetricType::Counter, "wsgate.groups.lookups_failed"),
                lookup_ms: metric(MetricType::Histogram, "wsgate.groups.lookup_ms"),
                reported: GroupStats::default(),
            },
        })
    }

    /// Makes every call that can be made now: the lookups the gate asked for, the
    /// access token and group names they need, a token refresh when one is due.
    /// Returns true if a lookup settled (failed) on the spot.
    pub fn pump(&mut self, gate: &mut Gate, now_ms: u64, context_id: u32) -> bool {
        self.forget_lapsed(now_ms);
        for key in gate.take_group_lookups() {
            if !self.queued.contains(&key) {
                self.queued.push(key);
            }
        }
        let token_due = self.token.as_ref().map_or(!self.queued.is_empty(), |t| now_ms >= t.refresh_at_ms);
        if token_due && now_ms >= self.token_retry_at_ms && !self.in_flight(|call| *call == Call::AccessToken) {
            self.fetch_token(now_ms, context_id);
        }
        let Some(bearer) = self.token.as_ref().filter(|t| now_ms < t.expires_at_ms).map(|t| format!("Bearer {}", t.value)) else {
            return self.fail_queued_if_no_token(gate, now_ms);
        };
        let mut undispatched = Vec::new();
        for key in std::mem::take(&mut self.queued) {
            let name = self.names.get(&key.group).cloned();
            if self.rules.needs_group_names() && name.is_none() {
                let asked = self.in_flight(|call| *call == Call::GroupName(key.group))
                    || self.fetch_group_name(gate, key.group, &bearer, now_ms, context_id);
                if asked {
                    self.queued.push(key);
                } else {
                    undispatched.push(key);
                }
                continue;
            }
            let Some(path) = self.rules.membership_path(gate.group_email(key.group), name.as_deref(), &key.user) else { continue };
            match self.dispatch(&self.rules.cluster, &self.rules.authority, &path, Some(&bearer)) {
                Some(id) => {
                    self.calls.insert(id, InFlight { call: Call::Membership(key), started_ms: now_ms, context_id });
                }
                None => undispatched.push(key),
            }
        }
        if !undispatched.is_empty() {
            gate.group_lookups_failed(&undispatched, now_ms / 1000, None);
        }
        !undispatched.is_empty()
    }

    /// An HTTP call answered (or failed). `None` if it was not one of these; else
    /// whether a lookup settled, so requests held for lookups may be decided again.
    pub fn on_response(&mut self, gate: &mut Gate, token_id: u32, body_size: usize, now_ms: u64, context_id: u32) -> Option<bool> {
        let InFlight { call, started_ms, .. } = self.calls.remove(&token_id)?;
        let headers = host::call_response_headers();
        let header = |name: &str| headers.header(name).map(|v| String::from_utf8_lossy(v).into_owned());
        let status = header(":status").and_then(|s| s.parse().ok());
        let retry_after = header("retry-after");
        let body = if body_size <= MAX_ANSWER_BYTES { host::call_response_body(body_size) } else { Vec::new() };
        let answer = ApiAnswer { status, retry_after: retry_after.as_deref(), body: &body };
        let now = now_ms / 1000;
        let settled = match call {
            Call::AccessToken => self.token_answered(gate, &answer, now_ms),
            Call::GroupName(group) => self.group_name_answered(gate, group, &answer, now),
            Call::Membership(key) => {
                metrics::record(self.metrics.lookup_ms, now_ms.saturating_sub(started_ms));
                self.membership_answered(gate, &key, &answer, now);
                true
            }
        };
        Some(self.pump(gate, now_ms, context_id) || settled)
    }

    /// A request ended: Envoy cancels the calls it made, so their lookups go back in
    /// the queue (still pending in the cache) for the root to make again.
    pub fn context_done(&mut self, context_id: u32) {
        let mut requeue = Vec::new();
        self.calls.retain(|_, in_flight| {
            if in_flight.context_id != context_id {
                return true;
            }
            if let Call::Membership(key) = &in_flight.call {
                requeue.push(key.clone());
            }
            false
        });
        self.queued.extend(requeue);
    }

    /// Hands the gate's cache counts to Envoy.
    pub fn report(&mut self, gate: &Gate) {
        let now = gate.group_stats();
        let before = std::mem::replace(&mut self.metrics.reported, now);
        let deltas = [
            (self.metrics.hits, now.hits - before.hits),
            (self.metrics.misses, now.misses - before.misses),
            (self.metrics.stale, now.stale - before.stale),
            (self.metrics.failed, now.failures - before.failures),
        ];
        for (id, delta) in deltas.into_iter().filter(|(_, delta)| *delta > 0) {
            metrics::add(id, delta);
        }
    }

    fn token_answered(&mut self, gate: &mut Gate, answer: &ApiAnswer<'_>, now_ms: u64) -> bool {
        match answer.access_token() {
            Ok((value, expires_in)) => {
                self.token_failures = 0;
                let lifetime_ms = expires_in.saturating_mul(1000);
                let margin = TOKEN_REFRESH_MARGIN_MS.min(lifetime_ms / 2);
                let expires_at_ms = now_ms.saturating_add(lifetime_ms);
                self.token = Some(AccessToken { value, refresh_at_ms: expires_at_ms.saturating_sub(margin), expires_at_ms });
                false
            }
            Err(failure) => {
                log(&format!("wsgate: getting an access token from cluster `{}` failed: {failure}; group lookups back off", self.rules.token_cluster));
                self.token_failed(now_ms);
                self.fail_queued(gate, now_ms / 1000, |_| true, retry_after(&failure))
            }
        }
    }

    fn group_name_answered(&mut self, gate: &mut Gate, group: GroupId, answer: &ApiAnswer<'_>, now: u64) -> bool {
        match answer.group_name() {
            Ok(Found::Yes(name)) => {
                self.names.insert(group, name);
                false
            }
            Ok(Found::NoSuchGroup) => {
                log(&format!("wsgate: Cloud Identity has no group `{}`: nobody is a member of it", gate.group_email(group)));
                let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queued).into_iter().partition(|k| k.group == group);
                self.queued = rest;
                for key in &done {
                    gate.group_lookup_done(key, Ok(false), now);
                }
                !done.is_empty()
            }
            Err(failure) => {
                log(&format!("wsgate: looking up group `{}` in Cloud Identity failed: {failure}", gate.group_email(group)));
                self.fail_queued(gate, now, |k| k.group == group, retry_after(&failure))
            }
        }
    }

    fn membership_answered(&mut self, gate: &mut Gate, key: &LookupKey, answer: &ApiAnswer<'_>, now: u64) {
        match answer.membership(self.rules.backend) {
            Ok(member) => gate.group_lookup_done(key, Ok(member), now),
            Err(failure) => {
                match failure {
                    ApiFailure::Unauthorized => self.token = None,
                    ApiFailure::GroupNameGone => {
                        self.names.remove(&key.group);
                    }
                    _ => {}
                }
                log(&format!("wsgate: checking whether `{}` is in group `{}` failed: {failure}", key.user, gate.group_email(key.group)));
                gate.group_lookup_done(key, Err(retry_after(&failure)), now);
            }
        }
    }

    /// Without a token and without a fetch under way (it could not be dispatched,
    /// or lookups are backing off), queued lookups fail now rather than wait.
    fn fail_queued_if_no_token(&mut self, gate: &mut Gate, now_ms: u64) -> bool {
        if self.in_flight(|call| *call == Call::AccessToken) {
            return false;
        }
        self.fail_queued(gate, now_ms / 1000, |_| true, None)
    }

    fn fail_queued(&mut self, gate: &mut Gate, now: u64, which: impl Fn(&LookupKey) -> bool, retry: Option<u64>) -> bool {
        let (failed, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queued).into_iter().partition(|k| which(k));
        self.queued = rest;
        if !failed.is_empty() {
            gate.group_lookups_failed(&failed, now, retry);
        }
        !failed.is_empty()
    }

    /// The next token fetch waits 1, 2, 4 … s, up to `max_retry_seconds`: a refresh
    /// due while the old token still works must not be retried on every tick.
    fn token_failed(&mut self, now_ms: u64) {
        let pause_ms = backoff::pause(1000, self.token_failures, self.rules.max_retry_seconds.saturating_mul(1000));
        self.token_failures = self.token_failures.saturating_add(1);
        self.token_retry_at_ms = now_ms.saturating_add(pause_ms);
    }

    fn fetch_token(&mut self, now_ms: u64, context_id: u32) {
        match self.dispatch(&self.rules.token_cluster, &self.rules.token_authority, &self.rules.token_path, None) {
            Some(id) => {
                self.calls.insert(id, InFlight { call: Call::AccessToken, started_ms: now_ms, context_id });
            }
            None => self.token_failed(now_ms),
        }
    }

    /// False if the call could not be made.
    fn fetch_group_name(&mut self, gate: &mut Gate, group: GroupId, bearer: &str, now_ms: u64, context_id: u32) -> bool {
        let path = group_name_path(gate.group_email(group));
        let Some(id) = self.dispatch(&self.rules.cluster, &self.rules.authority, &path, Some(bearer)) else { return false };
        self.calls.insert(id, InFlight { call: Call::GroupName(group), started_ms: now_ms, context_id });
        true
    }

    /// The metadata server wants `Metadata-Flavor: Google`; Google's APIs the bearer token.
    fn dispatch(&self, cluster: &str, authority: &str, path: &str, bearer: Option<&str>) -> Option<u32> {
        let mut headers = vec![(":method", "GET"), (":path", path), (":authority", authority), ("accept", "application/json"), ("user-agent", "wsgate")];
        match bearer {
            Some(bearer) => headers.push(("authorization", bearer)),
            None => headers.push(("metadata-flavor", "Google")),
        }
        let timeout = Duration::from_millis(self.rules.timeout_ms);
        match hostcalls::dispatch_http_call(cluster, headers, None, vec![], timeout) {
            Ok(id) => Some(id),
            Err(status) => {
                log(&format!("wsgate: cannot call cluster `{cluster}` for group lookups ({status:?}): is it defined in Envoy's clusters?"));
                None
            }
        }
    }

    fn in_flight(&self, which: impl Fn(&Call) -> bool) -> bool {
        self.calls.values().any(|in_flight| which(&in_flight.call))
    }

    /// Calls older than their timeout will not answer any more (their context went
    /// away): forget them so that they can be made again.
    fn forget_lapsed(&mut self, now_ms: u64) {
        let lapse_ms = self.rules.timeout_ms.saturating_add(1000);
        self.calls.retain(|_, in_flight| now_ms < in_flight.started_ms.saturating_add(lapse_ms));
    }
}

fn retry_after(failure: &ApiFailure) -> Option<u64> {
    match failure {
        ApiFailure::Overloaded { retry_after, .. } => *retry_after,
        _ => None,
    }
}

fn log(message: &str) {
    host::log(LogLevel::Warn, message);
}
