//! Range iteration over a RocksDB store, both directions, without panics.
//!
//! Owns: positioning a raw RocksDB iterator on a [`KeyRange`] and walking it. The range is given
//! to RocksDB as iterate bounds (so it stops early and skips tombstones outside the range) and is
//! checked again on every key. A RocksDB error ends the iteration with one `Err` item.

use rocksdb::{DB, DBRawIteratorWithThreadMode, ReadOptions};

use crate::StateError;
use crate::keys::KeyRange;

/// An iterator over `[range.lo, range.hi)` of a RocksDB column family.
pub(crate) struct RocksIter<'a> {
    raw: DBRawIteratorWithThreadMode<'a, DB>,
    range: KeyRange,
    reverse: bool,
    done: bool,
    store: &'a str,
}

impl<'a> RocksIter<'a> {
    /// Opens an iterator over the default column family of `db`.
    pub(crate) fn new(db: &'a DB, store: &'a str, range: KeyRange, reverse: bool) -> Self {
        let mut opts = ReadOptions::default();
        if !range.lo.is_empty() {
            opts.set_iterate_lower_bound(range.lo.clone());
        }
        if let Some(hi) = &range.hi {
            opts.set_iterate_upper_bound(hi.clone());
        }
        let mut raw = db.raw_iterator_opt(opts);
        let done = range.is_empty();
        if !done {
            if reverse {
                // With an upper bound, SeekToLast lands on the last key below it.
                raw.seek_to_last();
            } else {
                raw.seek(&range.lo);
            }
        }
        Self {
            raw,
            range,
            reverse,
            done,
            store,
        }
    }
}

impl Iterator for RocksIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some((key, value)) = self.raw.item() else {
                self.done = true;
                return match self.raw.status() {
                    Ok(()) => None,
                    Err(source) => Some(Err(StateError::Read {
                        store: self.store.to_owned(),
                        source,
                    })),
                };
            };
            // Keys on the near side of the range (never expected with iterate bounds set) are
            // stepped over; a key past the far side ends the iteration.
            let (before, past) = if self.reverse {
                (self.range.above(key), key < self.range.lo.as_slice())
            } else {
                (key < self.range.lo.as_slice(), self.range.above(key))
            };
            if past {
                self.done = true;
                return None;
            }
            let entry = (!before).then(|| (key.to_vec(), value.to_vec()));
            if self.reverse {
                self.raw.prev();
            } else {
                self.raw.next();
            }
            if let Some(entry) = entry {
                return Some(Ok(entry));
            }
        }
        None
    }
}
