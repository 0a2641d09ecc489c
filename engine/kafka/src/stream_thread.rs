//! A stream thread: one group consumer, one producer, and the tasks Kafka assigned it.
//!
//! The loop: poll a record → run it through its task (depth-first) → every
//! `commit.interval.ms` commit → between polls, restore tasks in bounded steps (their input
//! partitions stay paused until restored, so the thread keeps polling within
//! `max.poll.interval.ms`) → fire wall-clock punctuations.
//!
//! Commit, for every task of the thread at once, takes the steps `weir_runtime::commit` decides
//! (flush, offsets or transaction, store checkpoints) and acts on its decision when one fails.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use weir_state::RocksDbConfig;

use crate::active_task::{ActiveTask, TaskEnv, TaskEvent, TaskState};
use crate::consumer::{GroupConsumer, GroupHandle, Polled, RebalanceListener, TopicPartition};
use crate::loop_clock::LoopClock;
use crate::metrics::thread::ThreadMetrics;
use crate::output::ProducerCollector;
use crate::producer::Producer;
use crate::status::{self, StoreQuery, WorkerStatus};
use weir_core::config::{ProcessingGuarantee, StreamsConfig};
use weir_core::error::{ErrorKind, StreamsError};
use weir_graph::Topology;
use weir_runtime::commit::{
    CommitFailure, CommitStep, commit_due, commit_steps, on_commit_failure,
};
use weir_runtime::stores::GlobalStore;
use weir_runtime::task::{InputRecord, TaskId};
use weir_runtime::time::PunctuationType;

/// How long a poll waits for records when there are none: also how long an idle thread may
/// take to answer a store read of the state endpoint (it serves them between polls).
const IDLE_POLL: Duration = Duration::from_millis(2);
/// How long the producer's transactional calls may take.
const PRODUCER_TIMEOUT: Duration = Duration::from_secs(60);
/// Records processed between two looks at waiting store reads.
const QUERY_EVERY: usize = 32;
mod ordered;
mod recovery;

use ordered::{Failed, MAX_BUFFERED_PER_PARTITION, on_record_error};

/// The state a stream thread shares with its rebalance callbacks.
pub(crate) struct ThreadCore {
    pub name: String,
    topology: Arc<Topology>,
    config: Arc<StreamsConfig>,
    rocksdb: RocksDbConfig,
    producer: Arc<Producer>,
    /// What the producer is made from, to re-create it after it was fenced.
    producer_config: rdkafka::config::ClientConfig,
    tracked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    globals: Vec<Arc<GlobalStore>>,
    restore_config: rdkafka::config::ClientConfig,
    sub_of_topic: HashMap<String, usize>,
    tasks: BTreeMap<TaskId, ActiveTask>,
    /// Partitions assigned in a callback, not yet turned into tasks.
    pending: Vec<TopicPartition>,
    /// An error raised inside a callback, surfaced by the loop.
    failed: Option<StreamsError>,
    last_commit: Instant,
    clock: LoopClock,
    /// Offsets of the last successful commit, per input partition.
    committed: HashMap<TopicPartition, i64>,
    /// Where the consumer starts in each input partition of a task that orders its input
    /// (the group's committed offset at assignment): the lag of a partition nothing was
    /// fetched from yet counts from here.
    starts: HashMap<TopicPartition, i64>,
    status: WorkerStatus,
    /// Whether the task list changed since it was last published.
    status_changed: bool,
    metrics: ThreadMetrics,
}

/// Locks the core; a poisoned lock is an internal error, never a panic.
fn lock(core: &Mutex<ThreadCore>) -> Result<MutexGuard<'_, ThreadCore>, StreamsError> {
    core.lock()
        .map_err(|_| StreamsError::Internal("stream thread state poisoned".into()))
}

struct Listener(Arc<Mutex<ThreadCore>>);

