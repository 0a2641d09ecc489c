//! [`TopologyTestDriver`]: runs a topology's real task code with no broker.
//!
//! One task per sub-topology (partition 0), stores in memory or in RocksDB under the same layers
//! as a worker's (a record cache, and change logging into an in-memory changelog the test can
//! read with [`TopologyTestDriver::changelog`]), committed after every pipe call as a worker
//! commits after its commit interval; a wall clock the test moves. Records piped into an input topic are processed at once, depth-first; records a
//! task writes to a repartition topic, or to any topic the topology reads (global tables
//! included), are processed next, in order, before the pipe call returns. Everything written to a
//! non-internal topic is kept for the test to read.

mod stores;
mod topics;

use std::collections::{BTreeSet, VecDeque};

use foldhash::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stores::{Changelogs, open, open_task_store};
use weir_state::{KeyValueStore, Offsets, WriteBatch};

pub use topics::{TestInputTopic, TestOutputTopic};

use crate::collector::ProducedRecord;
use crate::commit::{CommitStep, commit_steps};
use crate::handler::{Decision, dead_letter_headers, decide};
use crate::store::TypedStore;
use crate::stores::{GlobalReader, GlobalStore, TaskStores};
use crate::task::{InputRecord, Task};
use crate::time::PunctuationType;
use weir_core::config::{ProcessingGuarantee, StreamsConfig};
use weir_core::error::StreamsError;
use weir_core::record::Headers;
use weir_core::serde::SerdeRef;
use weir_graph::{SourceDecoder, Topology};

/// Where the driver keeps state.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// `None`: in-memory stores. `Some(dir)`: a RocksDB store per store under `dir`.
    pub state_dir: Option<PathBuf>,
    /// Entries each task caches per global store (when the store is too big to mirror).
    pub global_cache_entries: usize,
    /// Bytes up to which a global table is mirrored in memory (0: never).
    pub global_mirror_bytes: usize,
    /// Initial wall-clock time (ms since the epoch); also the default record timestamp.
    pub start_time_ms: i64,
    /// A failed record goes to the error handlers of this config, as in a worker
    /// (`default.deserialization.exception.handler`, `processing.exception.handler`,
    /// `dead.letter.topic`): dead letters become output records of the dead-letter topic,
    /// skipped records are counted ([`TopologyTestDriver::skipped_records`]). `None`: the pipe
    /// call returns the error.
    pub error_handling: Option<StreamsConfig>,
    /// Bytes of each task store's record cache (`statestore.cache.max.bytes`; 0: none).
    pub cache_max_bytes: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            state_dir: None,
            global_cache_entries: 100_000,
            global_mirror_bytes: crate::stores::DEFAULT_MIRROR_BYTES,
            start_time_ms: 0,
            error_handling: None,
            cache_max_bytes: StreamsConfig::new("driver").statestore_cache_max_bytes,
        }
    }
}

/// Runs a [`Topology`] without Kafka.
pub struct TopologyTestDriver {
    topology: Topology,
    tasks: Vec<Task>,
    task_of_topic: HashMap<String, usize>,
    global_of_topic: HashMap<String, (Arc<GlobalStore>, Arc<dyn SourceDecoder>)>,
    global_of_store: HashMap<String, Arc<GlobalStore>>,
    internal: BTreeSet<String>,
    outputs: HashMap<String, VecDeque<ProducedRecord>>,
    offsets: HashMap<String, i64>,
    wall_clock: i64,
    error_handling: Option<StreamsConfig>,
    skipped: u64,
    changelogs: Changelogs,
    /// Inside [`TopologyTestDriver::fetch_together`]: records of tasks that read several
    /// partitions are buffered, not processed yet.
    together: bool,
}

/// How many times records may be written and read back within one pipe call (a chain of
/// repartitions is a few; a topology reading its own output is endless).
pub const MAX_GENERATIONS: usize = 100;
/// How many records one pipe call may process, its descendants included.
pub const MAX_RECORDS_PER_PIPE: usize = 1_000_000;

impl TopologyTestDriver {
    /// A driver with in-memory stores and the clock at 0.
    pub fn new(topology: Topology) -> Result<Self, StreamsError> {
        Self::with_config(topology, DriverConfig::default())
    }

