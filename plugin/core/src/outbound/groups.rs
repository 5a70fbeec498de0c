//! Live group lookups for one VM: the queue of membership questions the gate's
//! cache asks, the Cloud Identity group names they need, the access token they
//! carry, and the calls in flight with the context that made each. What to send and
//! what answers mean is [`crate::group_lookup`]; when to ask is [`crate::group_cache`].
//!
//! A call's answer comes back to the context that made it, and Envoy cancels a
//! finished request's calls: a request that ends hands its unanswered lookups back
//! ([`GroupLookups::context_done`]) and the root makes them again on its next tick.

use super::access_token::AccessToken;
use super::call::{Answer, CallId, OutboundCall};
use super::effects::{Level, Metric, Outbox};
use crate::gate::Gate;
use crate::backoff;
use crate::group_cache::{GroupStats, LookupKey};
use crate::group_lookup::{ApiAnswer, ApiFailure, Found, GroupLookup, group_name_path};
use crate::policy::groups::GroupId;
use std::collections::HashMap;

/// Google's answers here are a few hundred bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Question {
    GroupName(GroupId),
    Membership(LookupKey),
}

#[derive(Debug)]
struct InFlight {
    question: Question,
    started: u64,
    /// The context that made it, and will receive its answer.
    context_id: u32,
}

/// The lookups, names, token and calls of this VM.
#[derive(Debug)]
pub struct GroupLookups {
    rules: GroupLookup,
    token: AccessToken,
    /// Cloud Identity resource names (`groups/…`) by group.
    names: HashMap<GroupId, String>,
    /// Lookups waiting for the access token or a group name.
    queued: Vec<LookupKey>,
    calls: HashMap<CallId, InFlight>,
    /// The gate's counts already reported.
    reported: GroupStats,
}

impl GroupLookups {
    /// `None` when the configuration has no `group_lookup`.
    pub fn new(gate: &Gate) -> Option<Self> {
        Some(Self {
            rules: gate.group_lookup()?.clone(),
            token: AccessToken::default(),
            names: HashMap::new(),
            queued: Vec::new(),
            calls: HashMap::new(),
            reported: GroupStats::default(),
        })
    }

    pub fn owns(&self, id: CallId) -> bool {
        self.calls.contains_key(&id) || self.token.owns(id)
    }

    /// Queues the lookups the gate asked for and makes every call that can be made
    /// now from `context_id`: the access token, the group names and the membership
    /// questions, and a token refresh when one is due. True if lookups settled (failed)
    /// on the spot, so that requests paused for them may be decided again.
    pub fn pump(&mut self, gate: &mut Gate, outbox: &mut Outbox, now: u64, context_id: u32) -> bool {
        self.forget_lapsed(now);
        for key in gate.take_group_lookups() {
            if !self.queued.contains(&key) {
                self.queued.push(key);
            }
        }
        self.token.fetch_if_due(&self.rules, outbox, !self.queued.is_empty(), now, context_id);
        let Some(bearer) = self.token.bearer(now) else {
            // Without a token and without a fetch under way (it is backing off), the
            // queued lookups fail now rather than wait.
            return !self.token.fetching() && self.fail_queued(gate, now, |_| true, None);
        };
        for key in std::mem::take(&mut self.queued) {
            let name = self.names.get(&key.group).cloned();
            if self.rules.needs_group_names() && name.is_none() {
                if !self.asking(|q| *q == Question::GroupName(key.group)) {
                    let path = group_name_path(gate.group_email(key.group));
                    self.ask(outbox, Question::GroupName(key.group), &path, &bearer, now, context_id);
                }
                self.queued.push(key);
                continue;
            }
            let Some(path) = self.rules.membership_path(gate.group_email(key.group), name.as_deref(), &key.user) else { continue };
            self.ask(outbox, Question::Membership(key), &path, &bearer, now, context_id);
        }
        false
    }

    /// Call `id` answered (or failed: [`Answer::none`]) on `context_id`. `None` if it
    /// was not one of these; else whether a lookup settled.
    pub fn answered(&mut self, gate: &mut Gate, outbox: &mut Outbox, id: CallId, answer: &Answer, now: u64, context_id: u32) -> Option<bool> {
        let retry_after = answer.header("retry-after");
        let api = ApiAnswer { status: answer.status(), retry_after: retry_after.as_deref(), body: if answer.truncated() { &[] } else { &answer.body } };
        let settled = if self.token.owns(id) {
            self.token_answered(gate, outbox, &api, now)
        } else {
            let InFlight { question, started, .. } = self.calls.remove(&id)?;
            match question {
                Question::GroupName(group) => self.group_name_answered(gate, outbox, group, &api, now),
                Question::Membership(key) => {
                    outbox.record(Metric::GroupLookupMs, now.saturating_sub(started));
                    self.membership_answered(gate, outbox, &key, &api, now);
                    true
                }
            }
        };
        Some(self.pump(gate, outbox, now, context_id) || settled)
    }

    /// Call `id` could not be made (`why`: the proxy's status). `None` if it was not
    /// one of these; else whether lookups settled (they did: as failed).
    pub fn not_started(&mut self, gate: &mut Gate, outbox: &mut Outbox, id: CallId, why: &str, now: u64) -> Option<bool> {
        let cannot_call = |cluster: &str| format!("wsgate: cannot call cluster `{cluster}` for group lookups ({why}): is it defined in Envoy's clusters?");
        if self.token.owns(id) {
            outbox.log(Level::Warn, cannot_call(&self.rules.token_cluster));
            self.token.failed(self.rules.max_retry_ms, now);
            return Some(self.fail_queued(gate, now, |_| true, None));
        }
        let question = self.calls.remove(&id)?.question;
        outbox.log(Level::Warn, cannot_call(&self.rules.cluster));
        let settled = match question {
            Question::GroupName(group) => self.fail_queued(gate, now, |k| k.group == group, None),
            Question::Membership(key) => {
                gate.group_lookups_failed(&[key], now, None);
                true
            }
        };
        Some(settled)
    }

