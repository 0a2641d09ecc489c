//! A task assigned to a stream thread: the [`Task`] plus what running it on Kafka needs — its
//! input partitions and positions, its lifecycle state and, while restoring, its changelog
//! readers.
//!
//! ```text
//!   Created ──► Restoring ──► Running ──► Closed
//!                  │                        ▲
//!                  └────────────────────────┘ (revoked while restoring)
//! ```

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::sync::Arc;
use std::time::Duration;

use weir_state::{
    ChangelogRecord, KeyValueStore, RocksDbConfig, RocksDbStore, StoreBuilder, restore_batch,
};

use crate::consumer::TopicPartition;
use crate::producer::Producer;
use crate::restore::{PartitionReader, checkpoint_outside_log};
use weir_core::config::StreamsConfig;
use weir_core::error::StreamsError;
use weir_graph::Topology;

/// How long a checkpoint beyond the changelog's reported end is probed for (see
/// [`checkpoint_outside_log`]).
const CHECKPOINT_PROBE: Duration = Duration::from_secs(2);
use crate::output::ChangelogWriter;
use weir_runtime::stores::{GlobalReader, GlobalStore, TaskStores};
use weir_runtime::task::{Task, TaskId};

pub(crate) use weir_runtime::lifecycle::{TaskEvent, TaskState};

/// Opens (or, after a wipe, re-creates) one store of a task with its production layers.
type OpenStore = Box<dyn Fn() -> Result<Box<dyn KeyValueStore>, StreamsError> + Send>;

/// One store's restore: the changelog reader and progress.
pub(crate) struct StoreRestore {
    pub store: String,
    pub reader: PartitionReader,
    pub restored: u64,
    pub last_report: std::time::Instant,
    pub started: std::time::Instant,
    /// The changelog topic and the task's partition of it.
    changelog: String,
    partition: i32,
    /// The store's checkpoint when the restore started (`None`: none, or wiped since).
    checkpoint: Option<i64>,
    /// The store's directory, deleted by a wipe.
    path: std::path::PathBuf,
    open: OpenStore,
}

pub(crate) struct ActiveTask {
    pub task: Task,
    pub state: TaskState,
    pub partitions: Vec<TopicPartition>,
    /// Next offset to commit per input partition (last processed + 1).
    pub positions: HashMap<TopicPartition, i64>,
    /// Whether positions moved since the last commit.
    pub dirty: bool,
    /// Input partitions paused because the task buffered too many of their records.
    pub full: Vec<TopicPartition>,
    pub restores: Vec<StoreRestore>,
    /// The restore consumer's config, for re-reading a changelog from its start after a wipe.
    restore_config: rdkafka::config::ClientConfig,
}

/// What creating a task needs.
pub(crate) struct TaskEnv<'a> {
    pub topology: &'a Topology,
    pub config: &'a StreamsConfig,
    pub rocksdb: &'a RocksDbConfig,
    pub producer: &'a Arc<Producer>,
    pub globals: &'a [Arc<GlobalStore>],
    pub restore_config: &'a rdkafka::config::ClientConfig,
}

impl ActiveTask {
    /// Moves the position in `topic`'s `partition` to `next` (no allocation once the
    /// partition is known: a task has a few input partitions).
    pub(crate) fn record_position(&mut self, topic: &str, partition: i32, next: i64) {
        let known = self
            .positions
            .iter_mut()
            .find_map(|((t, p), o)| (*p == partition && t == topic).then_some(o));
        match known {
            Some(o) => *o = next,
            None => {
                self.positions.insert((topic.to_owned(), partition), next);
            }
        }
    }

