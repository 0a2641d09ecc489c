//! The bounded read cache of a [`super::CachingStore`]: clean entries only.
//!
//! Owns: a `HashMap` from key to the inner store's value (`None` = the key is known absent, a
//! negative entry), its byte budget and its eviction. Every entry equals the inner store's value
//! for its key; the caching layer keeps this true by inserting only what it read from the inner
//! store or has just committed to it, and removing what a restore touches.
//!
//! Eviction is second-chance ("clock" without a hand): a hit sets the entry's `referenced` bit
//! (a `Cell`, so lookups need only `&self` and never allocate). When an insert takes the cache
//! over its budget, one sweep evicts entries not referenced since the previous sweep and clears
//! the bit of the others until the cache is down to 3/4 of the budget; if that is not enough, a
//! second sweep evicts in hash order (effectively at random). A sweep costs O(entries) and frees
//! at least a quarter of the budget, so eviction is O(1) amortized per inserted byte.

use std::cell::Cell;
use std::collections::HashMap;

/// Bytes charged per entry on top of key and value (map slot, vector headers).
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// The bytes an entry is charged.
pub(crate) fn cost(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

#[derive(Debug)]
struct Slot {
    value: Option<Vec<u8>>,
    referenced: Cell<bool>,
}

/// A byte-bounded map of clean entries.
#[derive(Debug)]
pub(crate) struct ReadCache {
    map: HashMap<Vec<u8>, Slot>,
    bytes: usize,
    capacity: usize,
}

impl ReadCache {
    /// An empty cache of at most `capacity` bytes (0 caches nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            bytes: 0,
            capacity,
        }
    }

    /// The cached value of `key`: `Some(None)` when the key is known absent, `None` on a miss.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        let slot = self.map.get(key)?;
        slot.referenced.set(true);
        Some(&slot.value)
    }

    /// Caches `value` for `key`, replacing any entry, then evicts if over budget. An entry larger
    /// than the budget is not cached.
    pub(crate) fn insert(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let size = cost(&key, value.as_deref());
        if size > self.capacity {
            self.remove(&key);
            return;
        }
        let key_len = key.len();
        let slot = Slot {
            value,
            referenced: Cell::new(false),
        };
        if let Some(old) = self.map.insert(key, slot) {
            self.bytes -= key_len + old.value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD;
        }
        self.bytes += size;
        if self.bytes > self.capacity {
            self.evict();
        }
    }

    /// Forgets `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        if let Some((key, slot)) = self.map.remove_entry(key) {
            self.bytes -= cost(&key, slot.value.as_deref());
        }
    }

    /// Forgets every key in `[from, to)` (one pass over the cache).
    pub(crate) fn remove_range(&mut self, from: &[u8], to: &[u8]) {
        let mut bytes = self.bytes;
        self.map.retain(|key, slot| {
            let inside = from <= key.as_slice() && key.as_slice() < to;
            if inside {
                bytes -= cost(key, slot.value.as_deref());
            }
            !inside
        });
        self.bytes = bytes;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.map = HashMap::new();
        self.bytes = 0;
    }

    /// Bytes charged.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn evict(&mut self) {
        let target = self.capacity / 4 * 3;
        let mut bytes = self.bytes;
        // Sweep 1: second chance.
        self.map.retain(|key, slot| {
            if bytes > target && !slot.referenced.get() {
                bytes -= cost(key, slot.value.as_deref());
                return false;
            }
            slot.referenced.set(false);
            true
        });
        // Sweep 2: everything was referenced; evict in hash order.
        if bytes > target {
            self.map.retain(|key, slot| {
                if bytes > target {
                    bytes -= cost(key, slot.value.as_deref());
                    return false;
                }
                true
            });
        }
        self.bytes = bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_negative_entries() {
        let mut cache = ReadCache::new(10_000);
        assert_eq!(cache.get(b"a"), None);
        cache.insert(b"a".to_vec(), Some(b"1".to_vec()));
        cache.insert(b"b".to_vec(), None);
        assert_eq!(cache.get(b"a"), Some(&Some(b"1".to_vec())));
        assert_eq!(cache.get(b"b"), Some(&None));
        cache.insert(b"a".to_vec(), Some(b"22".to_vec()));
        assert_eq!(cache.bytes(), cost(b"a", Some(b"22")) + cost(b"b", None));
        cache.remove(b"a");
        assert_eq!(cache.bytes(), cost(b"b", None));
        cache.insert(b"c".to_vec(), Some(b"3".to_vec()));
        cache.insert(b"d".to_vec(), None);
        cache.remove_range(b"b", b"d");
        assert_eq!((cache.len(), cache.bytes()), (1, cost(b"d", None)));
        cache.clear();
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn stays_within_budget_and_keeps_referenced_entries() {
        let capacity = 100 * cost(b"key-0000", Some(&[0; 8]));
        let mut cache = ReadCache::new(capacity);
        cache.insert(b"hot".to_vec(), Some(vec![1; 8]));
        for i in 0..10_000 {
            assert!(cache.get(b"hot").is_some(), "hot entry evicted at {i}");
            cache.insert(format!("key-{i:04}").into_bytes(), Some(vec![0; 8]));
            assert!(cache.bytes() <= capacity);
        }
        let recount: usize = cache
            .map
            .iter()
            .map(|(k, s)| cost(k, s.value.as_deref()))
            .sum();
        assert_eq!(recount, cache.bytes());
        assert!(cache.len() > 50);
    }

    #[test]
    fn oversized_and_zero_budget_cache_nothing() {
        let mut cache = ReadCache::new(0);
        cache.insert(b"k".to_vec(), None);
        assert_eq!(cache.len(), 0);
        let mut cache = ReadCache::new(100);
        cache.insert(b"k".to_vec(), Some(vec![0; 10]));
        cache.insert(b"k".to_vec(), Some(vec![0; 1000]));
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }
}
