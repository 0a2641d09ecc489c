//! [`InMemoryStore`]: a [`KeyValueStore`] held in a `BTreeMap`, for small tables and tests.
//!
//! Owns its entries and its checkpoint, both in memory only: nothing survives the process, so an
//! in-memory store is always restored from its changelog from the start. Invariants: a batch is
//! applied whole (offsets are checked before any write); after [`KeyValueStore::close`] every
//! operation returns [`StateError::Closed`].

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::keys::KeyRange;
use crate::store::check_offsets;
use crate::{KeyValueStore, KvIter, Offsets, StateError, WriteBatch};

/// A key-value store in memory, ordered by key bytes.
#[derive(Debug)]
pub struct InMemoryStore {
    name: String,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    offsets: Offsets,
    closed: bool,
}

impl InMemoryStore {
    /// An empty store called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            entries: BTreeMap::new(),
            offsets: Offsets::new(),
            closed: false,
        }
    }

    fn open(&self) -> Result<(), StateError> {
        if self.closed {
            Err(StateError::closed(&self.name))
        } else {
            Ok(())
        }
    }

    fn scan(&self, range: KeyRange, reverse: bool) -> Result<KvIter<'_>, StateError> {
        self.open()?;
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let entries = self
            .entries
            .range::<[u8], _>(range.as_bounds())
            .map(|(k, v)| Ok((k.clone(), v.clone())));
        Ok(if reverse {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        })
    }
}

impl KeyValueStore for InMemoryStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.open()?;
        Ok(self.entries.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.open()?;
        self.entries.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.open()?;
        self.entries.remove(key);
        Ok(())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.open()?;
        check_offsets(&self.name, &batch.offsets)?;
        for (key, value) in batch.writes {
            match value {
                Some(value) => self.entries.insert(key, value),
                None => self.entries.remove(&key),
            };
        }
        self.offsets.extend(batch.offsets);
        Ok(())
    }

    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        self.open()?;
        if from >= to {
            return Ok(());
        }
        // Split off `[from, ..)`, then put back its part from `to` on. Expired segments are the
        // lowest keys, so nothing usually lies below `from` and `append` is a swap.
        let mut tail = self.entries.split_off(from);
        let mut above = tail.split_off(to);
        self.entries.append(&mut above);
        Ok(())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError> {
        self.scan(KeyRange::new(from, to), false)
    }

    fn reverse_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KvIter<'_>, StateError> {
        self.scan(KeyRange::new(from, to), true)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError> {
        self.scan(KeyRange::prefix(prefix), false)
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.open()?;
        Ok(self.entries.len() as u64)
    }

    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        self.open()?;
        Ok(self.offsets.clone())
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.open()
    }

    fn abort(&mut self) -> Result<(), StateError> {
        self.open()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.open()?;
        self.closed = true;
        self.entries = BTreeMap::new();
        Ok(())
    }
}
