//! Fixtures of the contract suites: how to open (and reopen) each store stack under test, and
//! the cases of every suite (each test crate runs a part of them).
#![allow(dead_code)]

pub mod cases;
pub mod scans;
pub mod sessions;
pub mod windows;
pub mod windows_model;

use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use weir_state::{
    CachingStore, ChangeLoggingStore, ChangelogSink, InMemoryStore, KeyValueStore, RocksDbConfig,
    RocksDbStore, StateError, StoreBuilder, Write,
};

/// The store name every fixture uses.
pub const NAME: &str = "contract";

/// One store stack under test.
pub trait Fixture: Sized {
    /// The stack.
    type Store: KeyValueStore;
    /// Commit (with no offsets) after writes, before reading them back. When false, layers that
    /// buffer writes are read before commit (read-your-writes).
    const SETTLE: bool;
    /// The store survives close and reopen.
    const PERSISTENT: bool;
    /// `approximate_num_entries` is exact.
    const EXACT_COUNT: bool;

    /// A fixture with fresh, empty storage.
    fn new() -> Self;

    /// Opens the store over the fixture's storage (again: a reopen).
    fn open(&mut self) -> Self::Store;
}

/// A changelog sink that records every write.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Write>>>);

impl ChangelogSink for Recorder {
    fn send(&mut self, _: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        self.0
            .lock()
            .unwrap()
            .push((key.to_vec(), value.map(<[u8]>::to_vec)));
        Ok(())
    }
}

fn rocks_config() -> RocksDbConfig {
    // Small memtables so longer tests also read from SST files.
    RocksDbConfig {
        write_buffer_size: 64 << 10,
        ..Default::default()
    }
}

pub struct Memory;

impl Fixture for Memory {
    type Store = InMemoryStore;
    const SETTLE: bool = false;
    const PERSISTENT: bool = false;
    const EXACT_COUNT: bool = true;
    fn new() -> Self {
        Memory
    }
    fn open(&mut self) -> InMemoryStore {
        InMemoryStore::new(NAME)
    }
}

pub struct Rocks(TempDir);

impl Fixture for Rocks {
    type Store = RocksDbStore;
    const SETTLE: bool = false;
    const PERSISTENT: bool = true;
    const EXACT_COUNT: bool = false;
    fn new() -> Self {
        Rocks(tempfile::tempdir().unwrap())
    }
    fn open(&mut self) -> RocksDbStore {
        RocksDbStore::open(NAME, self.0.path(), &rocks_config()).unwrap()
    }
}

/// Caching over memory; `SETTLE` picks commit-before-read or read-your-writes.
pub struct CachingMemory<const SETTLE: bool>;

impl<const C: bool> Fixture for CachingMemory<C> {
    type Store = CachingStore<InMemoryStore>;
    const SETTLE: bool = C;
    const PERSISTENT: bool = false;
    const EXACT_COUNT: bool = true;
    fn new() -> Self {
        CachingMemory
    }
    fn open(&mut self) -> Self::Store {
        CachingStore::new(InMemoryStore::new(NAME), 1 << 20)
    }
}

/// Caching over RocksDB with a tiny read cache (evictions all the time).
pub struct CachingRocks<const SETTLE: bool>(TempDir);

impl<const C: bool> Fixture for CachingRocks<C> {
    type Store = CachingStore<RocksDbStore>;
    const SETTLE: bool = C;
    const PERSISTENT: bool = true;
    const EXACT_COUNT: bool = false;
    fn new() -> Self {
        CachingRocks(tempfile::tempdir().unwrap())
    }
    fn open(&mut self) -> Self::Store {
        CachingStore::new(
            RocksDbStore::open(NAME, self.0.path(), &rocks_config()).unwrap(),
            2048,
        )
    }
}

pub struct LoggingRocks(TempDir);

impl Fixture for LoggingRocks {
    type Store = ChangeLoggingStore<RocksDbStore>;
    const SETTLE: bool = false;
    const PERSISTENT: bool = true;
    const EXACT_COUNT: bool = false;
    fn new() -> Self {
        LoggingRocks(tempfile::tempdir().unwrap())
    }
    fn open(&mut self) -> Self::Store {
        let store = RocksDbStore::open(NAME, self.0.path(), &rocks_config()).unwrap();
        ChangeLoggingStore::new(store, Box::new(Recorder::default()))
    }
}

/// The production stack from the builder: Logging(Caching(RocksDB)), read before commit.
pub struct Built(TempDir);

impl Fixture for Built {
    type Store = Box<dyn KeyValueStore>;
    const SETTLE: bool = false;
    const PERSISTENT: bool = true;
    const EXACT_COUNT: bool = false;
    fn new() -> Self {
        Built(tempfile::tempdir().unwrap())
    }
    fn open(&mut self) -> Self::Store {
        StoreBuilder::rocksdb(NAME, self.0.path(), rocks_config())
            .with_caching(64 << 10)
            .with_logging(Box::new(Recorder::default()))
            .build()
            .unwrap()
    }
}
