//! The byte-level key-value store contract every store layer and implementation honours.
//!
//! Owns: the [`KeyValueStore`] trait, the [`WriteBatch`] unit of atomic writes and the
//! [`Offsets`] checkpoint type. Does not own: typed access (serdes live in the engine), Kafka.
//!
//! Invariants every implementation keeps (the contract suite in `tests/contract.rs` checks them):
//! * keys order lexicographically by bytes; ranges and prefix scans return keys in that order
//!   (reverse scans in the opposite order);
//! * [`KeyValueStore::apply`] is atomic: the writes and the changelog offsets of one batch are
//!   either all visible after a crash or none are;
//! * [`KeyValueStore::committed_offsets`] read after a reopen equals the offsets of the last
//!   applied batch that carried offsets.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::StateError;

/// Changelog offsets a store has reached, by changelog partition: the offset of the last changelog
/// record whose effect is contained in the store (Kafka's "checkpoint"; restore resumes at
/// `offset + 1`).
pub type Offsets = BTreeMap<i32, i64>;

/// One key and its new value; `None` deletes the key (a tombstone in the changelog).
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// An iterator over `(key, value)` pairs of a store, in key order (or reverse order).
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StateError>> + 'a>;

/// The unit of atomic change: data writes and, optionally, the changelog offsets they bring the
/// store to. Both are applied together or not at all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteBatch {
    /// Writes in order; a later write to the same key wins.
    pub writes: Vec<Write>,
    /// Changelog offsets reached by these writes (merged into the stored checkpoint).
    pub offsets: Offsets,
}

impl WriteBatch {
    /// A batch of writes with no offsets.
    pub fn of(writes: Vec<Write>) -> Self {
        Self {
            writes,
            offsets: Offsets::new(),
        }
    }

    /// True when the batch neither writes nor moves an offset.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.offsets.is_empty()
    }
}

/// A key-value store over bytes.
///
/// Implementations: [`crate::RocksDbStore`], [`crate::InMemoryStore`]; layers:
/// [`crate::ChangeLoggingStore`], [`crate::CachingStore`]. One instance belongs to one task (or to
/// the global thread); it is `Send` but not shared between threads without a lock.
pub trait KeyValueStore: Send {
    /// The store's name (unique in a topology; names its changelog topic).
    fn name(&self) -> &str;

    /// The value of `key`, or `None` when absent.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError>;

    /// Removes `key` (no error when absent).
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError>;

    /// Applies several writes at once (`None` deletes), atomically where the store can.
    fn put_all(&mut self, writes: Vec<Write>) -> Result<(), StateError> {
        self.apply(WriteBatch::of(writes))
    }

    /// Applies a batch of writes together with the changelog offsets it reaches, atomically.
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError>;

    /// Removes every key in the half-open range `[from, to)`; nothing when `from >= to`.
    ///
    /// Meant for dropping a whole expired segment of a window or session store at once, so the
    /// layers treat it as **local housekeeping**, not as a write of the open transaction:
    /// * it is **not logged** to the changelog (the changelog topic's own retention removes old
    ///   windows in Kafka, as in Kafka Streams);
    /// * it is **not held back** until commit: a caching layer drops its buffered and cached
    ///   entries in the range and deletes the range from the store below at once.
    ///
    /// The default deletes key by key through [`KeyValueStore::delete`]; every layer of this crate
    /// overrides it (a layer that only forwards must forward this too, or its deletes would be
    /// logged one by one).
    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        if from >= to {
            return Ok(());
        }
        let keys = self
            .range(Bound::Included(from), Bound::Excluded(to))?
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<Vec<_>, _>>()?;
        for key in keys {
            self.delete(&key)?;
        }
        Ok(())
    }

    /// Keys in `[from, to]` per the bounds, ascending.
    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError>;

    /// Keys in `[from, to]` per the bounds, descending (largest first).
    fn reverse_range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>)
    -> Result<KvIter<'_>, StateError>;

    /// Keys starting with `prefix`, ascending.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError>;

    /// All entries, ascending.
    fn all(&self) -> Result<KvIter<'_>, StateError> {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// An estimate of the number of entries (exact for in-memory stores).
    fn approximate_num_entries(&self) -> Result<u64, StateError>;

    /// The changelog offsets the store's durable contents have reached (empty when never
    /// checkpointed).
    fn committed_offsets(&self) -> Result<Offsets, StateError>;

    /// Makes buffered writes durable in the underlying medium. Layers that buffer writes for a
    /// transaction do **not** release them here; see [`KeyValueStore::commit`].
    fn flush(&mut self) -> Result<(), StateError>;

    /// Commit point of the owning task: applies every write buffered by this store stack and
    /// records `offsets` in the same atomic batch. Stores that buffer nothing just apply the
    /// offsets.
    fn commit(&mut self, offsets: Offsets) -> Result<(), StateError> {
        self.apply(WriteBatch {
            writes: Vec::new(),
            offsets,
        })
    }

    /// Drops writes buffered since the last commit (an aborted transaction). Stores that buffer
    /// nothing do nothing.
    fn abort(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    /// Applies restored changelog records and their offsets directly to the durable store,
    /// bypassing change logging and caches above it (caches drop what the batch touches).
    fn restore(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.apply(batch)
    }

    /// Approximate bytes the store occupies on disk (0 for in-memory stores).
    fn size_on_disk(&self) -> u64 {
        0
    }

    /// Flushes and releases resources. Further calls return [`StateError::Closed`].
    fn close(&mut self) -> Result<(), StateError>;
}

/// Rejects offsets no changelog can have. Every store that records offsets calls this before it
/// applies anything of a batch.
pub(crate) fn check_offsets(store: &str, offsets: &Offsets) -> Result<(), StateError> {
    match offsets.iter().find(|(_, offset)| **offset < 0) {
        Some((&partition, &offset)) => Err(StateError::InvalidOffsets {
            store: store.to_owned(),
            partition,
            offset,
        }),
        None => Ok(()),
    }
}

/// A boxed store is a store, so layers can wrap `Box<dyn KeyValueStore>` (every method forwards,
/// overridden defaults included).
impl<S: KeyValueStore + ?Sized> KeyValueStore for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        (**self).put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        (**self).delete(key)
    }
    fn put_all(&mut self, writes: Vec<Write>) -> Result<(), StateError> {
        (**self).put_all(writes)
    }
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        (**self).apply(batch)
    }
    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        (**self).delete_range(from, to)
    }
    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError> {
        (**self).range(from, to)
    }
    fn reverse_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KvIter<'_>, StateError> {
        (**self).reverse_range(from, to)
    }
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError> {
        (**self).prefix_scan(prefix)
    }
    fn all(&self) -> Result<KvIter<'_>, StateError> {
        (**self).all()
    }
    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        (**self).approximate_num_entries()
    }
    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        (**self).committed_offsets()
    }
    fn flush(&mut self) -> Result<(), StateError> {
        (**self).flush()
    }
    fn commit(&mut self, offsets: Offsets) -> Result<(), StateError> {
        (**self).commit(offsets)
    }
    fn abort(&mut self) -> Result<(), StateError> {
        (**self).abort()
    }
    fn restore(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        (**self).restore(batch)
    }
    fn size_on_disk(&self) -> u64 {
        (**self).size_on_disk()
    }
    fn close(&mut self) -> Result<(), StateError> {
        (**self).close()
    }
}
