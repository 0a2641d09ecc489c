//! [`CachingStore`]: a write-back buffer for the open transaction plus a bounded read cache,
//! modelled on Kafka Streams' record cache.
//!
//! Owns two maps over the inner store:
//! * **dirty**: the writes of the open transaction (`None` = pending delete), in key order. They
//!   reach the inner store only at [`KeyValueStore::commit`], all in **one** `inner.apply` that
//!   also carries the commit's changelog offsets, so a crash never leaves in the inner store a
//!   write whose transaction did not commit, nor a commit without its writes.
//!   [`KeyValueStore::abort`] drops them; [`KeyValueStore::flush`] does not release them.
//! * **read cache** (`read_cache.rs`): clean values read from, or committed to, the inner store,
//!   including negative entries (key known absent), bounded by `cache_bytes`.
//!
//! Reads see the transaction's own writes: `get` looks in dirty, then the read cache, then the
//! inner store; scans merge dirty into the inner scan (`merge.rs`). The dirty map is not bounded
//! by `cache_bytes` — its writes belong to a transaction and cannot be evicted; the runtime bounds
//! it by committing (see [`CachingStore::dirty_bytes`]).
//!
//! Invariants: every read-cache entry equals the inner store's value; a failed commit keeps the
//! dirty writes (they can be committed again or aborted); after `close` every operation returns
//! [`StateError::Closed`].

mod merge;
mod read_cache;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::keys::KeyRange;
use crate::store::check_offsets;
use crate::{KeyValueStore, KvIter, Offsets, StateError, Write, WriteBatch};
use merge::{DirtyIter, MergeIter};
use read_cache::{ENTRY_OVERHEAD, ReadCache, cost};

/// A store layer that holds writes until commit and caches reads.
pub struct CachingStore<S: KeyValueStore> {
    inner: S,
    dirty: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    dirty_bytes: usize,
    /// Interior mutability: `get(&self)` fills it. The store is `Send`, never shared (`!Sync`).
    cache: RefCell<ReadCache>,
    closed: bool,
}

impl<S: KeyValueStore + std::fmt::Debug> std::fmt::Debug for CachingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingStore")
            .field("inner", &self.inner)
            .field("dirty_len", &self.dirty.len())
            .field("dirty_bytes", &self.dirty_bytes)
            .field(
                "cached_entries",
                &self.cache.try_borrow().map(|c| c.len()).ok(),
            )
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<S: KeyValueStore> CachingStore<S> {
    /// Caches `inner`, with a read cache of at most `cache_bytes` (0 disables read caching; the
    /// write-back buffer is always on).
    pub fn new(inner: S, cache_bytes: usize) -> Self {
        Self {
            inner,
            dirty: BTreeMap::new(),
            dirty_bytes: 0,
            cache: RefCell::new(ReadCache::new(cache_bytes)),
            closed: false,
        }
    }

    /// Uncommitted writes held (one per key).
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// Approximate bytes of the uncommitted writes held.
    pub fn dirty_bytes(&self) -> usize {
        self.dirty_bytes
    }

    /// Approximate bytes of the read cache.
    pub fn cached_bytes(&self) -> usize {
        self.cache.borrow().bytes()
    }

    /// The wrapped store (without this layer's uncommitted writes).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the layer, dropping uncommitted writes.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn check_open(&self) -> Result<(), StateError> {
        if self.closed {
            Err(StateError::closed(self.inner.name()))
        } else {
            Ok(())
        }
    }

    fn buffer(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let size = cost(&key, value.as_deref());
        let key_len = key.len();
        if let Some(old) = self.dirty.insert(key, value) {
            self.dirty_bytes -= key_len + old.map_or(0, |v| v.len()) + ENTRY_OVERHEAD;
        }
        self.dirty_bytes += size;
    }

    /// Whether the inner store holds `key`, using (not filling) the read cache.
    fn inner_contains(&self, key: &[u8]) -> Result<bool, StateError> {
        if let Some(value) = self.cache.borrow().get(key) {
            return Ok(value.is_some());
        }
        Ok(self.inner.get(key)?.is_some())
    }

    fn scan<'a>(
        &'a self,
        range: KeyRange,
        inner: KvIter<'a>,
        reverse: bool,
    ) -> Result<KvIter<'a>, StateError> {
        if self.dirty.is_empty() {
            return Ok(inner);
        }
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let dirty = self.dirty.range::<[u8], _>(range.as_bounds());
        let dirty: DirtyIter<'_> = if reverse {
            Box::new(dirty.rev())
        } else {
            Box::new(dirty)
        };
        Ok(Box::new(MergeIter::new(dirty, inner, reverse)))
    }
}

