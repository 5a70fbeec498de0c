//! Records every VM of a filter reads and writes (proxy-wasm shared data), and the
//! read-change-compare-and-swap loop over them. The proxy's store is the glue's; the
//! loop and what is written are here.

use crate::key_refresh::KeyRecord;

/// Shared data as the proxy keeps it: a value and its version per key.
pub trait SharedRecords {
    /// The value and its version; `None` if absent or unreadable.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes `value` if the stored version is still `version` (0: unconditionally).
    /// False when another VM wrote first, or the host refused.
    fn set(&mut self, key: &str, value: &[u8], version: u32) -> bool;
}

/// Read, change, compare-and-swap: how many times to try when other VMs write too.
const CAS_ATTEMPTS: usize = 8;

/// The stored record of `key`; `None` if absent or it does not decode.
pub fn read(store: &dyn SharedRecords, key: &str) -> Option<KeyRecord> {
    store.get(key).and_then(|(bytes, _)| KeyRecord::decode(&bytes))
}

/// Changes the record of `key` with `change`, retrying if another VM wrote in
/// between. `None` if the store kept refusing: then nothing was changed.
pub fn update<R>(store: &mut dyn SharedRecords, key: &str, mut change: impl FnMut(&mut KeyRecord) -> R) -> Option<R> {
    for _ in 0..CAS_ATTEMPTS {
        let (mut record, version) = match store.get(key) {
            Some((bytes, version)) => (KeyRecord::decode(&bytes).unwrap_or_default(), version),
            None => (KeyRecord::default(), 0),
        };
        let result = change(&mut record);
        let bytes = record.encode()?;
        if store.set(key, &bytes, version) {
            return Some(result);
        }
    }
    None
}

/// An in-memory store with the proxy's semantics, for tests: versions start at 1
/// and grow with every write; a write with a stale version is refused.
#[derive(Debug, Default)]
pub struct MemoryRecords {
    values: std::collections::HashMap<String, (Vec<u8>, u32)>,
    /// Refuse every write (a host that answers an error status).
    pub refuse_writes: bool,
}

impl MemoryRecords {
    /// A store whose every write is refused (a host answering an error status).
    pub fn refusing() -> Self {
        Self { refuse_writes: true, ..Self::default() }
    }
}

impl SharedRecords for MemoryRecords {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.values.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], version: u32) -> bool {
        let current = self.values.get(key).map_or(0, |(_, v)| *v);
        if self.refuse_writes || (version != 0 && version != current) {
            return false;
        }
        self.values.insert(key.to_owned(), (value.to_vec(), current + 1));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_with_a_stale_version_is_retried_on_the_new_record() {
        let mut store = MemoryRecords::default();
        assert_eq!(update(&mut store, "k", |r| r.failures += 1), Some(()));
        let (_, version) = store.get("k").unwrap();
        // Another VM writes in between: this VM's version is stale.
        assert!(store.set("k", &KeyRecord { failures: 5, ..KeyRecord::default() }.encode().unwrap(), version));
        assert!(!store.set("k", b"{}", version), "a stale version is refused");
        assert_eq!(update(&mut store, "k", |r| r.failures += 1), Some(()));
        assert_eq!(read(&store, "k").unwrap().failures, 6, "the change applied to what the other VM wrote");
    }

    #[test]
    fn a_store_that_refuses_changes_nothing() {
        let mut store = MemoryRecords::refusing();
        assert_eq!(update(&mut store, "k", |r| r.failures += 1), None);
        assert_eq!(read(&store, "k"), None);
    }
}