    /// Opens the task's stores under `state.dir/{application}/{task}/{store}`, logs them to
    /// their changelogs, and prepares their restore from the checkpointed offsets.
    pub(crate) fn create(env: &TaskEnv<'_>, id: TaskId) -> Result<ActiveTask, StreamsError> {
        let sub = env
            .topology
            .subtopologies
            .get(id.subtopology)
            .ok_or_else(|| StreamsError::Internal(format!("no sub-topology for task {id}")))?;
        let dir = env
            .config
            .state_dir
            .join(&env.topology.application_id)
            .join(id.to_string());
        let mut stores = TaskStores::default();
        let mut restores = Vec::new();
        for name in &sub.stores {
            let def = env
                .topology
                .store_def(name)
                .ok_or_else(|| StreamsError::UnknownStore(name.clone()))?;
            let path = dir.join(name);
            let changelog = def.logged.then(|| env.topology.changelog_topic(name));
            let open: OpenStore = {
                let (name, path, rocksdb) = (name.clone(), path.clone(), env.rocksdb.clone());
                let cache_bytes = env.config.statestore_cache_max_bytes;
                let logging = changelog.clone().map(|topic| (topic, env.producer.clone()));
                let partition = id.partition;
                Box::new(move || {
                    let mut builder =
                        StoreBuilder::rocksdb(name.as_str(), path.clone(), rocksdb.clone())
                            .with_caching(cache_bytes);
                    if let Some((topic, producer)) = &logging {
                        builder = builder.with_logging(Box::new(ChangelogWriter {
                            producer: producer.clone(),
                            topic: topic.clone(),
                            partition,
                        }));
                    }
                    Ok(builder.build()?)
                })
            };
            let mut store = open()?;
            if let Some(topic) = changelog {
                let mut checkpoint = store.committed_offsets()?.get(&id.partition).copied();
                if let Some(c) = checkpoint
                    && let Some(why) = checkpoint_outside_log(
                        env.restore_config,
                        &topic,
                        id.partition,
                        c,
                        CHECKPOINT_PROBE,
                    )?
                {
                    tracing::warn!(
                        task = %id,
                        store = %name,
                        changelog = %topic,
                        partition = id.partition,
                        "{why}: wiping the store and restoring it from the changelog's start"
                    );
                    store.close()?;
                    RocksDbStore::destroy(name, &path)?;
                    store = open()?;
                    checkpoint = None;
                }
                let start = BTreeMap::from([(id.partition, checkpoint.map(|o| o + 1))]);
                let reader = PartitionReader::new(env.restore_config, &topic, &start)?;
                tracing::info!(
                    task = %id,
                    store = %name,
                    from = ?checkpoint.map(|o| o + 1),
                    estimated_records = reader.estimated_records(),
                    "restoring"
                );
                weir_core::metrics::restored(&env.topology.application_id, name, 0);
                restores.push(StoreRestore {
                    store: name.clone(),
                    reader,
                    restored: 0,
                    last_report: std::time::Instant::now(),
                    started: std::time::Instant::now(),
                    changelog: topic,
                    partition: id.partition,
                    checkpoint,
                    path,
                    open,
                });
            }
            stores.add_local(store, def.serdes.clone());
        }
        for g in env.globals {
            stores.add_global(GlobalReader::new(g.clone(), 100_000));
        }
        let mut task = Task::new(
            env.topology,
            id.subtopology,
            id.partition,
            stores,
            weir_core::now_ms(),
        )?;
        task.set_max_task_idle_ms(env.config.max_task_idle_ms);
        task.set_dead_letter_topic(weir_runtime::handler::dead_letter_topic(env.config));
        let mut active = ActiveTask {
            task,
            state: TaskState::Created,
            partitions: Vec::new(),
            positions: HashMap::default(),
            dirty: false,
            full: Vec::new(),
            restores,
            restore_config: env.restore_config.clone(),
        };
        let restore = !active.restores.is_empty();
        active.advance(TaskEvent::Initialized { restore })?;
        Ok(active)
    }

    /// Moves the task through its lifecycle ([`TaskState::next`]); an illegal transition is a
    /// bug, reported as an error naming the task.
    pub(crate) fn advance(&mut self, event: TaskEvent) -> Result<(), StreamsError> {
        self.state = self
            .state
            .next(event)
            .map_err(|e| StreamsError::Internal(format!("task {}: {e}", self.task.id())))?;
        Ok(())
    }

