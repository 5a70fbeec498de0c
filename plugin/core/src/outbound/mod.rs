//! Every call wsgate makes to the outside world, in one I/O-free engine: key
//! fetches, the metadata server's access token, Cloud Identity group names and
//! membership checks, and the requests paused until they answer.
//!
//! Shaped like quinn-proto: the engine takes ticks, answers and the requests that
//! need something, and emits [`Effect`]s (calls to make, lines to log, metrics to
//! move) that the proxy glue carries out; the glue tells it which calls started and
//! hands answers back. Shared data between VMs goes through [`SharedRecords`]. One
//! clock (Unix milliseconds), one backoff and one lapse rule ([`crate::backoff`]).

pub mod access_token;
pub mod call;
pub mod effects;
pub mod exchange;
pub mod groups;
pub mod keys;
pub mod paused;
pub mod shared;

pub use call::{Answer, CallId, OutboundCall};
pub use effects::{Effect, Level, Metric, MetricKind};
pub use keys::KeyWait;
pub use paused::{Paused, WaitingFor};
pub use shared::SharedRecords;

use crate::gate::Gate;
use crate::session::exchange::{ExchangeAnswer, ExchangeRequest, MAX_ANSWER_BYTES};
use effects::Outbox;
use exchange::Exchanges;
use groups::GroupLookups;
use keys::KeyFetcher;
use paused::PausedRequests;
use std::collections::HashMap;

/// The shared keys are checked (installed from other VMs, age reported) this often.
const KEYS_CHECK_MS: u64 = 1000;

/// The outbound state of one VM.
#[derive(Debug)]
pub struct Outbound {
    keys: KeyFetcher,
    groups: Option<GroupLookups>,
    paused: PausedRequests,
    exchanges: Exchanges,
    outbox: Outbox,
    /// The proxy's token of each call started, to the engine's id.
    started: HashMap<u32, CallId>,
    /// When the shared keys were last checked.
    keys_checked_at: u64,
    /// How many times lookups settled without an answer (failed on the spot).
    lookups_failed_on_the_spot: u64,
}

impl Outbound {
    pub fn new(gate: &Gate) -> Self {
        Self {
            keys: KeyFetcher::new(gate),
            groups: GroupLookups::new(gate),
            paused: PausedRequests::default(),
            exchanges: Exchanges::default(),
            outbox: Outbox::default(),
            started: HashMap::new(),
            keys_checked_at: 0,
            lookups_failed_on_the_spot: 0,
        }
    }

    /// Nothing to fetch, ever: no remote keys and no live groups.
    pub fn is_idle(&self) -> bool {
        self.keys.is_empty() && self.groups.is_none()
    }

