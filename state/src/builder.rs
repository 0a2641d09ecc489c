//! [`StoreBuilder`]: the one place where store layers are stacked.
//!
//! Owns the order of the layers, which is always
//!
//! ```text
//!   ChangeLoggingStore        every write goes to the changelog at once (inside the producer's
//!     └ CachingStore          transaction) ...
//!         └ RocksDbStore      ... while the cache holds it back from the store until commit,
//!           | InMemoryStore   when it is applied together with the changelog offset it reached
//! ```
//!
//! so the writes of an open transaction reach RocksDB only after the commit, in the same batch as
//! their changelog offset. Typed access (serdes) and metrics wrap the built store in the engine.

use std::path::PathBuf;

use crate::{
    CachingStore, ChangeLoggingStore, ChangelogSink, InMemoryStore, KeyValueStore, RocksDbConfig,
    RocksDbStore, StateError,
};

enum Backend {
    InMemory,
    RocksDb {
        path: PathBuf,
        config: RocksDbConfig,
    },
}

/// Builds a store: a backend, optionally cached, optionally change-logged.
pub struct StoreBuilder {
    name: String,
    backend: Backend,
    cache_bytes: Option<usize>,
    sink: Option<Box<dyn ChangelogSink>>,
}

impl std::fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::InMemory => "in-memory".to_owned(),
            Backend::RocksDb { path, .. } => format!("rocksdb at {}", path.display()),
        };
        f.debug_struct("StoreBuilder")
            .field("name", &self.name)
            .field("backend", &backend)
            .field("cache_bytes", &self.cache_bytes)
            .field("logged", &self.sink.is_some())
            .finish()
    }
}

impl StoreBuilder {
    /// A store `name` held in memory.
    pub fn in_memory(name: impl Into<String>) -> Self {
        Self::with_backend(name.into(), Backend::InMemory)
    }

    /// A store `name` in its own RocksDB database in the directory `path` (the store's own
    /// directory, created if missing). Configs are cheap to clone; clones share the block cache.
    pub fn rocksdb(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        config: RocksDbConfig,
    ) -> Self {
        Self::with_backend(
            name.into(),
            Backend::RocksDb {
                path: path.into(),
                config,
            },
        )
    }

    fn with_backend(name: String, backend: Backend) -> Self {
        Self {
            name,
            backend,
            cache_bytes: None,
            sink: None,
        }
    }

    /// Adds the caching layer (write-back until commit, read cache of `cache_bytes`).
    pub fn with_caching(mut self, cache_bytes: usize) -> Self {
        self.cache_bytes = Some(cache_bytes);
        self
    }

    /// Adds the change-logging layer, sending every write to `sink`.
    pub fn with_logging(mut self, sink: Box<dyn ChangelogSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Opens the backend and stacks the layers: Logging(Caching(backend)).
    pub fn build(self) -> Result<Box<dyn KeyValueStore>, StateError> {
        let Self {
            name,
            backend,
            cache_bytes,
            sink,
        } = self;
        Ok(match backend {
            Backend::InMemory => layer(InMemoryStore::new(name), cache_bytes, sink),
            Backend::RocksDb { path, config } => {
                layer(RocksDbStore::open(name, path, &config)?, cache_bytes, sink)
            }
        })
    }
}

fn layer<S: KeyValueStore + 'static>(
    store: S,
    cache_bytes: Option<usize>,
    sink: Option<Box<dyn ChangelogSink>>,
) -> Box<dyn KeyValueStore> {
    match (cache_bytes, sink) {
        (None, None) => Box::new(store),
        (Some(bytes), None) => Box::new(CachingStore::new(store, bytes)),
        (None, Some(sink)) => Box::new(ChangeLoggingStore::new(store, sink)),
        (Some(bytes), Some(sink)) => Box::new(ChangeLoggingStore::new(
            CachingStore::new(store, bytes),
            sink,
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::Offsets;

    struct Count(Arc<Mutex<usize>>);

    impl ChangelogSink for Count {
        fn send(&mut self, _: &str, _: &[u8], _: Option<&[u8]>) -> Result<(), StateError> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn logging_is_outermost_and_the_cache_holds_writes_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let sent = Arc::new(Mutex::new(0));
        let config = RocksDbConfig::default();
        let mut store = StoreBuilder::rocksdb("s", dir.path(), config.clone())
            .with_caching(1 << 20)
            .with_logging(Box::new(Count(sent.clone())))
            .build()
            .unwrap();
        store.put(b"k", b"v").unwrap();
        assert_eq!(*sent.lock().unwrap(), 1, "sent to the changelog at once");
        store.close().unwrap();
        // Closed without commit: the write never reached RocksDB.
        let mut reopened = StoreBuilder::rocksdb("s", dir.path(), config.clone())
            .build()
            .unwrap();
        assert_eq!(reopened.get(b"k").unwrap(), None);
        reopened.close().unwrap();

        let mut store = StoreBuilder::rocksdb("s", dir.path(), config.clone())
            .with_caching(1 << 20)
            .with_logging(Box::new(Count(sent.clone())))
            .build()
            .unwrap();
        store.put(b"k", b"v").unwrap();
        store.commit(Offsets::from([(0, 1)])).unwrap();
        store.close().unwrap();
        let reopened = StoreBuilder::rocksdb("s", dir.path(), config.clone())
            .build()
            .unwrap();
        assert_eq!(reopened.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(
            reopened.committed_offsets().unwrap(),
            Offsets::from([(0, 1)])
        );
    }

    #[test]
    fn in_memory_with_every_layer_combination() {
        for (cache, log) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut builder = StoreBuilder::in_memory("m");
            if cache {
                builder = builder.with_caching(1024);
            }
            if log {
                builder = builder.with_logging(Box::new(Count(Arc::default())));
            }
            let mut store = builder.build().unwrap();
            assert_eq!(store.name(), "m");
            store.put(b"a", b"1").unwrap();
            store.commit(Offsets::from([(0, 0)])).unwrap();
            assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
            assert_eq!(store.committed_offsets().unwrap(), Offsets::from([(0, 0)]));
        }
    }
}
