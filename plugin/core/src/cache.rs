//! A bounded per-VM cache of verified tokens, so each token's signature is checked
//! once and not on every request.
//!
//! Keyed by the whole token (not a hash of it), so two tokens can never share an
//! entry. An entry lives no longer than its token's `exp`. When full, the least
//! recently used eighth goes: tokens still valid but no longer sent (a rotated key's,
//! a user gone home) must not push out the ones in use, or every request of a busy
//! gateway would verify a signature again.
//!
//! Bounded twice: in entries, and in bytes (tokens plus what is kept of their
//! callers), so a stream of large tokens cannot grow a VM's memory past the budget.

use std::collections::HashMap;
use std::rc::Rc;

/// What the cache needs to know of an entry.
pub trait Cacheable {
    /// When its token expires (Unix seconds).
    fn expires_at(&self) -> u64;
    /// About how many bytes it occupies, itself and what it owns on the heap.
    fn footprint(&self) -> usize;
}

impl Cacheable for crate::verify::Identity {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }

    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.subject.len()
            + text_bytes(&self.email)
            + text_bytes(&self.domain)
            + self.issuer.len()
            + text_bytes(&self.authorized_party)
            + self.audiences.iter().map(|a| a.len() + std::mem::size_of::<String>()).sum::<usize>()
            + self.groups.iter().map(|g| g.len() + std::mem::size_of::<String>()).sum::<usize>()
    }
}