    /// A request ended: Envoy cancels the calls it made, so their lookups go back in
    /// the queue (still pending in the cache) for the root to make again.
    pub fn context_done(&mut self, context_id: u32) {
        let mut requeue = Vec::new();
        self.calls.retain(|_, in_flight| {
            if in_flight.context_id != context_id {
                return true;
            }
            if let Question::Membership(key) = &in_flight.question {
                requeue.push(key.clone());
            }
            false
        });
        self.queued.extend(requeue);
        self.token.context_done(context_id);
    }

    /// Reports the gate's cache counts since the last report.
    pub fn report(&mut self, gate: &Gate, outbox: &mut Outbox) {
        let now = gate.group_stats();
        let before = std::mem::replace(&mut self.reported, now);
        outbox.count(Metric::GroupCacheHits, now.hits - before.hits);
        outbox.count(Metric::GroupCacheMisses, now.misses - before.misses);
        outbox.count(Metric::GroupStale, now.stale - before.stale);
        outbox.count(Metric::GroupLookupsFailed, now.failures - before.failures);
    }

    fn token_answered(&mut self, gate: &mut Gate, outbox: &mut Outbox, answer: &ApiAnswer<'_>, now: u64) -> bool {
        match answer.access_token() {
            Ok((value, expires_in)) => {
                self.token.received(value, expires_in, now);
                false
            }
            Err(failure) => {
                outbox.log(Level::Warn, format!("wsgate: getting an access token from cluster `{}` failed: {failure}; group lookups back off", self.rules.token_cluster));
                self.token.failed(self.rules.max_retry_ms, now);
                self.fail_queued(gate, now, |_| true, retry_after(&failure))
            }
        }
    }

    fn group_name_answered(&mut self, gate: &mut Gate, outbox: &mut Outbox, group: GroupId, answer: &ApiAnswer<'_>, now: u64) -> bool {
        match answer.group_name() {
            Ok(Found::Yes(name)) => {
                self.names.insert(group, name);
                false
            }
            Ok(Found::NoSuchGroup) => {
                outbox.log(Level::Warn, format!("wsgate: Cloud Identity has no group `{}`: nobody is a member of it", gate.group_email(group)));
                let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queued).into_iter().partition(|k| k.group == group);
                self.queued = rest;
                for key in &done {
                    gate.group_lookup_done(key, Ok(false), now);
                }
                !done.is_empty()
            }
            Err(failure) => {
                outbox.log(Level::Warn, format!("wsgate: looking up group `{}` in Cloud Identity failed: {failure}", gate.group_email(group)));
                self.fail_queued(gate, now, |k| k.group == group, retry_after(&failure))
            }
        }
    }

    fn membership_answered(&mut self, gate: &mut Gate, outbox: &mut Outbox, key: &LookupKey, answer: &ApiAnswer<'_>, now: u64) {
        match answer.membership(self.rules.backend) {
            Ok(member) => gate.group_lookup_done(key, Ok(member), now),
            Err(failure) => {
                match failure {
                    ApiFailure::Unauthorized => self.token.refused(),
                    ApiFailure::GroupNameGone => {
                        self.names.remove(&key.group);
                    }
                    _ => {}
                }
                outbox.log(Level::Warn, format!("wsgate: checking whether `{}` is in group `{}` failed: {failure}", key.user, gate.group_email(key.group)));
                gate.group_lookup_done(key, Err(retry_after(&failure)), now);
            }
        }
    }

    fn fail_queued(&mut self, gate: &mut Gate, now: u64, which: impl Fn(&LookupKey) -> bool, retry: Option<u64>) -> bool {
        let (failed, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queued).into_iter().partition(|k| which(k));
        self.queued = rest;
        if !failed.is_empty() {
            gate.group_lookups_failed(&failed, now, retry);
        }
        !failed.is_empty()
    }

    /// Asks an API `question` at `path` with the access token.
    fn ask(&mut self, outbox: &mut Outbox, question: Question, path: &str, bearer: &str, now: u64, context_id: u32) {
        let rules = &self.rules;
        let id = outbox.call(|id| OutboundCall::get(id, &rules.cluster, &rules.authority, path, rules.timeout_ms).with_header("authorization", bearer.to_owned()));
        self.calls.insert(id, InFlight { question, started: now, context_id });
    }

    fn asking(&self, which: impl Fn(&Question) -> bool) -> bool {
        self.calls.values().any(|in_flight| which(&in_flight.question))
    }

    /// Calls older than their timeout will not answer any more (their context went
    /// away): forget them so that they can be made again.
    fn forget_lapsed(&mut self, now: u64) {
        let timeout_ms = self.rules.timeout_ms;
        self.calls.retain(|_, in_flight| now < backoff::lapses_at(in_flight.started, timeout_ms));
        self.token.forget_lapsed(timeout_ms, now);
    }
}

fn retry_after(failure: &ApiFailure) -> Option<u64> {
    match failure {
        ApiFailure::Overloaded { retry_after, .. } => *retry_after,
        _ => None,
    }
}