    /// Restores for at most `budget`; moves to Running when every store caught up.
    /// Returns the number of records restored.
    pub(crate) fn restore_step(&mut self, budget: Duration) -> Result<u64, StreamsError> {
        let mut total = 0;
        let per_store = budget / (self.restores.len().max(1) as u32);
        let task = &mut self.task;
        let mut wiped = false;
        for r in &mut self.restores {
            if r.reader.out_of_range() {
                wipe_and_restart(task, r, &self.restore_config)?;
                wiped = true;
            }
            let mut batch = Vec::new();
            r.reader.read(per_store, |rec| {
                batch.push(ChangelogRecord {
                    partition: rec.partition,
                    offset: rec.offset,
                    key: rec.key.map(<[u8]>::to_vec).unwrap_or_default(),
                    value: rec.value.map(<[u8]>::to_vec),
                });
                Ok(())
            })?;
            let n = batch.len() as u64;
            if n > 0 {
                let store = task
                    .stores_mut()
                    .local_named_mut(&r.store)
                    .ok_or_else(|| StreamsError::UnknownStore(r.store.clone()))?;
                store.restore(restore_batch(batch))?;
                r.restored += n;
                total += n;
                weir_core::metrics::restored(task.application_id(), &r.store, n);
                let remaining = (r.reader.estimated_records() - r.restored as i64).max(0);
                if r.last_report.elapsed() >= Duration::from_secs(2) {
                    tracing::info!(store = %r.store, restored = r.restored, remaining, "restoring");
                    r.last_report = std::time::Instant::now();
                }
            }
        }
        if wiped {
            self.advance(TaskEvent::Wiped)?;
        }
        if self.restores.iter().all(|r| r.reader.caught_up()) {
            for r in &self.restores {
                tracing::info!(task = %self.task.id(), store = %r.store, records = r.restored, "restored");
            }
            self.restores.clear();
            self.advance(TaskEvent::Restored)?;
        }
        Ok(total)
    }

    /// Commit step 4 for this task: releases the stores' buffered writes with the changelog
    /// offsets they reached (`delivered`: highest offset per (changelog topic, partition)).
    pub(crate) fn commit_stores(
        &mut self,
        topology: &Topology,
        delivered: &std::collections::HashMap<(String, i32), i64>,
    ) -> Result<(), StreamsError> {
        let partition = self.task.id().partition;
        let names: Vec<String> = self
            .task
            .stores()
            .local_names()
            .map(str::to_owned)
            .collect();
        for name in names {
            let topic = topology.changelog_topic(&name);
            let mut offsets = weir_state::Offsets::new();
            if let Some(&o) = delivered.get(&(topic, partition)) {
                offsets.insert(partition, o);
            }
            if let Some(store) = self.task.stores_mut().local_named_mut(&name) {
                store.commit(offsets)?;
            }
        }
        Ok(())
    }

    /// Drops the stores' uncommitted writes (an aborted transaction).
    pub(crate) fn abort_stores(&mut self) -> Result<(), StreamsError> {
        for s in self.task.stores_mut().locals_mut() {
            s.abort()?;
        }
        Ok(())
    }
}

/// The checkpoint of `r`'s store turned out to be outside what its changelog partition holds (the
/// broker refused it as a start offset after [`checkpoint_outside_log`] let it pass): the store
/// has data its changelog no longer backs, or misses deletes the changelog no longer has. Wipes
/// it — close, delete its directory, open it empty — and reads the changelog from its start.
fn wipe_and_restart(
    task: &mut Task,
    r: &mut StoreRestore,
    restore_config: &rdkafka::config::ClientConfig,
) -> Result<(), StreamsError> {
    let reason = format!(
        "the broker refused start offset {:?} as out of the changelog's range",
        r.checkpoint.map(|c| c + 1)
    );
    tracing::warn!(
        task = %task.id(),
        store = %r.store,
        changelog = %r.changelog,
        partition = r.partition,
        "{reason}: wiping the store and restoring it from the changelog's start"
    );
    let slot = task
        .stores_mut()
        .local_named_mut(&r.store)
        .ok_or_else(|| StreamsError::UnknownStore(r.store.clone()))?;
    slot.close()?;
    RocksDbStore::destroy(&r.store, &r.path)?;
    *slot = (r.open)()?;
    r.checkpoint = None;
    r.restored = 0;
    r.reader = PartitionReader::new(
        restore_config,
        &r.changelog,
        &BTreeMap::from([(r.partition, None)]),
    )?;
    Ok(())
}
