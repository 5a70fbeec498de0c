//! A bounded per-VM cache of verified tokens, so each token's signature is checked
//! once and not on every request.
//!
//! Keyed by the whole token (not a hash of it), so two tokens can never share an
//! entry. An entry lives no longer than its token's `exp`. When full, the least
//! recently used eighth goes: tokens still valid but no longer sent (a rotated key's,
//! a user gone home) must not push out the ones in use, or every request of a busy
//! gateway would verify a signature again.

use std::collections::HashMap;
use std::rc::Rc;

/// What the cache needs to know of an entry: when its token expires (Unix seconds).
pub trait Expiring {
    fn expires_at(&self) -> u64;
}

impl Expiring for crate::verify::Identity {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

#[derive(Debug)]
pub struct TokenCache<T> {
    entries: HashMap<Box<[u8]>, Entry<T>>,
    capacity: usize,
    last_sweep: u64,
    /// Counts uses; an entry remembers the count at its last use.
    uses: u64,
}

#[derive(Debug)]
struct Entry<T> {
    value: Rc<T>,
    last_used: u64,
}

impl<T: Expiring> TokenCache<T> {
    /// A cache holding at most `capacity` tokens; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self { entries: HashMap::new(), capacity, last_sweep: 0, uses: 0 }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity of a token verified earlier, if it has not expired at `now`.
    pub fn get(&mut self, token: &[u8], now: u64) -> Option<Rc<T>> {
        self.uses += 1;
        let entry = self.entries.get_mut(token)?;
        if now < entry.value.expires_at() {
            entry.last_used = self.uses;
            return Some(Rc::clone(&entry.value));
        }
        self.entries.remove(token);
        None
    }

    pub fn insert(&mut self, token: &[u8], entry: Rc<T>, now: u64) {
        if self.capacity == 0 || now >= entry.expires_at() {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.uses += 1;
        self.entries.insert(token.into(), Entry { value: entry, last_used: self.uses });
    }

    /// Drops expired entries (at most once a second, so a full cache of live tokens
    /// does not cost a sweep per insert); if that is not enough, the least recently
    /// used eighth, found in one pass, so eviction costs little per insert.
    fn make_room(&mut self, now: u64) {
        if now != self.last_sweep {
            self.last_sweep = now;
            self.entries.retain(|_, entry| now < entry.value.expires_at());
        }
        if self.entries.len() < self.capacity {
            return;
        }
        let mut last_uses: Vec<u64> = self.entries.values().map(|entry| entry.last_used).collect();
        let evict = (self.capacity / 8).max(1);
        if evict >= last_uses.len() {
            self.entries.clear();
            return;
        }
        // Uses are unique, so exactly `evict` entries are older than the threshold.
        let (_, &mut threshold, _) = last_uses.select_nth_unstable(evict);
        self.entries.retain(|_, entry| entry.last_used >= threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Identity;

    fn identity(expires_at: u64) -> Rc<Identity> {
        Rc::new(Identity { provider: 0, subject: "s".into(), email: None, domain: None, groups: vec![], expires_at })
    }

    #[test]
    fn an_entry_is_served_until_its_token_expires_and_not_after() {
        let mut cache = TokenCache::<Identity>::new(4);
        cache.insert(b"t", identity(100), 10);
        assert!(cache.get(b"t", 99).is_some());
        assert!(cache.get(b"t", 100).is_none());
        assert!(cache.is_empty(), "expired entries are dropped on sight");
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let mut cache = TokenCache::<Identity>::new(3);
        for i in 0..50u32 {
            cache.insert(&i.to_be_bytes(), identity(1_000), 10);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn expired_entries_make_room_before_live_ones_are_evicted() {
        let mut cache = TokenCache::<Identity>::new(2);
        cache.insert(b"old", identity(20), 10);
        cache.insert(b"live", identity(1_000), 10);
        cache.insert(b"new", identity(1_000), 30);
        assert!(cache.get(b"live", 30).is_some());
        assert!(cache.get(b"new", 30).is_some());
    }

    #[test]
    fn tokens_in_use_survive_a_stream_of_new_ones() {
        let mut cache = TokenCache::<Identity>::new(16);
        for i in 0..1_000u32 {
            cache.insert(&i.to_be_bytes(), identity(1_000_000), 10);
            // Two tokens are sent all the time; the rest once each.
            assert!(i < 2 || cache.get(&0u32.to_be_bytes(), 10).is_some(), "token 0 evicted at {i}");
            assert!(i < 2 || cache.get(&1u32.to_be_bytes(), 10).is_some(), "token 1 evicted at {i}");
            assert!(cache.len() <= 16);
        }
    }

    #[test]
    fn capacity_one_holds_one() {
        let mut cache = TokenCache::<Identity>::new(1);
        cache.insert(b"a", identity(1_000), 10);
        cache.insert(b"b", identity(1_000), 10);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(b"b", 10).is_some());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let mut cache = TokenCache::<Identity>::new(0);
        cache.insert(b"t", identity(100), 10);
        assert!(cache.get(b"t", 10).is_none());
    }
}