/// The heap bytes of an optional string, for [`Cacheable::footprint`].
pub fn text_bytes(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

/// What an entry costs beyond its value: the key's box, the map's slot, the `Rc`.
const ENTRY_OVERHEAD: usize = 64;

#[derive(Debug)]
pub struct TokenCache<T> {
    entries: HashMap<Box<[u8]>, Entry<T>>,
    capacity: usize,
    max_bytes: usize,
    /// The sum of the entries' sizes (token, value, overhead).
    bytes: usize,
    last_sweep: u64,
    /// Counts uses; an entry remembers the count at its last use.
    uses: u64,
}

#[derive(Debug)]
struct Entry<T> {
    value: Rc<T>,
    last_used: u64,
    bytes: usize,
}

impl<T: Cacheable> TokenCache<T> {
    /// A cache holding at most `capacity` tokens and `max_bytes` bytes; a capacity of
    /// 0 turns caching off.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self { entries: HashMap::new(), capacity, max_bytes, bytes: 0, last_sweep: 0, uses: 0 }
    }

    /// The bytes the entries occupy, as the cache counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
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
        self.remove(token);
        None
    }

    fn remove(&mut self, token: &[u8]) {
        if let Some(entry) = self.entries.remove(token) {
            self.bytes -= entry.bytes;
        }
    }

    pub fn insert(&mut self, token: &[u8], value: Rc<T>, now: u64) {
        let bytes = token.len() + value.footprint() + ENTRY_OVERHEAD;
        if self.capacity == 0 || now >= value.expires_at() || bytes > self.max_bytes {
            return;
        }
        self.remove(token);
        if !self.has_room_for(bytes) {
            self.make_room(now, bytes);
        }
        self.uses += 1;
        self.bytes += bytes;
        self.entries.insert(token.into(), Entry { value, last_used: self.uses, bytes });
    }

    fn has_room_for(&self, bytes: usize) -> bool {
        self.entries.len() < self.capacity && self.bytes + bytes <= self.max_bytes
    }

    /// Drops expired entries (at most once a second, so a full cache of live tokens
    /// does not cost a sweep per insert); while that is not enough, the least
    /// recently used eighth, found in one pass, so eviction costs little per insert.
    fn make_room(&mut self, now: u64, bytes: usize) {
        if now != self.last_sweep {
            self.last_sweep = now;
            self.retain(|entry| now < entry.value.expires_at());
        }
        while !self.has_room_for(bytes) && !self.entries.is_empty() {
            self.evict_least_recently_used();
        }
    }

    fn evict_least_recently_used(&mut self) {
        let mut last_uses: Vec<u64> = self.entries.values().map(|entry| entry.last_used).collect();
        let evict = (self.entries.len() / 8).max(1);
        if evict >= last_uses.len() {
            self.entries.clear();
            self.bytes = 0;
            return;
        }
        // Uses are unique, so exactly `evict` entries are older than the threshold.
        let (_, &mut threshold, _) = last_uses.select_nth_unstable(evict);
        self.retain(|entry| entry.last_used >= threshold);
    }

    fn retain(&mut self, keep: impl Fn(&Entry<T>) -> bool) {
        let mut freed = 0;
        self.entries.retain(|_, entry| keep(entry) || {
            freed += entry.bytes;
            false
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Identity;

    const MIB: usize = 1 << 20;

    fn identity(expires_at: u64) -> Rc<Identity> {
        Rc::new(Identity { provider: 0, subject: "s".into(), email: None, domain: None, groups: vec![], expires_at, issuer: "i".into(), audiences: vec![], authorized_party: None })
    }

    #[test]
    fn an_entry_is_served_until_its_token_expires_and_not_after() {
        let mut cache = TokenCache::<Identity>::new(4, MIB);
        cache.insert(b"t", identity(100), 10);
        assert!(cache.get(b"t", 99).is_some());
        assert!(cache.get(b"t", 100).is_none());
        assert!(cache.is_empty(), "expired entries are dropped on sight");
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let mut cache = TokenCache::<Identity>::new(3, MIB);
        for i in 0..50u32 {
            cache.insert(&i.to_be_bytes(), identity(1_000), 10);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn expired_entries_make_room_before_live_ones_are_evicted() {
        let mut cache = TokenCache::<Identity>::new(2, MIB);
        cache.insert(b"old", identity(20), 10);
        cache.insert(b"live", identity(1_000), 10);
        cache.insert(b"new", identity(1_000), 30);
        assert!(cache.get(b"live", 30).is_some());
        assert!(cache.get(b"new", 30).is_some());
    }

    #[test]
    fn tokens_in_use_survive_a_stream_of_new_ones() {
        let mut cache = TokenCache::<Identity>::new(16, MIB);
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
        let mut cache = TokenCache::<Identity>::new(1, MIB);
        cache.insert(b"a", identity(1_000), 10);
        cache.insert(b"b", identity(1_000), 10);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(b"b", 10).is_some());
    }

    #[test]
    fn the_cache_never_grows_past_its_byte_budget() {
        let mut cache = TokenCache::<Identity>::new(1_000, 64 * 1024);
        for i in 0..500u32 {
            let token = [i.to_be_bytes().as_slice(), &[b'x'; 1_000]].concat();
            cache.insert(&token, identity(1_000), 10);
            assert!(cache.bytes() <= 64 * 1024, "{} bytes after {i}", cache.bytes());
        }
        assert!(cache.len() > 40 && cache.len() < 64, "{} entries of ~1.1 KB in 64 KiB", cache.len());
        let counted: usize = cache.entries.values().map(|e| e.bytes).sum();
        assert_eq!(cache.bytes(), counted);
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_cached_and_evicts_nothing() {
        let mut cache = TokenCache::<Identity>::new(8, 4 * 1024);
        cache.insert(b"small", identity(1_000), 10);
        cache.insert(&[b'x'; 8 * 1024], identity(1_000), 10);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(b"small", 10).is_some());
    }

    #[test]
    fn byte_counts_follow_expiry_and_replacement() {
        let mut cache = TokenCache::<Identity>::new(8, MIB);
        cache.insert(b"t", identity(100), 10);
        cache.insert(b"t", identity(200), 10);
        assert_eq!(cache.len(), 1);
        let one = cache.bytes();
        assert!(cache.get(b"t", 300).is_none());
        assert_eq!((cache.bytes(), one > 0), (0, true));
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let mut cache = TokenCache::<Identity>::new(0, MIB);
        cache.insert(b"t", identity(100), 10);
        assert!(cache.get(b"t", 10).is_none());
    }
}
