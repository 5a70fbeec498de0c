//! Live membership answers, per (user, group), with the rules for when an answer is
//! trusted, when a lookup is due, and when lookups back off.
//!
//! Plain data and pure transitions over an injected clock (Unix milliseconds): the TTLs,
//! the stale bound, the backoff and the coalescing of concurrent lookups are
//! unit-tested here, and the filter only dispatches the lookups this cache asks for.

use crate::backoff;
use crate::group_lookup::GroupLookup;
use crate::policy::groups::GroupId;
use std::collections::HashMap;

/// One question the cache wants asked: is `user` in group `group`?
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LookupKey {
    pub user: String,
    pub group: GroupId,
}

/// What is known about one (user, group) at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// An answer within its TTL.
    Fresh(bool),
    /// No answer within its TTL and no lookup under way: one is due. `stale` is the
    /// last answer if it is still within the stale-if-error bound.
    Due { stale: Option<bool> },
    /// A lookup is under way.
    Pending { stale: Option<bool> },
    /// Lookups failed recently and are backing off: no new one now.
    BackingOff { stale: Option<bool> },
}

/// Counts since the cache was made, for the filter's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Decisions that used a fresh answer.
    pub hits: u64,
    /// Lookups started.
    pub misses: u64,
    /// Decisions that used an answer past its TTL because lookups failed.
    pub stale: u64,
    /// Lookups that failed.
    pub failures: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The last answer and when it was received.
    answer: Option<(bool, u64)>,
    /// When the lookup under way was started.
    pending_since: Option<u64>,
}

#[derive(Debug, Default)]
struct UserEntry {
    /// By group id.
    slots: Vec<Slot>,
    last_used: u64,
}

/// This VM's answers and the lookups it wants made.
#[derive(Debug)]
pub struct GroupCache {
    rules: GroupLookup,
    users: HashMap<String, UserEntry>,
    /// Consecutive failures, for the backoff, which is API-wide: a 429 is about the
    /// caller's quota, not about one user.
    failures: u32,
    backoff_until: u64,
    wanted: Vec<LookupKey>,
    pub stats: GroupStats,
}

impl GroupCache {
    pub fn new(rules: GroupLookup) -> Self {
        Self { rules, users: HashMap::new(), failures: 0, backoff_until: 0, wanted: Vec::new(), stats: GroupStats::default() }
    }

    pub fn rules(&self) -> &GroupLookup {
        &self.rules
    }

    /// What is known about `user` in `group` at `now`, without changing anything.
    pub fn peek(&self, user: &str, group: GroupId, now: u64) -> Membership {
        let slot = self.users.get(user).and_then(|u| u.slots.get(group)).copied().unwrap_or_default();
        if let Some((member, at)) = slot.answer
            && now < at.saturating_add(self.ttl(member))
        {
            return Membership::Fresh(member);
        }
        let stale = slot.answer.filter(|&(member, at)| now < at.saturating_add(self.ttl(member)).saturating_add(self.rules.stale_if_error_ms)).map(|(m, _)| m);
        if slot.pending_since.is_some_and(|since| now < self.lapses_at(since)) {
            Membership::Pending { stale }
        } else if now < self.backoff_until {
            Membership::BackingOff { stale }
        } else {
            Membership::Due { stale }
        }
    }

    /// Marks a due lookup as under way and queues it for the filter to make. Counted
    /// as a miss. Concurrent requests for the same (user, group) then see `Pending`
    /// and wait for this one lookup.
    pub fn claim(&mut self, user: &str, group: GroupId, now: u64) {
        if !matches!(self.peek(user, group, now), Membership::Due { .. }) {
            return;
        }
        self.make_room(user, now);
        let entry = self.users.entry(user.to_owned()).or_default();
        entry.last_used = now;
        if entry.slots.len() <= group {
            entry.slots.resize(group + 1, Slot::default());
        }
        entry.slots[group].pending_since = Some(now);
        self.stats.misses += 1;
        self.wanted.push(LookupKey { user: user.to_owned(), group });
    }

    pub fn wants_lookups(&self) -> bool {
        !self.wanted.is_empty()
    }

    /// The lookups claimed since the last call, for the filter to make.
    pub fn take_wanted(&mut self) -> Vec<LookupKey> {
        std::mem::take(&mut self.wanted)
    }

    /// A lookup answered. Ends any backoff.
    pub fn answered(&mut self, key: &LookupKey, member: bool, now: u64) {
        self.failures = 0;
        self.backoff_until = 0;
        if let Some(slot) = self.slot_mut(key) {
            *slot = Slot { answer: Some((member, now)), pending_since: None };
        }
    }

