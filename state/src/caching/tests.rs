//! Unit tests of the caching layer over a spy store that records what reaches it.

use std::cell::Cell;
use std::ops::Bound;

use super::*;
use crate::InMemoryStore;

/// An in-memory store that records every batch applied to it and counts point reads.
#[derive(Debug)]
struct Spy {
    store: InMemoryStore,
    batches: Vec<WriteBatch>,
    gets: Cell<usize>,
    fail_apply: bool,
}

impl Spy {
    fn new() -> Self {
        Self {
            store: InMemoryStore::new("s"),
            batches: vec![],
            gets: Cell::new(0),
            fail_apply: false,
        }
    }
}

impl KeyValueStore for Spy {
    fn name(&self) -> &str {
        self.store.name()
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.gets.set(self.gets.get() + 1);
        self.store.get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.store.put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.store.delete(key)
    }
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        if self.fail_apply {
            return Err(StateError::Corrupted {
                store: "s".into(),
                detail: "injected".into(),
            });
        }
        self.batches.push(batch.clone());
        self.store.apply(batch)
    }
    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError> {
        self.store.range(from, to)
    }
    fn reverse_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KvIter<'_>, StateError> {
        self.store.reverse_range(from, to)
    }
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError> {
        self.store.prefix_scan(prefix)
    }
    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.store.approximate_num_entries()
    }
    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        self.store.committed_offsets()
    }
    fn flush(&mut self) -> Result<(), StateError> {
        self.store.flush()
    }
    fn close(&mut self) -> Result<(), StateError> {
        self.store.close()
    }
}

fn caching() -> CachingStore<Spy> {
    CachingStore::new(Spy::new(), 1 << 20)
}

fn w(key: &str, value: Option<&str>) -> Write {
    (
        key.as_bytes().to_vec(),
        value.map(|v| v.as_bytes().to_vec()),
    )
}

#[test]
fn dirty_writes_stay_out_of_the_inner_store_until_commit() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store
        .put_all(vec![w("b", Some("2")), w("c", None)])
        .unwrap();
    store
        .apply(WriteBatch::of(vec![w("a", Some("3"))]))
        .unwrap();
    store.flush().unwrap();
    assert_eq!(store.dirty_len(), 3);
    assert!(store.dirty_bytes() > 0);
    assert!(store.inner().batches.is_empty());
    assert_eq!(store.inner().store.get(b"a").unwrap(), None);
    // Read-your-writes before commit.
    assert_eq!(store.get(b"a").unwrap(), Some(b"3".to_vec()));

    store.commit(Offsets::from([(0, 42)])).unwrap();
    assert_eq!(store.dirty_len(), 0);
    assert_eq!(store.dirty_bytes(), 0);
    let batches = &store.inner().batches;
    assert_eq!(batches.len(), 1, "one atomic batch per commit");
    assert_eq!(
        batches[0],
        WriteBatch {
            writes: vec![w("a", Some("3")), w("b", Some("2")), w("c", None)],
            offsets: Offsets::from([(0, 42)]),
        }
    );
    assert_eq!(store.inner().store.get(b"a").unwrap(), Some(b"3".to_vec()));
    assert_eq!(store.committed_offsets().unwrap(), Offsets::from([(0, 42)]));
}

#[test]
fn committed_entries_are_served_from_the_read_cache() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store.delete(b"gone").unwrap();
    store.commit(Offsets::new()).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"gone").unwrap(), None);
    assert_eq!(store.inner().gets.get(), 0);
    // A miss is cached as a negative entry.
    assert_eq!(store.get(b"never").unwrap(), None);
    assert_eq!(store.get(b"never").unwrap(), None);
    assert_eq!(store.inner().gets.get(), 1);
    assert!(store.cached_bytes() > 0);
}

#[test]
fn apply_with_offsets_is_a_commit_including_the_batch() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store
        .apply(WriteBatch {
            writes: vec![w("b", Some("2"))],
            offsets: Offsets::from([(1, 7)]),
        })
        .unwrap();
    assert_eq!(store.dirty_len(), 0);
    assert_eq!(
        store.inner().batches,
        vec![WriteBatch {
            writes: vec![w("a", Some("1")), w("b", Some("2"))],
            offsets: Offsets::from([(1, 7)]),
        }]
    );
}

