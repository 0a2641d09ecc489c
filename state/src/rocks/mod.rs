//! [`RocksDbStore`]: a persistent [`KeyValueStore`], one RocksDB instance per store.
//!
//! Owns: the store's directory, its RocksDB instance and the checkpoint kept inside it. The data
//! lives in the default column family; the changelog offsets it has reached live in the
//! `weir-checkpoint` column family (format in `checkpoint.rs`) and are written in the **same**
//! RocksDB `WriteBatch` as the data by [`KeyValueStore::apply`], so a crash at any instant
//! leaves data and offsets in agreement. The store is the source of truth for its checkpoint:
//! there is no separate checkpoint file.
//!
//! Durability: every write goes through RocksDB's write-ahead log, which survives a crashed
//! process; [`KeyValueStore::flush`] syncs the log to disk (power loss), and
//! [`KeyValueStore::close`] also flushes the memtables so the next open replays nothing.
//!
//! Invariants: no operation panics on stored bytes or RocksDB errors (they become
//! [`StateError`]s); the in-memory copy of the checkpoint equals the column family's contents;
//! after `close` every operation returns [`StateError::Closed`].

mod checkpoint;
mod config;
mod iter;

use std::ops::Bound;
use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, FlushOptions, WriteOptions, properties};

pub use config::{
    Compression, PRIVATE_BLOCK_CACHE_BYTES, RocksDbConfig, SharedBlockCache, SharedWriteBuffers,
};

use crate::keys::KeyRange;
use crate::store::check_offsets;
use crate::{KeyValueStore, KvIter, Offsets, StateError, WriteBatch};
use checkpoint::CHECKPOINT_CF;
use iter::RocksIter;

/// A key-value store in its own RocksDB database.
pub struct RocksDbStore {
    name: String,
    path: PathBuf,
    /// `None` once closed.
    db: Option<DB>,
    /// The checkpoint as stored in [`CHECKPOINT_CF`].
    offsets: Offsets,
    write_opts: WriteOptions,
}

impl std::fmt::Debug for RocksDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbStore")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("open", &self.db.is_some())
            .field("offsets", &self.offsets)
            .finish()
    }
}

