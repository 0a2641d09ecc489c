//! Global tables: every worker reads each global topic in full into a local store before any task
//! processes (bootstrap), then keeps reading to stay current.
//!
//! A global store's checkpoint is the source topic's offset per partition, written in the same
//! batch as the records it covers, so a restart resumes where the store is, not from the start.
//! Records the table's serdes cannot decode are skipped and counted (the topic is someone else's
//! data; one bad record must not stop every worker).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_state::{RocksDbConfig, RocksDbStore, StoreBuilder, WriteBatch};

use crate::restore::{PartitionReader, checkpoint_outside_log};
use weir_core::config::StreamsConfig;
use weir_core::error::StreamsError;
use weir_graph::{GlobalDef, Topology};

/// How long a checkpoint beyond the topic's reported end is probed for.
const CHECKPOINT_PROBE: Duration = Duration::from_secs(2);
use crate::metrics::worker::StorePublisher;
use weir_runtime::stores::GlobalStore;

struct GlobalTable {
    def: GlobalDef,
    store: Arc<GlobalStore>,
    reader: PartitionReader,
    /// The store's directory and RocksDB options, to re-create it after a wipe.
    path: std::path::PathBuf,
    rocksdb: RocksDbConfig,
    partitions: i32,
}

/// A checkpoint of `t`'s store is outside what its topic holds (the broker refused it as a start
/// offset: the topic was deleted and re-created, or records were deleted): the store may hold
/// rows the topic no longer has, so it is wiped and the topic read from its start.
fn wipe_and_restart(
    t: &mut GlobalTable,
    reader_config: &rdkafka::config::ClientConfig,
) -> Result<(), StreamsError> {
    tracing::warn!(
        store = %t.def.store,
        topic = %t.def.topic,
        "a checkpointed offset of the global store is out of its topic's range (the topic was \
         deleted and re-created, or truncated): wiping the store and reading the topic from its start"
    );
    let (name, path, rocksdb) = (t.def.store.as_str(), &t.path, &t.rocksdb);
    t.store.wipe(|| {
        RocksDbStore::destroy(name, path)?;
        Ok(StoreBuilder::rocksdb(name, path.clone(), rocksdb.clone()).build()?)
    })?;
    let start = (0..t.partitions).map(|p| (p, None)).collect();
    t.reader = PartitionReader::new(reader_config, &t.def.topic, &start)?;
    Ok(())
}

/// Keeps the global stores current.
pub(crate) struct GlobalUpdater {
    tables: Vec<GlobalTable>,
    reader_config: rdkafka::config::ClientConfig,
    /// The consumer config the readers switch to once bootstrapped (see `client`).
    steady_config: rdkafka::config::ClientConfig,
    decode_errors: metrics::Counter,
    null_keys: metrics::Counter,
    stats: StorePublisher,
}

/// `(approximate entries, bytes on disk)` of each global store, for the store gauges.
fn store_stats(tables: &[GlobalTable]) -> BTreeMap<String, (u64, u64)> {
    tables
        .iter()
        .map(|t| {
            let stats = t
                .store
                .with(|s| Ok((s.approximate_num_entries()?, s.size_on_disk())))
                .unwrap_or_default();
            (t.store.name().to_owned(), stats)
        })
        .collect()
}