    pub fn with_config(topology: Topology, config: DriverConfig) -> Result<Self, StreamsError> {
        let mut global_of_topic = HashMap::default();
        let mut global_of_store = HashMap::default();
        for g in &topology.globals {
            let store = GlobalStore::new(
                open(&config, "global", &g.store)?,
                config.global_mirror_bytes,
            )?;
            global_of_topic.insert(g.topic.clone(), (store.clone(), g.decoder.clone()));
            global_of_store.insert(g.store.clone(), store);
        }
        let changelogs = Changelogs::default();
        let mut tasks = Vec::new();
        let mut task_of_topic = HashMap::default();
        for sub in &topology.subtopologies {
            let mut stores = TaskStores::default();
            for name in &sub.stores {
                let def = topology
                    .store_def(name)
                    .ok_or_else(|| StreamsError::UnknownStore(name.clone()))?;
                let dir = format!("{}_0", sub.id);
                stores.add_local(
                    open_task_store(&config, &dir, name, def.logged, &changelogs)?,
                    def.serdes.clone(),
                );
            }
            for (_, store) in global_of_store.iter() {
                stores.add_global(GlobalReader::new(
                    store.clone(),
                    config.global_cache_entries,
                ));
            }
            for topic in sub.sources.keys() {
                task_of_topic.insert(topic.clone(), tasks.len());
            }
            let mut task = Task::new(&topology, sub.id, 0, stores, config.start_time_ms)?;
            task.set_dead_letter_topic(
                config
                    .error_handling
                    .as_ref()
                    .and_then(crate::handler::dead_letter_topic),
            );
            tasks.push(task);
        }
        let internal = topology.repartition_topics.clone();
        Ok(TopologyTestDriver {
            topology,
            tasks,
            task_of_topic,
            global_of_topic,
            global_of_store,
            internal,
            outputs: HashMap::default(),
            offsets: HashMap::default(),
            wall_clock: config.start_time_ms,
            error_handling: config.error_handling,
            skipped: 0,
            changelogs,
            together: false,
        })
    }

