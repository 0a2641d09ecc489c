//! [`ChangeLoggingStore`]: the layer that sends every write of a store to its changelog.
//!
//! Owns: the order "changelog first, then the store". Each write (put, delete, every write of
//! `put_all` and `apply`) is handed to the [`ChangelogSink`] in order — `None` is a tombstone —
//! and only then to the inner store; a write the sink refuses never reaches the store. Does not
//! own: sending to Kafka (the sink does), offsets (the runtime learns them from the producer and
//! hands them to [`KeyValueStore::commit`]).
//!
//! Invariants: [`KeyValueStore::restore`] is **not** logged: restored records come from the
//! changelog and go straight to the inner store. Nor is [`KeyValueStore::delete_range`]: it drops
//! expired segments locally, and the changelog topic's retention drops them in Kafka. After `close`, writes fail with
//! [`StateError::Closed`] before anything is sent.

use std::ops::Bound;

use crate::{ChangelogSink, KeyValueStore, KvIter, Offsets, StateError, Write, WriteBatch};

/// A store whose every write is also sent to its changelog.
pub struct ChangeLoggingStore<S: KeyValueStore> {
    inner: S,
    sink: Box<dyn ChangelogSink>,
    /// Set by `close`: writes are refused before they reach the sink.
    closed: bool,
}

impl<S: KeyValueStore + std::fmt::Debug> std::fmt::Debug for ChangeLoggingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLoggingStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: KeyValueStore> ChangeLoggingStore<S> {
    /// Logs the writes of `inner` to `sink`.
    pub fn new(inner: S, sink: Box<dyn ChangelogSink>) -> Self {
        Self {
            inner,
            sink,
            closed: false,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped store, mutably (writes made here are not logged).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the layer.
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

    fn log(&mut self, writes: &[Write]) -> Result<(), StateError> {
        self.check_open()?;
        for (key, value) in writes {
            self.sink.send(self.inner.name(), key, value.as_deref())?;
        }
        Ok(())
    }
}

impl<S: KeyValueStore> KeyValueStore for ChangeLoggingStore<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.get(key)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        self.sink.send(self.inner.name(), key, Some(value))?;
        self.inner.put(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        self.sink.send(self.inner.name(), key, None)?;
        self.inner.delete(key)
    }

    fn put_all(&mut self, writes: Vec<Write>) -> Result<(), StateError> {
        self.log(&writes)?;
        self.inner.put_all(writes)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.log(&batch.writes)?;
        self.inner.apply(batch)
    }

    /// Not logged: dropping a range (an expired segment) is local housekeeping; the changelog
    /// topic's retention removes the same records in Kafka.
    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        self.inner.delete_range(from, to)
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<KvIter<'_>, StateError> {
        self.inner.range(from, to)
    }

    fn reverse_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KvIter<'_>, StateError> {
        self.inner.reverse_range(from, to)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KvIter<'_>, StateError> {
        self.inner.prefix_scan(prefix)
    }

    fn all(&self) -> Result<KvIter<'_>, StateError> {
        self.inner.all()
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.inner.approximate_num_entries()
    }

    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        self.inner.committed_offsets()
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.inner.flush()
    }

    fn commit(&mut self, offsets: Offsets) -> Result<(), StateError> {
        self.inner.commit(offsets)
    }

    fn abort(&mut self) -> Result<(), StateError> {
        self.inner.abort()
    }

    fn restore(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        self.inner.restore(batch)
    }

    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        self.closed = true;
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::InMemoryStore;

    type Log = Arc<Mutex<Vec<(String, Vec<u8>, Option<Vec<u8>>)>>>;

    struct Recorder(Log, bool);

    impl ChangelogSink for Recorder {
        fn send(
            &mut self,
            store: &str,
            key: &[u8],
            value: Option<&[u8]>,
        ) -> Result<(), StateError> {
            if self.1 {
                return Err(StateError::ChangelogSend {
                    store: store.into(),
                    message: "broken".into(),
                });
            }
            self.0
                .lock()
                .unwrap()
                .push((store.into(), key.to_vec(), value.map(<[u8]>::to_vec)));
            Ok(())
        }
    }

    fn logged(fail: bool) -> (ChangeLoggingStore<InMemoryStore>, Log) {
        let log = Log::default();
        let store = ChangeLoggingStore::new(
            InMemoryStore::new("s"),
            Box::new(Recorder(log.clone(), fail)),
        );
        (store, log)
    }

    fn entry(key: &str, value: Option<&str>) -> (String, Vec<u8>, Option<Vec<u8>>) {
        ("s".into(), key.into(), value.map(Into::into))
    }

    #[test]
    fn every_write_is_logged_in_order_with_tombstones() {
        let (mut store, log) = logged(false);
        store.put(b"a", b"1").unwrap();
        store.delete(b"a").unwrap();
        store
            .put_all(vec![
                (b"b".to_vec(), Some(b"2".to_vec())),
                (b"c".to_vec(), None),
            ])
            .unwrap();
        store
            .apply(WriteBatch {
                writes: vec![(b"d".to_vec(), Some(b"4".to_vec()))],
                offsets: Offsets::from([(0, 9)]),
            })
            .unwrap();
        store.commit(Offsets::from([(0, 10)])).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                entry("a", Some("1")),
                entry("a", None),
                entry("b", Some("2")),
                entry("c", None),
                entry("d", Some("4")),
            ]
        );
        assert_eq!(store.get(b"d").unwrap(), Some(b"4".to_vec()));
        assert_eq!(store.committed_offsets().unwrap(), Offsets::from([(0, 10)]));
    }

    #[test]
    fn restore_is_not_logged() {
        let (mut store, log) = logged(false);
        store
            .restore(WriteBatch {
                writes: vec![(b"k".to_vec(), Some(b"v".to_vec())), (b"x".to_vec(), None)],
                offsets: Offsets::from([(0, 5)]),
            })
            .unwrap();
        assert!(log.lock().unwrap().is_empty());
        assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(store.committed_offsets().unwrap(), Offsets::from([(0, 5)]));
    }

    #[test]
    fn delete_range_is_not_logged() {
        let (mut store, log) = logged(false);
        store.put(b"a", b"1").unwrap();
        store.put(b"b", b"2").unwrap();
        store.delete_range(b"a", b"b").unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec![entry("a", Some("1")), entry("b", Some("2"))]
        );
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()));
        store.close().unwrap();
        assert!(matches!(
            store.delete_range(b"a", b"z"),
            Err(StateError::Closed { .. })
        ));
    }

    #[test]
    fn a_refused_write_does_not_reach_the_store() {
        let (mut store, _) = logged(true);
        assert!(matches!(
            store.put(b"k", b"v"),
            Err(StateError::ChangelogSend { .. })
        ));
        assert!(store.delete(b"k").is_err());
        assert!(
            store
                .put_all(vec![(b"k".to_vec(), Some(b"v".to_vec()))])
                .is_err()
        );
        assert_eq!(store.into_inner().get(b"k").unwrap(), None);
    }
}
