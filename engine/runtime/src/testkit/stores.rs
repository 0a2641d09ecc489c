//! The test driver's stores: built as a worker builds them (in memory, or RocksDB under the
//! driver's `state_dir`), task stores with the record cache and change logging into an
//! in-memory changelog the test can read.

use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use weir_core::error::StreamsError;
use weir_state::{ChangelogSink, KeyValueStore, StateError, StoreBuilder};

use super::DriverConfig;

/// What the change-logging layers of the driver's stores wrote, per store, in order.
pub(super) type Changelogs = Arc<Mutex<HashMap<String, Vec<(Vec<u8>, Option<Vec<u8>>)>>>>;

/// The driver's changelog: every write of a logged store, kept in memory.
struct MemoryChangelog(Changelogs);

impl ChangelogSink for MemoryChangelog {
    fn send(&mut self, store: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        let mut logs = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        logs.entry(store.to_owned())
            .or_default()
            .push((key.to_vec(), value.map(<[u8]>::to_vec)));
        Ok(())
    }
}

fn builder(config: &DriverConfig, dir: &str, name: &str) -> StoreBuilder {
    match &config.state_dir {
        Some(root) => {
            let path = root.join(dir).join(name);
            StoreBuilder::rocksdb(name, path, weir_state::RocksDbConfig::default())
        }
        None => StoreBuilder::in_memory(name),
    }
}

/// A global store: as a worker's, no cache and no changelog (the topic is its log).
pub(super) fn open(
    config: &DriverConfig,
    dir: &str,
    name: &str,
) -> Result<Box<dyn KeyValueStore>, StreamsError> {
    Ok(builder(config, dir, name).build()?)
}

/// A task store with a worker's layers: the record cache and, when `logged`, change logging.
pub(super) fn open_task_store(
    config: &DriverConfig,
    dir: &str,
    name: &str,
    logged: bool,
    changelogs: &Changelogs,
) -> Result<Box<dyn KeyValueStore>, StreamsError> {
    let mut b = builder(config, dir, name).with_caching(config.cache_max_bytes);
    if logged {
        b = b.with_logging(Box::new(MemoryChangelog(changelogs.clone())));
    }
    Ok(b.build()?)
}