impl RebalanceListener for Listener {
    fn on_revoked(&self, group: &dyn GroupHandle, partitions: &[TopicPartition]) {
        let Ok(mut core) = self.0.lock() else { return };
        if let Err(e) = core.revoke(group, partitions) {
            tracing::error!(thread = %core.name, error = %e, "committing revoked tasks failed");
            core.failed.get_or_insert(e);
        }
    }

    fn on_assigned(&self, partitions: &[TopicPartition]) {
        if let Ok(mut core) = self.0.lock() {
            tracing::info!(thread = %core.name, ?partitions, "partitions assigned");
            core.pending.extend_from_slice(partitions);
        }
    }
}

impl ThreadCore {
    fn task_of(&self, topic: &str, partition: i32) -> Option<TaskId> {
        self.sub_of_topic.get(topic).map(|&subtopology| TaskId {
            subtopology,
            partition,
        })
    }

    /// Creates tasks for newly assigned partitions (paused until their stores are restored).
    fn apply_assignment(&mut self, consumer: &GroupConsumer) -> Result<(), StreamsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.status_changed = true;
        let env = TaskEnv {
            topology: &self.topology,
            config: &self.config,
            rocksdb: &self.rocksdb,
            producer: &self.producer,
            globals: &self.globals,
            restore_config: &self.restore_config,
        };
        let mut to_pause = Vec::new();
        let mut to_resume = Vec::new();
        let mut created = Vec::new();
        for (topic, partition) in pending {
            let Some(id) = self.task_of(&topic, partition) else {
                continue;
            };
            if !self.tasks.contains_key(&id) {
                created.push(id);
                let task = ActiveTask::create(&env, id)?;
                tracing::info!(thread = %self.name, task = %id, state = ?task.state, "task created");
                self.tasks.insert(id, task);
            }
            if let Some(task) = self.tasks.get_mut(&id) {
                task.partitions.push((topic.clone(), partition));
                if task.state == TaskState::Restoring {
                    to_pause.push((topic, partition));
                } else {
                    // Re-created after a recovery, a partition paused with a full queue before
                    // must fetch again.
                    to_resume.push((topic, partition));
                }
            }
        }
        consumer.set_paused(&to_resume, false)?;
        consumer.set_paused(&to_pause, true)?;
        // A new task that orders its input needs to know where each of its partitions starts
        // (the committed offset: after a recovery or a reassignment, not where it started
        // before).
        let fresh: Vec<TopicPartition> = created
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .filter(|t| t.task.orders_input())
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        if !fresh.is_empty() {
            let committed = consumer.committed(&fresh);
            for tp in fresh {
                let at = committed.get(&tp).copied().unwrap_or(0);
                self.starts.insert(tp, at);
            }
        }
        Ok(())
    }

    /// Commits every task: the steps `weir_runtime::commit` decides, in its order.
    fn commit(&mut self, group: &dyn GroupHandle) -> Result<(), StreamsError> {
        let started = Instant::now();
        let mut offsets: Vec<(String, i32, i64)> = Vec::new();
        for t in self.tasks.values_mut().filter(|t| t.dirty) {
            offsets.extend(
                t.positions
                    .iter()
                    .map(|((topic, p), o)| (topic.clone(), *p, *o)),
            );
            t.dirty = false;
        }
        let guarantee = self.config.processing_guarantee;
        for &step in commit_steps(guarantee) {
            let done = match step {
                CommitStep::FlushProducer => self.producer.flush(),
                CommitStep::CommitOffsets => group.commit_offsets(&offsets),
                CommitStep::CommitTransaction => match group.group_metadata() {
                    Some(meta) => self.producer.commit_transaction(&offsets, &meta),
                    None => Err(StreamsError::Internal("no consumer group metadata".into())),
                },
                CommitStep::CheckpointStores => {
                    let delivered = self.producer.take_delivered_offsets();
                    self.tasks
                        .values_mut()
                        .filter(|t| t.state.processes())
                        .try_for_each(|t| t.commit_stores(&self.topology, &delivered))
                }
            };
            let Err(e) = done else { continue };
            match on_commit_failure(guarantee, step, e.kind()) {
                CommitFailure::RetryNextInterval => {
                    // The positions stay dirty; the stores keep their buffered writes until a
                    // commit succeeds.
                    tracing::warn!(thread = %self.name, error = %e, "commit failed; retrying at the next interval");
                    for t in self.tasks.values_mut().filter(|t| !t.positions.is_empty()) {
                        t.dirty = true;
                    }
                    self.last_commit = Instant::now();
                    return Ok(());
                }
                CommitFailure::AbortAndRecover => {
                    self.recover(group, &e)?;
                    return Ok(());
                }
                CommitFailure::AbortAndFail => {
                    let _ = self.producer.abort_transaction();
                    for t in self.tasks.values_mut() {
                        t.abort_stores()?;
                    }
                    return Err(e);
                }
                CommitFailure::Fail => return Err(e),
            }
        }
        for (topic, partition, offset) in offsets {
            self.committed.insert((topic, partition), offset);
        }
        self.last_commit = Instant::now();
        self.status_changed = true;
        self.metrics.committed(started, &self.tasks);
        Ok(())
    }

    /// Commits, then closes the tasks of revoked partitions.
    fn revoke(
        &mut self,
        group: &dyn GroupHandle,
        partitions: &[TopicPartition],
    ) -> Result<(), StreamsError> {
        self.commit(group)?;
        let ids: Vec<TaskId> = partitions
            .iter()
            .filter_map(|(t, p)| self.task_of(t, *p))
            .collect();
        self.status_changed = true;
        for id in ids {
            if let Some(mut t) = self.tasks.remove(&id) {
                // Committed above: suspended, then closed (weir keeps no suspended tasks for a
                // later re-assignment yet; their stores reopen from their checkpoints).
                t.advance(TaskEvent::Suspend)?;
                t.task.close()?;
                t.advance(TaskEvent::Close)?;
                tracing::info!(thread = %self.name, task = %id, "task closed (revoked)");
            }
        }
        self.pending
            .retain(|(t, p)| !partitions.iter().any(|(rt, rp)| rt == t && rp == p));
        self.starts.retain(|tp, _| !partitions.contains(tp));
        Ok(())
    }

    /// Runs one polled record through its task; failures go to the configured handler.
    fn process(&mut self, m: Polled<'_>, consumer: &GroupConsumer) -> Result<(), StreamsError> {
        self.apply_assignment(consumer)?;
        let Some(id) = self.task_of(m.topic, m.partition) else {
            return Err(StreamsError::UnknownTopic(m.topic.to_owned()));
        };
        let Some(task) = self.tasks.get_mut(&id) else {
            return Ok(()); // revoked meanwhile
        };
        if task.state == TaskState::Restoring {
            consumer.seek(m.topic, m.partition, m.offset)?;
            return consumer.set_paused(&[(m.topic.to_owned(), m.partition)], true);
        }
        let input = InputRecord {
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key,
            value: m.value,
            headers: &m.headers,
        };
        if task.task.orders_input() {
            // Several input partitions: buffer, then process in timestamp order what may be.
            if let Err(e) = task.task.enqueue(input) {
                let failed = Failed {
                    task: id,
                    topic: m.topic,
                    partition: m.partition,
                    offset: m.offset,
                    timestamp: m.timestamp,
                    key: m.key,
                    value: m.value,
                    headers: &m.headers,
                };
                on_record_error(&self.config, &self.producer, &mut self.metrics, failed, e)?;
                task.task.enqueue_skipped(m.topic, m.partition, m.offset)?;
            }
            if task.task.buffered(m.topic, m.partition) >= MAX_BUFFERED_PER_PARTITION {
                let tp = (m.topic.to_owned(), m.partition);
                consumer.set_paused(std::slice::from_ref(&tp), true)?;
                task.full.push(tp);
            }
            return self.process_buffered(id, consumer);
        }
        let (now, timed) = self.clock.tick();
        let mut out = ProducerCollector {
            producer: &self.producer,
            metrics: &mut self.metrics.sinks,
            now_ms: now,
        };
        let started = timed.then(Instant::now);
        let processed = task.task.process(input, now, &mut out);
        if let Some(started) = started {
            self.metrics.processed(started);
        }
        if let Err(e) = processed {
            // Exactly-once: the producer can no longer write in this transaction (fenced, or
            // the transaction failed): recover instead of failing, as a failed commit does.
            if e.kind() == ErrorKind::Fenced && self.producer.is_transactional() {
                return self.recover(consumer.group(), &e);
            }
            let failed = Failed {
                task: id,
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
                timestamp: m.timestamp,
                key: m.key,
                value: m.value,
                headers: &m.headers,
            };
            on_record_error(&self.config, &self.producer, &mut self.metrics, failed, e)?;
        }
        task.record_position(m.topic, m.partition, m.offset + 1);
        task.dirty = true;
        self.metrics.consumed(id, m.topic);
        Ok(())
    }

    /// Restores restoring tasks for at most `budget`; resumes the partitions of those done.
    fn restore(
        &mut self,
        consumer: &GroupConsumer,
        budget: Duration,
    ) -> Result<bool, StreamsError> {
        let restoring: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state == TaskState::Restoring)
            .map(|(id, _)| *id)
            .collect();
        if restoring.is_empty() {
            return Ok(false);
        }
        let per_task = budget / restoring.len() as u32;
        for id in restoring {
            if let Some(t) = self.tasks.get_mut(&id) {
                t.restore_step(per_task)?;
                self.status_changed = true;
                if t.state == TaskState::Running {
                    consumer.set_paused(&t.partitions, false)?;
                    tracing::info!(thread = %self.name, task = %id, "task running");
                }
            }
        }
        Ok(true)
    }

    /// Answers the reads of this thread's stores sent by the state endpoint.
    fn serve(&mut self, queries: Vec<StoreQuery>) {
        for q in queries {
            let answer = match self.tasks.get(&q.task) {
                None => Err(format!("task {} is not on this thread (any more)", q.task)),
                Some(t) => match t.task.stores().local_by_name(&q.store) {
                    None => Err(format!("task {} has no store `{}`", q.task, q.store)),
                    Some(store) => status::read_store(store, &q.read),
                },
            };
            // The requester may have given up waiting; nothing to do then.
            let _ = q.reply.send(answer);
        }
    }

    /// Publishes this thread's tasks to the worker status.
    fn publish_status(&mut self, consumer: &GroupConsumer) {
        self.status_changed = false;
        let tasks = self
            .tasks
            .values()
            .map(|t| status::status_of(t, &self.name, &self.committed, consumer))
            .collect();
        self.status.publish(&self.name, tasks);
    }

    fn punctuate(&mut self) -> Result<(), StreamsError> {
        let now = weir_core::now_ms();
        let mut out = ProducerCollector {
            producer: &self.producer,
            metrics: &mut self.metrics.sinks,
            now_ms: now,
        };
        for t in self.tasks.values_mut().filter(|t| t.state.processes()) {
            t.task
                .punctuate(PunctuationType::WallClockTime, now, now, &mut out)?;
        }
        Ok(())
    }
}