impl GlobalUpdater {
    /// Opens each global store and positions its reader at the store's checkpoint.
    pub(crate) fn open(
        topology: &Topology,
        config: &StreamsConfig,
        rocksdb: &RocksDbConfig,
        partitions: &BTreeMap<String, i32>,
        reader_config: &rdkafka::config::ClientConfig,
        steady_config: &rdkafka::config::ClientConfig,
    ) -> Result<Self, StreamsError> {
        let dir = config
            .state_dir
            .join(&topology.application_id)
            .join("global");
        let mut tables = Vec::new();
        for def in &topology.globals {
            let path = dir.join(&def.store);
            let open = || -> Result<_, StreamsError> {
                Ok(
                    StoreBuilder::rocksdb(def.store.as_str(), path.clone(), rocksdb.clone())
                        .build()?,
                )
            };
            let mut raw = open()?;
            let mut checkpoint = raw.committed_offsets()?;
            let count = partitions
                .get(&def.topic)
                .copied()
                .ok_or_else(|| StreamsError::MissingSourceTopic(def.topic.clone()))?;
            // A checkpoint the topic no longer holds: the store may keep rows the topic lost.
            for (&p, &c) in &checkpoint {
                if p >= count {
                    continue;
                }
                if let Some(why) =
                    checkpoint_outside_log(reader_config, &def.topic, p, c, CHECKPOINT_PROBE)?
                {
                    tracing::warn!(
                        store = %def.store,
                        topic = %def.topic,
                        partition = p,
                        "{why}: wiping the global store and reading the topic from its start"
                    );
                    raw.close()?;
                    RocksDbStore::destroy(&def.store, &path)?;
                    raw = open()?;
                    checkpoint.clear();
                    break;
                }
            }
            let start = (0..count)
                .map(|p| (p, checkpoint.get(&p).map(|o| o + 1)))
                .collect();
            let reader = PartitionReader::new(reader_config, &def.topic, &start)?;
            tables.push(GlobalTable {
                def: def.clone(),
                store: GlobalStore::new(raw, weir_runtime::stores::DEFAULT_MIRROR_BYTES)?,
                reader,
                path,
                rocksdb: rocksdb.clone(),
                partitions: count,
            });
        }
        let app = weir_core::metrics::app_label(&topology.application_id);
        Ok(GlobalUpdater {
            tables,
            reader_config: reader_config.clone(),
            steady_config: steady_config.clone(),
            decode_errors: weir_core::metrics::skipped_counter(&app, "global_decode"),
            null_keys: weir_core::metrics::skipped_counter(&app, "null_key"),
            stats: StorePublisher::new(&topology.application_id, Duration::from_secs(5)),
        })
    }

    /// The stores, for the stream threads' tasks.
    pub(crate) fn stores(&self) -> Vec<Arc<GlobalStore>> {
        self.tables.iter().map(|t| t.store.clone()).collect()
    }

    /// Reads every global topic for at most `budget` and applies what was read.
    pub(crate) fn step(&mut self, budget: Duration) -> Result<u64, StreamsError> {
        let mut total = 0;
        for t in &mut self.tables {
            if t.reader.out_of_range() {
                wipe_and_restart(t, &self.reader_config)?;
            }
            let mut batch = WriteBatch::default();
            let decoder = t.def.decoder.clone();
            let (decode_errors, null_keys) = (&self.decode_errors, &self.null_keys);
            t.reader.read(budget, |r| {
                let o = batch.offsets.entry(r.partition).or_insert(r.offset);
                *o = (*o).max(r.offset);
                match decoder.decode(r.topic, r.key, r.value) {
                    Ok(Some(_)) => {
                        if let Some(k) = r.key {
                            batch.writes.push((k.to_vec(), r.value.map(<[u8]>::to_vec)));
                        }
                    }
                    Ok(None) => null_keys.increment(1),
                    Err(e) => {
                        tracing::warn!(topic = r.topic, partition = r.partition, offset = r.offset, error = %e, "skipped an undecodable global-table record");
                        decode_errors.increment(1);
                    }
                }
                Ok(())
            })?;
            total += batch.writes.len() as u64;
            if !batch.is_empty() {
                t.store.apply(batch)?;
            }
        }
        let tables = &self.tables;
        self.stats.maybe_publish(|| store_stats(tables));
        Ok(total)
    }

    /// Reads until every global topic reached its end once (the end of a partition is what a
    /// fetch at its end reports, quickly: no fixed wait), then moves each table to the steady
    /// consumer.
    pub(crate) fn bootstrap(&mut self, timeout: Duration) -> Result<u64, StreamsError> {
        let started = Instant::now();
        let mut total = 0;
        while !self.tables.iter().all(|t| t.reader.caught_up()) {
            if started.elapsed() > timeout {
                return Err(StreamsError::Internal(format!(
                    "global tables not bootstrapped after {timeout:?} ({total} records read)"
                )));
            }
            total += self.step(Duration::from_millis(200))?;
        }
        let mut bootstrap_readers = Vec::new();
        for t in &mut self.tables {
            let steady = t.reader.reopen(&self.steady_config)?;
            bootstrap_readers.push(std::mem::replace(&mut t.reader, steady));
        }
        // Closing a consumer waits for librdkafka's threads (~100 ms): not on the start-up path.
        let _ = std::thread::Builder::new()
            .name("weir-reader-close".into())
            .spawn(move || drop(bootstrap_readers));
        tracing::info!(
            records = total,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "global tables bootstrapped"
        );
        Ok(total)
    }

    /// Keeps the stores current until `shutdown`.
    pub(crate) fn run(mut self, shutdown: Arc<AtomicBool>) -> Result<(), StreamsError> {
        while !shutdown.load(Ordering::Acquire) {
            self.step(Duration::from_millis(100))?;
        }
        for t in &self.tables {
            t.store.with(|s| s.close())?;
        }
        Ok(())
    }
}