    /// The topology under test.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A typed handle to pipe records into `topic`.
    pub fn input_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key: SerdeRef<K>,
        value: SerdeRef<V>,
    ) -> TestInputTopic<K, V> {
        TestInputTopic::new(topic, key, value)
    }

    /// A typed handle to read what the topology wrote to `topic`.
    pub fn output_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key: SerdeRef<K>,
        value: SerdeRef<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic::new(topic, key, value)
    }

    /// The current wall-clock time of the driver.
    pub fn wall_clock_ms(&self) -> i64 {
        self.wall_clock
    }

    /// Moves the wall clock forward and fires due wall-clock punctuations.
    pub fn advance_wall_clock_time(&mut self, by: Duration) -> Result<(), StreamsError> {
        self.wall_clock = self
            .wall_clock
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        for task in &mut self.tasks {
            task.punctuate(
                PunctuationType::WallClockTime,
                self.wall_clock,
                self.wall_clock,
                &mut out,
            )?;
        }
        let mut queue = VecDeque::new();
        self.route(out, &mut queue);
        self.drain(queue)?;
        self.commit()
    }

    /// Pipes one serialized record into `topic` and processes everything it causes.
    pub fn pipe_raw(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<(), StreamsError> {
        let mut queue = VecDeque::new();
        self.process_one(topic, key, value, timestamp, &headers, &mut queue)?;
        self.drain(queue)?;
        self.commit()
    }

    /// Pipes what `pipe` pipes (any input topics, through the typed handles) as if a worker had
    /// fetched it all at once: a task that reads several partitions (a stream and its table,
    /// two joined streams) then processes it in timestamp order across them, as a worker
    /// does, instead of in pipe order. Tasks reading one partition process each record at once.
    pub fn fetch_together(
        &mut self,
        pipe: impl FnOnce(&mut Self) -> Result<(), StreamsError>,
    ) -> Result<(), StreamsError> {
        self.together = true;
        let piped = pipe(self);
        self.together = false;
        piped?;
        let mut queue = VecDeque::new();
        for t in 0..self.tasks.len() {
            self.drain_task(t, &mut queue)?;
        }
        self.drain(queue)?;
        self.commit()
    }

    /// Processes what task `t` has buffered, in timestamp order: in the driver every record is
    /// fetched as soon as piped, so an empty partition is always caught up (lag 0).
    fn drain_task(
        &mut self,
        t: usize,
        queue: &mut VecDeque<ProducedRecord>,
    ) -> Result<(), StreamsError> {
        let wall = self.wall_clock;
        while let Some(mut q) = self.tasks[t].next_queued(wall, &mut |_, _, _| Some(0)) {
            let raw = q.take_raw();
            let (topic, offset, timestamp) = (q.topic.clone(), q.offset, q.timestamp);
            let mut out = Vec::new();
            let result = self.tasks[t].process_queued(q, wall, &mut out);
            self.route(out, queue);
            if let (Err(e), Some(raw)) = (result, raw) {
                self.handle(
                    e,
                    &topic,
                    offset,
                    raw.key.as_deref(),
                    raw.value.as_deref(),
                    timestamp,
                    &raw.headers,
                )?;
            }
        }
        Ok(())
    }

    /// Commits as a worker's at-least-once commit does (`crate::commit`): outputs are in memory
    /// as soon as written and the driver has no group, so flushing and committing offsets have
    /// nothing to do; the cached writes go to each task store together with the changelog
    /// offset they reached.
    fn commit(&mut self) -> Result<(), StreamsError> {
        for step in commit_steps(ProcessingGuarantee::AtLeastOnce) {
            match step {
                CommitStep::FlushProducer | CommitStep::CommitOffsets => {}
                CommitStep::CommitTransaction | CommitStep::CheckpointStores => {
                    self.checkpoint_stores()?;
                }
            }
        }
        Ok(())
    }

    fn checkpoint_stores(&mut self) -> Result<(), StreamsError> {
        // Held while committing: a commit writes no changelog record (puts do), so nothing
        // below takes this lock again.
        let logs = self
            .changelogs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for task in &mut self.tasks {
            for store in task.stores_mut().locals_mut() {
                let mut offsets = Offsets::new();
                if let Some(log) = logs.get(store.name()).filter(|l| !l.is_empty()) {
                    offsets.insert(0, log.len() as i64 - 1);
                }
                store.commit(offsets)?;
            }
        }
        Ok(())
    }

    /// Every change the change-logging layer of task store `store` wrote, in order (what a
    /// worker writes to `{application}-{store}-changelog`): `(key, None)` is a tombstone.
    pub fn changelog(&self, store: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.changelogs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(store)
            .cloned()
            .unwrap_or_default()
    }

    /// Processes what the topology wrote to topics it reads, generation by generation. A
    /// topology that writes to a topic it reads itself (`to: x` above `from: x`) would go on
    /// forever: it stops with an error after [`MAX_GENERATIONS`] generations or
    /// [`MAX_RECORDS_PER_PIPE`] records of one pipe call.
    fn drain(&mut self, mut queue: VecDeque<ProducedRecord>) -> Result<(), StreamsError> {
        let mut processed = 0usize;
        for generation in 1.. {
            if queue.is_empty() {
                return Ok(());
            }
            if generation > MAX_GENERATIONS || processed > MAX_RECORDS_PER_PIPE {
                let mut topics: Vec<&str> = queue.iter().map(|r| r.topic.as_str()).collect();
                topics.sort_unstable();
                topics.dedup();
                return Err(StreamsError::InvalidTopology(format!(
                    "records written to {} are read back by the topology: stopped after {} \
                     generations ({processed} records) of one input record; a topology that \
                     reads its own output loops",
                    topics.join(", "),
                    generation - 1
                )));
            }
            let mut next = VecDeque::new();
            while let Some(r) = queue.pop_front() {
                processed += 1;
                self.process_one(
                    &r.topic,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    r.timestamp,
                    &r.headers,
                    &mut next,
                )?;
            }
            queue = next;
        }
        Ok(())
    }

    fn next_offset(&mut self, topic: &str) -> i64 {
        match self.offsets.get_mut(topic) {
            Some(o) => {
                *o += 1;
                *o - 1
            }
            None => {
                self.offsets.insert(topic.to_owned(), 1);
                0
            }
        }
    }

    fn keep_output(&mut self, r: ProducedRecord) {
        match self.outputs.get_mut(&r.topic) {
            Some(q) => q.push_back(r),
            None => {
                self.outputs.insert(r.topic.clone(), VecDeque::from([r]));
            }
        }
    }

    fn process_one(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
        queue: &mut VecDeque<ProducedRecord>,
    ) -> Result<(), StreamsError> {
        let offset = self.next_offset(topic);
        if let Some((global, decoder)) = self.global_of_topic.get(topic) {
            // Decode to reject what the table's serdes cannot read (skipped and counted, as the
            // worker's global thread does: the topic is someone else's data); store the bytes
            // as they are.
            match decoder.decode(topic, key, value) {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::warn!(topic, offset, error = %e, "skipped an undecodable global-table record");
                    self.skipped += 1;
                    return Ok(());
                }
            }
            let Some(key) = key else { return Ok(()) };
            let mut batch = WriteBatch::of(vec![(key.to_vec(), value.map(<[u8]>::to_vec))]);
            batch.offsets.insert(0, offset);
            return global.apply(batch);
        }
        let Some(&t) = self.task_of_topic.get(topic) else {
            return Err(StreamsError::UnknownTopic(topic.to_owned()));
        };
        let input = InputRecord {
            topic,
            partition: 0,
            offset,
            timestamp,
            key,
            value,
            headers,
        };
        if self.tasks[t].orders_input() {
            if let Err(e) = self.tasks[t].enqueue(input) {
                self.handle(e, topic, offset, key, value, timestamp, headers)?;
                self.tasks[t].enqueue_skipped(topic, 0, offset)?;
            }
            if !self.together {
                self.drain_task(t, queue)?;
            }
            return Ok(());
        }
        let mut out = Vec::new();
        let result = self.tasks[t].process(input, self.wall_clock, &mut out);
        self.route(out, queue);
        match result {
            Ok(()) => Ok(()),
            Err(e) => self.handle(e, topic, offset, key, value, timestamp, headers),
        }
    }

    /// A record failed: the error handlers of [`DriverConfig::error_handling`] decide.
    #[allow(clippy::too_many_arguments)]
    fn handle(
        &mut self,
        e: StreamsError,
        topic: &str,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<(), StreamsError> {
        let Some(config) = &self.error_handling else {
            return Err(e);
        };
        match decide(config, &e) {
            Decision::Fail => Err(e),
            Decision::Skip => {
                self.skipped += 1;
                Ok(())
            }
            Decision::DeadLetter(dlq) => {
                let headers = dead_letter_headers(headers, &e, topic, 0, offset);
                self.keep_output(ProducedRecord {
                    topic: dlq,
                    partition: None,
                    key: key.map(<[u8]>::to_vec),
                    value: value.map(<[u8]>::to_vec),
                    timestamp,
                    headers,
                });
                Ok(())
            }
        }
    }

    /// Records the error handlers skipped (see [`DriverConfig::error_handling`]).
    pub fn skipped_records(&self) -> u64 {
        self.skipped
    }

    /// Queues records for topics the topology reads; keeps those of non-internal topics.
    fn route(&mut self, out: Vec<ProducedRecord>, queue: &mut VecDeque<ProducedRecord>) {
        for r in out {
            let consumed = self.task_of_topic.contains_key(&r.topic)
                || self.global_of_topic.contains_key(&r.topic);
            let internal = self.internal.contains(&r.topic);
            if consumed && !internal {
                self.keep_output(r.clone());
                queue.push_back(r);
            } else if consumed {
                queue.push_back(r);
            } else {
                self.keep_output(r);
            }
        }
    }

    /// Takes every record written to `topic` so far, serialized.
    pub fn read_raw(&mut self, topic: &str) -> Vec<ProducedRecord> {
        self.outputs
            .get_mut(topic)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Topics that have unread output.
    pub fn output_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .outputs
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        t.sort();
        t
    }

    /// A task-local store, typed.
    pub fn key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<TypedStore<'_, K, V>, StreamsError> {
        let task = self
            .tasks
            .iter_mut()
            .find(|t| t.stores().local_by_name(name).is_some())
            .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))?;
        task.stores_mut().typed(name)
    }

    /// Every entry of a store (task-local or global), decoded with its serdes.
    pub fn read_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<Vec<(K, V)>, StreamsError> {
        if let Some(global) = self.global_of_store.get(name) {
            let def = self
                .topology
                .store_def(name)
                .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))?;
            let (ks, vs) = def
                .serdes
                .downcast_ref::<(SerdeRef<K>, SerdeRef<V>)>()
                .cloned()
                .ok_or_else(|| {
                    StreamsError::UnknownStore(format!("{name} (other key/value types)"))
                })?;
            let raw = global.with(|s| s.all()?.collect::<Result<Vec<_>, _>>())?;
            return raw
                .into_iter()
                .map(|(k, v)| Ok((ks.deserialize(name, &k)?, vs.deserialize(name, &v)?)))
                .collect();
        }
        self.key_value_store::<K, V>(name)?.all()
    }

    /// Every entry of a store (task-local or global) as bytes, in key order (what a worker's
    /// store holds; the driver has one task per sub-topology).
    pub fn read_store_raw(&mut self, name: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StreamsError> {
        if let Some(global) = self.global_of_store.get(name) {
            return global.with(|s| s.all()?.collect::<Result<Vec<_>, _>>());
        }
        let task = self
            .tasks
            .iter_mut()
            .find(|t| t.stores().local_by_name(name).is_some())
            .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))?;
        let store = task
            .stores_mut()
            .local_named_mut(name)
            .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))?;
        Ok(store.all()?.collect::<Result<Vec<_>, _>>()?)
    }

    /// Closes every task and its stores.
    pub fn close(mut self) -> Result<(), StreamsError> {
        for t in &mut self.tasks {
            t.close()?;
        }
        for g in self.global_of_store.values() {
            g.with(|s| s.close())?;
        }
        Ok(())
    }
}