/// Everything a stream thread starts from.
pub(crate) struct ThreadSpec {
    pub name: String,
    pub topology: Arc<Topology>,
    pub config: Arc<StreamsConfig>,
    pub rocksdb: RocksDbConfig,
    pub globals: Vec<Arc<GlobalStore>>,
    pub consumer_config: rdkafka::config::ClientConfig,
    pub producer_config: rdkafka::config::ClientConfig,
    pub restore_config: rdkafka::config::ClientConfig,
    pub shutdown: Arc<AtomicBool>,
    pub status: WorkerStatus,
}

/// Runs a stream thread until shutdown or a fatal error.
pub(crate) fn run(spec: ThreadSpec) -> Result<(), StreamsError> {
    let changelogs: std::collections::HashSet<String> =
        spec.topology.changelog_topics().into_iter().collect();
    let tracked: Arc<dyn Fn(&str) -> bool + Send + Sync> =
        Arc::new(move |t: &str| changelogs.contains(t));
    let eos = spec.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2;
    let producer = Producer::new(
        &spec.producer_config,
        eos,
        tracked.clone(),
        PRODUCER_TIMEOUT,
        spec.status.clone(),
    )?;
    let mut sub_of_topic = HashMap::default();
    for sub in &spec.topology.subtopologies {
        for t in sub.sources.keys() {
            sub_of_topic.insert(t.clone(), sub.id);
        }
    }
    let topics: Vec<String> = sub_of_topic.keys().cloned().collect();
    let core = Arc::new(Mutex::new(ThreadCore {
        name: spec.name.clone(),
        topology: spec.topology.clone(),
        config: spec.config.clone(),
        rocksdb: spec.rocksdb,
        producer,
        producer_config: spec.producer_config.clone(),
        tracked,
        globals: spec.globals,
        restore_config: spec.restore_config,
        sub_of_topic,
        tasks: BTreeMap::new(),
        pending: Vec::new(),
        failed: None,
        last_commit: Instant::now(),
        clock: LoopClock::default(),
        committed: HashMap::default(),
        starts: HashMap::default(),
        status: spec.status.clone(),
        status_changed: true,
        metrics: ThreadMetrics::new(&spec.topology.application_id),
    }));
    let queries = spec.status.register_thread(&spec.name);
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let consumer = GroupConsumer::new(
        &spec.consumer_config,
        Arc::new(Listener(core.clone())),
        &topic_refs,
        spec.status.clone(),
    )?;
    let interval = spec.config.commit_interval();
    let mut last_punctuate = Instant::now();
    let mut last_status = Instant::now();
    let result = (|| -> Result<(), StreamsError> {
        while !spec.shutdown.load(Ordering::Acquire) {
            let restoring = lock(&core)?.restore(&consumer, Duration::from_millis(200))?;
            let timeout = if restoring { Duration::ZERO } else { IDLE_POLL };
            lock(&core)?.clock.restart();
            // Poll a batch of records; rebalance callbacks run inside `poll`. Store reads of
            // the state endpoint are answered between records too, so a read waits for at
            // most QUERY_EVERY records, not for the whole batch.
            for n in 0..1000 {
                let polled = consumer.poll(timeout, |m| -> Result<(), StreamsError> {
                    lock(&core)?.process(m, &consumer)
                })?;
                match polled {
                    Some(r) => r?,
                    None => break,
                }
                if n % QUERY_EVERY == QUERY_EVERY - 1 {
                    let waiting = status::pending(&queries);
                    if !waiting.is_empty() {
                        lock(&core)?.serve(waiting);
                    }
                }
            }
            let mut c = lock(&core)?;
            if let Some(e) = c.failed.take() {
                return Err(e);
            }
            c.apply_assignment(&consumer)?;
            c.process_all_buffered(&consumer)?;
            let c = &mut *c;
            c.metrics.publish_tasks(&c.tasks);
            if commit_due(c.last_commit.elapsed(), interval) {
                c.commit(consumer.handle())?;
            }
            if last_punctuate.elapsed() >= Duration::from_millis(100) {
                c.punctuate()?;
                last_punctuate = Instant::now();
            }
            c.serve(status::pending(&queries));
            // Positions and lag move with every record: republish at least once a second.
            if c.status_changed || last_status.elapsed() >= Duration::from_secs(1) {
                c.publish_status(&consumer);
                last_status = Instant::now();
            }
        }
        Ok(())
    })();
    spec.status.thread_stopped(&spec.name);
    // Shutdown: commit what was processed, leave the group (revocation closes the tasks).
    let closing = (|| -> Result<(), StreamsError> {
        if result.is_ok() {
            lock(&core)?.commit(consumer.handle())?;
        }
        consumer.close();
        let mut c = lock(&core)?;
        let _ = c.producer.abort_transaction();
        for (_, mut t) in std::mem::take(&mut c.tasks) {
            t.task.close()?;
        }
        Ok(())
    })();
    result.and(closing)
}