#[test]
fn abort_drops_dirty_writes_and_keeps_committed_ones() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store.commit(Offsets::from([(0, 1)])).unwrap();
    store.put(b"a", b"2").unwrap();
    store.put(b"b", b"2").unwrap();
    store.delete(b"a").unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    store.abort().unwrap();
    assert_eq!(store.dirty_len(), 0);
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), None);
    let all: Vec<_> = store.all().unwrap().map(Result::unwrap).collect();
    assert_eq!(all, vec![(b"a".to_vec(), b"1".to_vec())]);
    assert_eq!(store.inner().batches.len(), 1);
}

#[test]
fn restore_invalidates_cached_entries_and_is_applied_directly() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store.commit(Offsets::new()).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), None); // negative entry
    store
        .restore(WriteBatch {
            writes: vec![w("a", Some("9")), w("b", Some("8"))],
            offsets: Offsets::from([(0, 5)]),
        })
        .unwrap();
    assert_eq!(store.dirty_len(), 0);
    assert_eq!(store.get(b"a").unwrap(), Some(b"9".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), Some(b"8".to_vec()));
    assert_eq!(store.committed_offsets().unwrap(), Offsets::from([(0, 5)]));
}

#[test]
fn a_failed_commit_keeps_the_dirty_writes() {
    let mut store = caching();
    store.put(b"a", b"1").unwrap();
    store.inner.fail_apply = true;
    assert!(store.commit(Offsets::from([(0, 1)])).is_err());
    assert_eq!(store.dirty_len(), 1);
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    store.inner.fail_apply = false;
    store.commit(Offsets::from([(0, 1)])).unwrap();
    assert_eq!(store.inner().store.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn invalid_offsets_buffer_nothing() {
    let mut store = caching();
    let err = store
        .apply(WriteBatch {
            writes: vec![w("a", Some("1"))],
            offsets: Offsets::from([(0, -1)]),
        })
        .unwrap_err();
    assert!(matches!(
        err,
        StateError::InvalidOffsets {
            partition: 0,
            offset: -1,
            ..
        }
    ));
    assert_eq!(store.dirty_len(), 0);
}

#[test]
fn dirty_bytes_track_overwrites() {
    let mut store = caching();
    store.put(b"k", b"12345").unwrap();
    let one = store.dirty_bytes();
    store.put(b"k", b"1").unwrap();
    assert_eq!(store.dirty_bytes(), one - 4);
    store.delete(b"k").unwrap();
    assert_eq!(store.dirty_bytes(), one - 5);
}

#[test]
fn count_includes_uncommitted_writes() {
    let mut store = caching();
    store
        .put_all(vec![w("a", Some("1")), w("b", Some("1"))])
        .unwrap();
    store.commit(Offsets::new()).unwrap();
    store.put(b"a", b"2").unwrap(); // overwrite: no change
    store.delete(b"b").unwrap(); // -1
    store.put(b"c", b"1").unwrap(); // +1
    store.delete(b"d").unwrap(); // absent: no change
    assert_eq!(store.approximate_num_entries().unwrap(), 2);
}

#[test]
fn delete_range_reaches_the_inner_store_at_once_and_drops_dirty_writes() {
    let mut store = caching();
    store
        .put_all(vec![
            w("a", Some("1")),
            w("b", Some("1")),
            w("c", Some("1")),
        ])
        .unwrap();
    store.commit(Offsets::new()).unwrap();
    assert_eq!(store.get(b"b").unwrap(), Some(b"1".to_vec())); // cached
    store
        .put_all(vec![w("a", Some("2")), w("bb", Some("2")), w("c", None)])
        .unwrap();
    let outside = store.dirty_bytes() - cost(b"bb", Some(b"2")) - cost(b"a", Some(b"2"));
    store.delete_range(b"a", b"c").unwrap();
    // The inner store lost `a` and `b` without a commit; `c`'s pending delete stays pending.
    assert_eq!(store.inner().store.get(b"a").unwrap(), None);
    assert_eq!(store.inner().store.get(b"b").unwrap(), None);
    assert_eq!(store.inner().store.get(b"c").unwrap(), Some(b"1".to_vec()));
    assert_eq!((store.dirty_len(), store.dirty_bytes()), (1, outside));
    for key in [&b"a"[..], b"b", b"bb", b"c"] {
        assert_eq!(store.get(key).unwrap(), None, "{key:?}");
    }
    store.delete_range(b"z", b"a").unwrap(); // empty
    store.commit(Offsets::new()).unwrap();
    assert_eq!(store.inner().store.all().unwrap().count(), 0);
}