    /// Every metric this engine may move, to define up front.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut metrics: Vec<Metric> = self
            .keys
            .provider_indexes()
            .flat_map(|i| [Metric::JwksFetched(i), Metric::JwksFailed(i), Metric::JwksAgeSeconds(i)])
            .collect();
        if self.groups.is_some() {
            metrics.extend([Metric::GroupCacheHits, Metric::GroupCacheMisses, Metric::GroupStale, Metric::GroupLookupsFailed, Metric::GroupLookupMs]);
        }
        metrics
    }

    /// The next thing for the proxy to do. The glue carries every effect out before
    /// its callback returns, from the context that made the engine call: a call's
    /// answer comes back to the context that made it.
    pub fn next_effect(&mut self) -> Option<Effect> {
        self.outbox.take()
    }

    /// Call `id` started; the proxy will answer it under `token`.
    pub fn call_started(&mut self, id: CallId, token: u32) {
        self.started.insert(token, id);
    }

    /// Call `id` could not be made (`why`: the proxy's status).
    pub fn call_not_started(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, id: CallId, why: &str, now: u64) {
        if let Some(context_id) = self.exchanges.answered(id, &Answer::none()) {
            self.outbox.log(Level::Warn, format!("wsgate: the sign-in's code exchange could not be sent: {why}"));
            self.paused.wake(WaitingFor::Exchange(context_id), true, now);
        } else if let Some(provider) = self.keys.not_started(gate, store, &mut self.outbox, id, why, now) {
            self.paused.wake(WaitingFor::Keys(provider), true, now);
        } else if let Some(groups) = self.groups.as_mut()
            && groups.not_started(gate, &mut self.outbox, id, why, now) == Some(true)
        {
            self.failed_on_the_spot(now);
        }
    }

    /// Lookups settled as failed without a call answering: requests paused for them
    /// are decided with what there is.
    fn failed_on_the_spot(&mut self, now: u64) {
        self.lookups_failed_on_the_spot += 1;
        self.paused.wake(WaitingFor::Groups, false, now);
    }

    /// A count that grows whenever lookups fail on the spot (a call that could not
    /// be made, no token to make it with): compared before and after starting a
    /// request's lookups (and carrying the calls out), it says whether to decide that
    /// request now rather than pause it.
    pub fn lookups_failed_on_the_spot(&self) -> u64 {
        self.lookups_failed_on_the_spot
    }

    /// How much of the answer to `token`'s body to read; `None` if it is not a
    /// call of this engine's.
    pub fn answer_limit(&self, token: u32) -> Option<usize> {
        let id = *self.started.get(&token)?;
        if self.keys.owns(id) {
            Some(keys::MAX_JWKS_BYTES)
        } else if self.exchanges.owns(id) {
            Some(MAX_ANSWER_BYTES)
        } else {
            self.groups.as_ref().filter(|g| g.owns(id)).map(|_| groups::MAX_ANSWER_BYTES)
        }
    }

    /// The answer to `token` (or its failure: [`Answer::none`]) arrived on
    /// `context_id`. Calls it leads to are made from that context.
    pub fn answered(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, token: u32, answer: &Answer, now: u64, context_id: u32) {
        let Some(id) = self.started.remove(&token) else { return };
        if let Some(context_id) = self.exchanges.answered(id, answer) {
            self.paused.wake(WaitingFor::Exchange(context_id), true, now);
        } else if let Some(provider) = self.keys.answered(gate, store, &mut self.outbox, id, answer, now) {
            // Fetched or failed, the wait is over for requests paused for these keys.
            self.paused.wake(WaitingFor::Keys(provider), true, now);
        } else if let Some(groups) = self.groups.as_mut()
            && groups.answered(gate, &mut self.outbox, id, answer, now, context_id) == Some(true)
        {
            self.paused.wake(WaitingFor::Groups, true, now);
        }
    }

    /// The root's tick on `context_id`: keys installed, fetched and reported, group
    /// lookups that wait for nothing but a call made, counts reported.
    pub fn tick(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, now: u64, context_id: u32) {
        self.forget_unowned_tokens();
        self.tick_keys(gate, store, now);
        if let Some(groups) = self.groups.as_mut() {
            groups.report(gate, &mut self.outbox);
            if groups.pump(gate, &mut self.outbox, now, context_id) {
                self.paused.wake(WaitingFor::Groups, true, now);
            }
        }
    }

    fn tick_keys(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, now: u64) {
        let due = now.saturating_sub(self.keys_checked_at) >= KEYS_CHECK_MS;
        let busy = !self.paused.is_empty() || self.keys.fetch_claimed();
        if self.keys.is_empty() || (!busy && !due) {
            return;
        }
        if due {
            self.keys_checked_at = now;
            self.keys.report_age(&*store, &mut self.outbox, now);
        }
        let changed = self.keys.tick(gate, store, &mut self.outbox, now);
        let fetching = self.keys.fetching(&*store, now);
        // Paused here, fetched by another VM: decide once its fetch has ended.
        for provider in self.keys.provider_indexes().collect::<Vec<_>>() {
            if changed.contains(&provider) || !fetching.contains(&provider) {
                self.paused.wake(WaitingFor::Keys(provider), true, now);
            }
        }
    }

    /// A request was refused for want of `provider`'s keys: whether to pause it.
    pub fn keys_missing(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, provider: usize, unknown_kid: bool, now: u64) -> KeyWait {
        self.keys.keys_missing(gate, store, &mut self.outbox, provider, unknown_kid, now)
    }

    /// Queues the group lookups decisions asked for, to be made from `context_id`
    /// once the glue carries the calls out. Lookups that fail on the spot count in
    /// [`Outbound::lookups_failed_on_the_spot`].
    pub fn start_group_lookups(&mut self, gate: &mut Gate, now: u64, context_id: u32) {
        let Some(groups) = self.groups.as_mut() else { return };
        if gate.wants_group_lookups() && groups.pump(gate, &mut self.outbox, now, context_id) {
            self.failed_on_the_spot(now);
        }
    }

    /// Queues the code exchange of sign-in callback `context_id`, to be made from
    /// that context once the glue carries the call out; false if it has one already.
    pub fn start_exchange(&mut self, context_id: u32, request: &ExchangeRequest) -> bool {
        self.exchanges.start(&mut self.outbox, context_id, request)
    }

    /// The answer to the code exchange of request `context_id`, once there is one
    /// (see [`Exchanges::answer_for`]).
    pub fn exchange_answer(&mut self, context_id: u32, may_wait: bool) -> Option<ExchangeAnswer> {
        self.exchanges.answer_for(context_id, may_wait)
    }

    pub fn pause(&mut self, paused: Paused) {
        self.paused.pause(paused);
    }

    /// The requests to decide again now: what they waited for came, or their wait
    /// ran out.
    pub fn take_ready(&mut self, now: u64) -> Vec<Paused> {
        self.paused.take_ready(now)
    }

    /// A request ended: it is no longer paused, and the calls it made were cancelled
    /// by Envoy (their lookups are made again by the root).
    pub fn context_done(&mut self, context_id: u32) {
        self.paused.forget(context_id);
        self.exchanges.context_done(context_id);
        if let Some(groups) = self.groups.as_mut() {
            groups.context_done(context_id);
        }
        self.forget_unowned_tokens();
    }

    /// Tokens of calls no machine waits for any more (cancelled, or lapsed).
    fn forget_unowned_tokens(&mut self) {
        let (keys, groups, exchanges) = (&self.keys, &self.groups, &self.exchanges);
        self.started.retain(|_, id| keys.owns(*id) || exchanges.owns(*id) || groups.as_ref().is_some_and(|g| g.owns(*id)));
    }
}