impl RocksDbStore {
    /// Opens the store `name` in the directory `path`, creating both if missing, and reads its
    /// checkpoint.
    pub fn open(
        name: impl Into<String>,
        path: impl AsRef<Path>,
        config: &RocksDbConfig,
    ) -> Result<Self, StateError> {
        let name = name.into();
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| StateError::Io {
            store: name.clone(),
            path: path.clone(),
            source,
        })?;
        let column_families = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, config.data_options()),
            ColumnFamilyDescriptor::new(CHECKPOINT_CF, config.checkpoint_options()),
        ];
        let db = DB::open_cf_descriptors(&config.db_options(), &path, column_families).map_err(
            |source| StateError::Open {
                store: name.clone(),
                path: path.clone(),
                source,
            },
        )?;
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(config.sync_writes);
        let offsets = read_checkpoint(&name, &db)?;
        Ok(Self {
            name,
            path,
            db: Some(db),
            offsets,
            write_opts,
        })
    }

    /// Deletes the store's directory and everything in it (to wipe a corrupted store before a
    /// full restore). The store must be closed; a missing directory is not an error.
    pub fn destroy(name: &str, path: impl AsRef<Path>) -> Result<(), StateError> {
        let path = path.as_ref();
        match std::fs::remove_dir_all(path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(StateError::Io {
                store: name.to_owned(),
                path: path.to_path_buf(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<&DB, StateError> {
        self.db
            .as_ref()
            .ok_or_else(|| StateError::closed(&self.name))
    }

    fn read_error(&self, source: rocksdb::Error) -> StateError {
        StateError::Read {
            store: self.name.clone(),
            source,
        }
    }

    fn write_error(&self, source: rocksdb::Error) -> StateError {
        StateError::Write {
            store: self.name.clone(),
            source,
        }
    }

    fn scan(&self, range: KeyRange, reverse: bool) -> Result<KvIter<'_>, StateError> {
        let db = self.db()?;
        Ok(Box::new(RocksIter::new(db, &self.name, range, reverse)))
    }
}

/// A key smaller than `key` and close below it (`None` for the empty key): `key` without its last
/// byte when that byte is 0, else `key` with its last byte decremented and a run of `0xff`
/// appended. Files ending between the result and `key` are merely left to compaction.
fn strictly_below(key: &[u8]) -> Option<Vec<u8>> {
    let (&last, head) = key.split_last()?;
    let mut below = head.to_vec();
    if last > 0 {
        below.push(last - 1);
        below.extend_from_slice(&[0xff; 16]);
    }
    Some(below)
}

fn checkpoint_cf<'a>(store: &str, db: &'a DB) -> Result<&'a ColumnFamily, StateError> {
    db.cf_handle(CHECKPOINT_CF)
        .ok_or_else(|| StateError::Corrupted {
            store: store.to_owned(),
            detail: format!("column family `{CHECKPOINT_CF}` is missing"),
        })
}

fn read_checkpoint(store: &str, db: &DB) -> Result<Offsets, StateError> {
    let mut raw = db.raw_iterator_cf(checkpoint_cf(store, db)?);
    raw.seek_to_first();
    let mut offsets = Offsets::new();
    while let Some((key, value)) = raw.item() {
        let (partition, offset) = checkpoint::decode(store, key, value)?;
        offsets.insert(partition, offset);
        raw.next();
    }
    raw.status().map_err(|source| StateError::Read {
        store: store.to_owned(),
        source,
    })?;
    Ok(offsets)
}

impl KeyValueStore for RocksDbStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db()?.get(key).map_err(|e| self.read_error(e))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.db()?
            .put_opt(key, value, &self.write_opts)
            .map_err(|e| self.write_error(e))
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.db()?
            .delete_opt(key, &self.write_opts)
            .map_err(|e| self.write_error(e))
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StateError> {
        let db = self.db()?;
        check_offsets(&self.name, &batch.offsets)?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut rocks = rocksdb::WriteBatch::default();
        for (key, value) in &batch.writes {
            match value {
                Some(value) => rocks.put(key, value),
                None => rocks.delete(key),
            }
        }
        if !batch.offsets.is_empty() {
            let cf = checkpoint_cf(&self.name, db)?;
            for (&partition, &offset) in &batch.offsets {
                rocks.put_cf(
                    cf,
                    checkpoint::encode_key(partition),
                    checkpoint::encode_value(offset),
                );
            }
        }
        db.write_opt(rocks, &self.write_opts)
            .map_err(|e| self.write_error(e))?;
        self.offsets.extend(batch.offsets);
        Ok(())
    }

    /// One range tombstone (O(1), written through the write-ahead log like any batch), then the
    /// SST files lying wholly inside the range are dropped at once, so an expired segment's disk
    /// space comes back without waiting for compaction (RocksDB's recipe for large deletions).
    /// What the remaining files hold of the range goes at their next compaction.
    fn delete_range(&mut self, from: &[u8], to: &[u8]) -> Result<(), StateError> {
        let db = self.db()?;
        if from >= to {
            return Ok(());
        }
        let mut rocks = rocksdb::WriteBatch::default();
        rocks.delete_range(from, to);
        db.write_opt(rocks, &self.write_opts)
            .map_err(|e| self.write_error(e))?;
        // RocksDB's file range is inclusive at the end: stop strictly below `to`, or a file ending
        // in a tombstone of the key `to` could go and resurrect an older value of `to`.
        if let Some(below) = strictly_below(to).filter(|below| from <= below.as_slice()) {
            db.delete_file_in_range(from, below.as_slice())
                .map_err(|e| self.write_error(e))?;
        }
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
        let estimate = self
            .db()?
            .property_int_value(properties::ESTIMATE_NUM_KEYS)
            .map_err(|e| self.read_error(e))?;
        Ok(estimate.unwrap_or(0))
    }

    fn committed_offsets(&self) -> Result<Offsets, StateError> {
        self.db()?;
        Ok(self.offsets.clone())
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.db()?
            .flush_wal(true)
            .map_err(|source| StateError::Flush {
                store: self.name.clone(),
                source,
            })
    }

    fn abort(&mut self) -> Result<(), StateError> {
        self.db().map(|_| ())
    }

    fn size_on_disk(&self) -> u64 {
        let Ok(db) = self.db() else { return 0 };
        let data = db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME);
        let checkpoint = db.cf_handle(CHECKPOINT_CF);
        [data, checkpoint]
            .into_iter()
            .flatten()
            .flat_map(|cf| {
                [
                    properties::TOTAL_SST_FILES_SIZE,
                    properties::CUR_SIZE_ALL_MEM_TABLES,
                ]
                .map(|p| db.property_int_value_cf(cf, p).ok().flatten().unwrap_or(0))
            })
            .sum()
    }

    fn close(&mut self) -> Result<(), StateError> {
        let db = self
            .db
            .take()
            .ok_or_else(|| StateError::closed(&self.name))?;
        let mut cfs = Vec::with_capacity(2);
        cfs.extend(db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME));
        cfs.extend(db.cf_handle(CHECKPOINT_CF));
        let mut opts = FlushOptions::default();
        opts.set_wait(true);
        let flushed = db.flush_cfs_opt(&cfs, &opts);
        drop(cfs);
        drop(db);
        // Data and checkpoint are in the write-ahead log even when the memtable flush failed.
        flushed.map_err(|source| StateError::Flush {
            store: self.name.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_below_is_below() {
        assert_eq!(strictly_below(b""), None);
        for key in [&b"a"[..], b"a\0", b"\0", b"ab\xff", &[0, 0, 1]] {
            let below = strictly_below(key).unwrap();
            assert!(below.as_slice() < key, "{key:?}");
        }
        assert_eq!(strictly_below(b"a\0"), Some(b"a".to_vec()));
    }

    #[test]
    fn delete_range_drops_whole_files_and_keeps_the_end_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = RocksDbConfig::default();
        let key = |i: u32| i.to_be_bytes();
        // Two generations, each flushed (by close) and compacted on its own into its own file.
        for (lo, hi) in [(0, 10_000), (10_000, 20_000)] {
            let mut store = RocksDbStore::open("s", dir.path(), &config).unwrap();
            for i in lo..hi {
                store.put(&key(i), &[1; 32]).unwrap();
            }
            store.close().unwrap();
            let store = RocksDbStore::open("s", dir.path(), &config).unwrap();
            let db = store.db.as_ref().unwrap();
            db.compact_range(Some(key(lo)), Some(key(hi)));
        }
        let mut store = RocksDbStore::open("s", dir.path(), &config).unwrap();
        let sst_bytes = |store: &RocksDbStore| {
            let db = store.db.as_ref().unwrap();
            db.property_int_value(properties::TOTAL_SST_FILES_SIZE)
                .unwrap()
                .unwrap()
        };
        let before = sst_bytes(&store);
        store.delete_range(&key(0), &key(10_000)).unwrap();
        assert!(sst_bytes(&store) < before / 4 * 3, "no file was dropped");
        assert_eq!(store.get(&key(0)).unwrap(), None);
        assert_eq!(store.get(&key(9_999)).unwrap(), None);
        assert!(store.get(&key(10_000)).unwrap().is_some());
        assert_eq!(store.all().unwrap().count(), 10_000);
        store.close().unwrap();
        let store = RocksDbStore::open("s", dir.path(), &config).unwrap();
        assert_eq!(store.all().unwrap().count(), 10_000);
    }

    #[test]
    fn checkpoint_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let config = RocksDbConfig::default();
        let mut store = RocksDbStore::open("s", dir.path(), &config).unwrap();
        let batch = WriteBatch {
            writes: vec![(b"k".to_vec(), Some(b"v".to_vec()))],
            offsets: Offsets::from([(0, 7), (3, 1)]),
        };
        store.apply(batch).unwrap();
        drop(store); // no close: the write-ahead log alone must carry it
        let store = RocksDbStore::open("s", dir.path(), &config).unwrap();
        assert_eq!(
            store.committed_offsets().unwrap(),
            Offsets::from([(0, 7), (3, 1)])
        );
        assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn shared_cache_and_every_compression_open() {
        let cache = SharedBlockCache::new(1 << 20);
        for compression in [
            Compression::None,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let config = RocksDbConfig {
                block_cache: Some(cache.clone()),
                compression,
                ..Default::default()
            };
            let mut store = RocksDbStore::open("s", dir.path(), &config).unwrap();
            store.put(b"k", &[7; 1000]).unwrap();
            store.close().unwrap();
            let store = RocksDbStore::open("s", dir.path(), &config).unwrap();
            assert_eq!(store.get(b"k").unwrap(), Some(vec![7; 1000]));
            assert!(store.size_on_disk() > 0);
        }
        assert_eq!(cache.capacity(), 1 << 20);
    }

    #[test]
    fn second_open_of_a_locked_directory_is_retriable() {
        let dir = tempfile::tempdir().unwrap();
        let config = RocksDbConfig::default();
        let _first = RocksDbStore::open("s", dir.path(), &config).unwrap();
        let err = RocksDbStore::open("s", dir.path(), &config).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Retriable, "{err}");
    }

    #[test]
    fn destroy_wipes_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let mut store = RocksDbStore::open("s", &path, &RocksDbConfig::default()).unwrap();
        store
            .apply(WriteBatch {
                writes: vec![],
                offsets: Offsets::from([(0, 3)]),
            })
            .unwrap();
        store.close().unwrap();
        RocksDbStore::destroy("s", &path).unwrap();
        RocksDbStore::destroy("s", &path).unwrap();
        let store = RocksDbStore::open("s", &path, &RocksDbConfig::default()).unwrap();
        assert!(store.committed_offsets().unwrap().is_empty());
    }
}