    /// A lookup failed: the stale answer, if any, stands, and lookups pause for the
    /// backoff (or the API's `Retry-After` seconds, within `max_retry_seconds`).
    pub fn failed(&mut self, key: &LookupKey, now: u64, retry_after: Option<u64>) {
        self.abandon(key);
        self.back_off(now, retry_after);
    }

    /// A lookup failed along with others for one cause (the access token): settled
    /// as failed, with the backoff left to the caller, once for all of them.
    pub fn abandon(&mut self, key: &LookupKey) {
        if let Some(slot) = self.slot_mut(key) {
            slot.pending_since = None;
        }
        self.stats.failures += 1;
    }

    /// Pauses new lookups after a failure. Failures while already paused (calls made
    /// before the pause, failing in the same outage) do not lengthen it, except to
    /// honour a longer `Retry-After`.
    pub fn back_off(&mut self, now: u64, retry_after_seconds: Option<u64>) {
        let limit = |pause: u64| pause.clamp(backoff::FIRST_RETRY_MS, self.rules.max_retry_ms.max(backoff::FIRST_RETRY_MS));
        let asked = retry_after_seconds.map(|s| s.saturating_mul(1000));
        if now < self.backoff_until {
            let longer = asked.map_or(0, |pause| now.saturating_add(limit(pause)));
            self.backoff_until = self.backoff_until.max(longer);
            return;
        }
        let doubling = backoff::retry_pause_ms(self.failures, self.rules.max_retry_ms);
        self.failures = self.failures.saturating_add(1);
        self.backoff_until = now.saturating_add(limit(asked.unwrap_or(doubling)));
    }

    /// Milliseconds until lookups may be made again: 0 unless backing off.
    pub fn backing_off_for(&self, now: u64) -> u64 {
        self.backoff_until.saturating_sub(now)
    }

    /// Marks `user` as seen now, for eviction.
    pub fn touch(&mut self, user: &str, now: u64) {
        if let Some(entry) = self.users.get_mut(user) {
            entry.last_used = now;
        }
    }

