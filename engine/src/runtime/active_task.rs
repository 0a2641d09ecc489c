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

use weir_state::{ChangelogRecord, KeyValueStore, RocksDbConfig, StoreBuilder, restore_batch};

use crate::config::StreamsConfig;
use crate::error::StreamsError;
use crate::graph::Topology;
use crate::kafka::consumer::TopicPartition;
use crate::kafka::producer::Producer;
use crate::kafka::restore::PartitionReader;
use crate::runtime::output::ChangelogWriter;
use crate::runtime::stores::{GlobalReader, GlobalStore, TaskStores};
use crate::runtime::task::{Task, TaskId};

/// Lifecycle of an active task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    Restoring,
    Running,
}

/// One store's restore: the changelog reader and progress.
pub(crate) struct StoreRestore {
    pub store: String,
    pub reader: PartitionReader,
    pub restored: u64,
    pub last_report: std::time::Instant,
    pub started: std::time::Instant,
}

pub(crate) struct ActiveTask {
    pub task: Task,
    pub state: TaskState,
    pub partitions: Vec<TopicPartition>,
    /// Next offset to commit per input partition (last processed + 1).
    pub positions: HashMap<TopicPartition, i64>,
    /// Whether positions moved since the last commit.
    pub dirty: bool,
    pub restores: Vec<StoreRestore>,
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
            let mut builder =
                StoreBuilder::rocksdb(name.as_str(), dir.join(name), env.rocksdb.clone())
                    .with_caching(env.config.statestore_cache_max_bytes);
            if def.logged {
                let topic = env.topology.changelog_topic(name);
                let sink = ChangelogWriter {
                    producer: env.producer.clone(),
                    topic: topic.clone(),
                    partition: id.partition,
                };
                builder = builder.with_logging(Box::new(sink));
            }
            let store = builder.build()?;
            if def.logged {
                let checkpoint = store.committed_offsets()?.get(&id.partition).copied();
                let start = BTreeMap::from([(id.partition, checkpoint.map(|o| o + 1))]);
                let topic = env.topology.changelog_topic(name);
                let reader = PartitionReader::new(env.restore_config, &topic, &start)?;
                tracing::info!(
                    task = %id,
                    store = %name,
                    from = ?checkpoint.map(|o| o + 1),
                    estimated_records = reader.estimated_records(),
                    "restoring"
                );
                crate::metrics::restored(&env.topology.application_id, name, 0);
                restores.push(StoreRestore {
                    store: name.clone(),
                    reader,
                    restored: 0,
                    last_report: std::time::Instant::now(),
                    started: std::time::Instant::now(),
                });
            }
            stores.add_local(store, def.serdes.clone());
        }
        for g in env.globals {
            stores.add_global(GlobalReader::new(g.clone(), 100_000));
        }
        let task = Task::new(
            env.topology,
            id.subtopology,
            id.partition,
            stores,
            super::now_ms(),
        )?;
        let state = if restores.is_empty() {
            TaskState::Running
        } else {
            TaskState::Restoring
        };
        Ok(ActiveTask {
            task,
            state,
            partitions: Vec::new(),
            positions: HashMap::default(),
            dirty: false,
            restores,
        })
    }

    /// Restores for at most `budget`; moves to Running when every store caught up.
    /// Returns the number of records restored.
    pub(crate) fn restore_step(&mut self, budget: Duration) -> Result<u64, StreamsError> {
        let mut total = 0;
        let per_store = budget / (self.restores.len().max(1) as u32);
        let task = &mut self.task;
        for r in &mut self.restores {
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
                crate::metrics::restored(task.application_id(), &r.store, n);
                let remaining = (r.reader.estimated_records() - r.restored as i64).max(0);
                if r.last_report.elapsed() >= Duration::from_secs(2) {
                    tracing::info!(store = %r.store, restored = r.restored, remaining, "restoring");
                    r.last_report = std::time::Instant::now();
                }
            }
        }
        if self.restores.iter().all(|r| r.reader.caught_up()) {
            for r in &self.restores {
                tracing::info!(task = %self.task.id(), store = %r.store, records = r.restored, "restored");
            }
            self.restores.clear();
            self.state = TaskState::Running;
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

/// Stores of a task by name (helpers on [`TaskStores`] the runtime needs).
impl TaskStores {
    pub(crate) fn local_named_mut(&mut self, name: &str) -> Option<&mut Box<dyn KeyValueStore>> {
        self.locals_mut().find(|s| s.name() == name)
    }
}