impl<S: KeyValueStore> KeyValueStore for CachingStore<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        if let Some(value) = self.dirty.get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.cache.borrow().get(key) {
            return Ok(value.clone());
        }
        let value = self.inner.get(key)?;
        self.cache.borrow_mut().insert(key.to_vec(), value.clone());
        Ok(value)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        self.buffer(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        self.buffer(key.to_vec(), None);
        Ok(())
    }

    fn put_all(&mut self, writes: Vec<Write>) -> Result<(), StateError> {
        self.apply(WriteBatch::of(writes))
    }

    /// Without offsets: buffers the writes. With offsets: a commit that includes the writes.
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.check_open()?;
        check_offsets(self.inner.name(), &batch.offsets)?;
        for (key, value) in batch.writes {
            self.buffer(key, value);
        }
        if batch.offsets.is_empty() {
            Ok(())
        } else {
            self.commit(batch.offsets)
        }
    }

    /// Deletes the range from the inner store at once (not at commit: see
    /// [`KeyValueStore::delete_range`]), then drops the uncommitted writes and cached entries in
    /// it. If the inner store fails, nothing here changes.
    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        if from >= to {
            return Ok(());
        }
        self.inner.delete_range(from, to)?;
        let mut tail = self.dirty.split_off(from);
        let mut above = tail.split_off(to);
        self.dirty.append(&mut above);
        for (key, value) in tail {
            self.dirty_bytes -= cost(&key, value.as_deref());
        }
        self.cache.get_mut().remove_range(from, to);
        Ok(())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError> {
        self.check_open()?;
        let inner = self.inner.range(from, to)?;
        self.scan(KeyRange::new(from, to), inner, false)
    }

    fn reverse_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KvIter<'_>, StateError> {
        self.check_open()?;
        let inner = self.inner.reverse_range(from, to)?;
        self.scan(KeyRange::new(from, to), inner, true)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError> {
        self.check_open()?;
        let inner = self.inner.prefix_scan(prefix)?;
        self.scan(KeyRange::prefix(prefix), inner, false)
    }

    /// The inner store's estimate, corrected by the uncommitted writes (one inner lookup per
    /// dirty key not in the read cache).
    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.check_open()?;
        let mut count = self.inner.approximate_num_entries()?;
        for (key, value) in &self.dirty {
            match (self.inner_contains(key)?, value.is_some()) {
                (false, true) => count += 1,
                (true, false) => count = count.saturating_sub(1),
                _ => {}
            }
        }
        Ok(count)
    }

    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        self.check_open()?;
        self.inner.committed_offsets()
    }

    /// Flushes the inner store; uncommitted writes stay here.
    fn flush(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        self.inner.flush()
    }

    fn commit(&mut self, offsets: Offsets) -> Result<(), StateError> {
        self.check_open()?;
        // The writes are copied, not moved: if the inner store fails, they stay dirty.
        let writes = self
            .dirty
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.inner.apply(WriteBatch { writes, offsets })?;
        self.dirty_bytes = 0;
        let cache = self.cache.get_mut();
        for (key, value) in std::mem::take(&mut self.dirty) {
            cache.insert(key, value);
        }
        Ok(())
    }

    fn abort(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        self.dirty.clear();
        self.dirty_bytes = 0;
        self.inner.abort()
    }

    /// Drops read-cache entries of the touched keys, then restores the inner store directly.
    fn restore(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.check_open()?;
        let cache = self.cache.get_mut();
        for (key, _) in &batch.writes {
            cache.remove(key);
        }
        self.inner.restore(batch)
    }

    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }

    /// Drops uncommitted writes (commit first to keep them) and closes the inner store.
    fn close(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        self.closed = true;
        self.dirty = BTreeMap::new();
        self.dirty_bytes = 0;
        self.cache.get_mut().clear();
        self.inner.close()
    }
}

#[cfg(test)]
mod tests;