    /// Counts a decision's use of an answer.
    pub fn count_use(&mut self, membership: Membership) {
        match membership {
            Membership::Fresh(_) => self.stats.hits += 1,
            Membership::Due { stale: Some(_) } | Membership::Pending { stale: Some(_) } | Membership::BackingOff { stale: Some(_) } => {
                self.stats.stale += 1;
            }
            _ => {}
        }
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn ttl(&self, member: bool) -> u64 {
        if member { self.rules.ttl_ms } else { self.rules.negative_ttl_ms }
    }

    /// A lookup that has not answered by then is given up on (its answer was lost
    /// with the context that asked), so that it can be asked again.
    fn lapses_at(&self, since: u64) -> u64 {
        backoff::lapses_at(since, self.rules.timeout_ms)
    }

    fn slot_mut(&mut self, key: &LookupKey) -> Option<&mut Slot> {
        self.users.get_mut(&key.user)?.slots.get_mut(key.group)
    }

    /// Keeps the cache within `cache_users`: first forget users not seen for longer
    /// than any answer stays usable, then the least recently seen. Users with a
    /// lookup under way stay (its answer is awaited). Only runs when full.
    fn make_room(&mut self, user: &str, now: u64) {
        if self.users.len() < self.rules.cache_users || self.users.contains_key(user) {
            return;
        }
        let horizon = self.rules.ttl_ms.max(self.rules.negative_ttl_ms).saturating_add(self.rules.stale_if_error_ms);
        let timeout_ms = self.rules.timeout_ms;
        let busy = move |entry: &UserEntry| entry.slots.iter().any(|s| s.pending_since.is_some_and(|since| now < backoff::lapses_at(since, timeout_ms)));
        self.users.retain(|_, entry| busy(entry) || now < entry.last_used.saturating_add(horizon));
        if self.users.len() >= self.rules.cache_users
            && let Some(oldest) = self.users.iter().filter(|(_, e)| !busy(e)).min_by_key(|(_, e)| e.last_used).map(|(u, _)| u.clone())
        {
            self.users.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group_lookup::test_config;

    fn cache(cache_users: usize) -> GroupCache {
        GroupCache::new(GroupLookup::from_config(&test_config(60, cache_users)))
    }

    const T: u64 = 1_000_000_000;

    fn key(user: &str, group: GroupId) -> LookupKey {
        LookupKey { user: user.into(), group }
    }

    #[test]
    fn one_lookup_serves_concurrent_requests_and_its_answer_lives_for_the_ttl() {
        let mut cache = cache(10);
        assert_eq!(cache.peek("a@x", 2, T), Membership::Due { stale: None });
        cache.claim("a@x", 2, T);
        cache.claim("a@x", 2, T);
        assert_eq!(cache.peek("a@x", 2, T), Membership::Pending { stale: None });
        assert_eq!(cache.take_wanted(), [key("a@x", 2)], "the second request shares the first lookup");
        cache.answered(&key("a@x", 2), true, T + 1_000);
        assert_eq!(cache.peek("a@x", 2, T + 300_000), Membership::Fresh(true));
        assert_eq!(cache.peek("a@x", 2, T + 301_000), Membership::Due { stale: Some(true) });
        assert_eq!(cache.stats.misses, 1);
    }

    #[test]
    fn a_negative_answer_lives_shorter() {
        let mut cache = cache(10);
        cache.claim("a@x", 0, T);
        cache.answered(&key("a@x", 0), false, T);
        assert_eq!(cache.peek("a@x", 0, T + 59_000), Membership::Fresh(false));
        assert_eq!(cache.peek("a@x", 0, T + 60_000), Membership::Due { stale: Some(false) });
    }

    #[test]
    fn failures_back_off_and_keep_stale_answers_within_the_bound() {
        let mut cache = cache(10);
        cache.claim("a@x", 0, T);
        cache.answered(&key("a@x", 0), true, T);
        let expired = T + 300_000;
        cache.claim("a@x", 0, expired);
        cache.failed(&key("a@x", 0), expired, None);
        assert_eq!(cache.peek("a@x", 0, expired), Membership::BackingOff { stale: Some(true) });
        assert_eq!(cache.peek("a@x", 0, expired + 1_000), Membership::Due { stale: Some(true) }, "first retry after 1 s");
        cache.claim("a@x", 0, expired + 1_000);
        cache.failed(&key("a@x", 0), expired + 1_000, None);
        assert!(matches!(cache.peek("a@x", 0, expired + 2_000), Membership::BackingOff { .. }), "then 2 s");
        // A 429's Retry-After is honoured, within max_retry_seconds.
        cache.failed(&key("a@x", 0), expired + 3_000, Some(500));
        assert!(matches!(cache.peek("a@x", 0, expired + 62_000), Membership::BackingOff { .. }));
        assert!(matches!(cache.peek("a@x", 0, expired + 63_000), Membership::Due { .. }));
        // Past TTL + stale_if_error the old answer is no longer offered.
        assert_eq!(cache.peek("a@x", 0, T + 900_000), Membership::Due { stale: None });
        assert_eq!(cache.stats.failures, 3);
    }

    #[test]
    fn failures_of_one_outage_do_not_lengthen_the_pause() {
        let mut cache = cache(10);
        for user in ["a@x", "b@x", "c@x"] {
            cache.claim(user, 0, T);
        }
        for user in ["a@x", "b@x", "c@x"] {
            cache.failed(&key(user, 0), T, None);
        }
        assert!(matches!(cache.peek("a@x", 0, T + 1_000), Membership::Due { .. }), "1 s, not 1 + 2 + 4");
        assert_eq!(cache.stats.failures, 3);
    }

    #[test]
    fn a_user_with_a_lookup_under_way_is_not_evicted() {
        let mut cache = cache(1);
        cache.claim("a@x", 0, T);
        cache.claim("b@x", 0, T);
        cache.answered(&key("a@x", 0), true, T);
        assert_eq!(cache.peek("a@x", 0, T), Membership::Fresh(true), "a's answer was kept for it");
    }

    #[test]
    fn a_lost_lookup_lapses_so_it_can_be_asked_again() {
        let mut cache = cache(10);
        cache.claim("a@x", 0, T);
        assert!(matches!(cache.peek("a@x", 0, T + 2_000), Membership::Pending { .. }));
        assert!(matches!(cache.peek("a@x", 0, T + 3_000), Membership::Due { .. }));
    }

    #[test]
    fn the_cache_stays_within_its_user_bound() {
        let mut cache = cache(2);
        for (i, user) in ["a@x", "b@x", "c@x"].into_iter().enumerate() {
            cache.claim(user, 0, T + i as u64 * 1000);
            cache.answered(&key(user, 0), true, T + i as u64 * 1000);
        }
        assert_eq!(cache.users(), 2);
        assert!(matches!(cache.peek("a@x", 0, T + 3_000), Membership::Due { stale: None }), "the least recently used went");
        assert_eq!(cache.peek("c@x", 0, T + 3_000), Membership::Fresh(true));
    }
}
