//! What a running worker knows about itself, for the state endpoint: every task with its
//! partitions, positions, lag and restore progress (published by the stream threads at each
//! state change, restore step and commit), the store sizes, and the channels that let a request
//! read a task's store on the thread that owns it.
//!
//! Reads of a task's store run on its stream thread, between records: the store is never shared
//! between threads, and a read sees every write of the records processed so far (including
//! writes the next commit will persist), as Kafka Streams' interactive queries do.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use weir_runtime::task::TaskId;

/// One input partition of a task.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    /// Next offset to process (last processed + 1), when one was processed.
    pub position: Option<i64>,
    /// Offset committed by this worker's last successful commit.
    pub committed: Option<i64>,
    /// The partition's end offset as librdkafka's statistics last reported it (every 2 s), when
    /// known (never below `position`).
    pub end: Option<i64>,
    /// `end - position` (or `end - committed` before the first record).
    pub lag: Option<i64>,
}

/// Restore progress of one store of a task.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreStatus {
    pub store: String,
    pub restored: u64,
    pub remaining: u64,
    pub records_per_second: f64,
    /// Seconds until done at the current rate (`None` before a rate is known).
    pub eta_seconds: Option<f64>,
}

/// One store of a task.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    pub name: String,
    pub approximate_entries: u64,
    pub bytes_on_disk: u64,
}

/// A task of this worker.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub id: String,
    #[serde(skip)]
    pub task: TaskId,
    pub thread: String,
    /// `restoring` or `running`.
    pub state: &'static str,
    pub partitions: Vec<PartitionStatus>,
    pub restore: Vec<RestoreStatus>,
    pub stores: Vec<StoreStatus>,
}

/// A read of a task's store.
#[derive(Debug, Clone)]
pub enum StoreRead {
    Get(Vec<u8>),
    /// Keys in `[from, to)` (or with `prefix`), after `after` (a cursor), at most `limit`.
    Range {
        from: Option<Vec<u8>>,
        to: Option<Vec<u8>>,
        prefix: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        limit: usize,
    },
    /// A window store's windows of `key` starting in `[from, to]` (`size_ms`: a window's end
    /// is its start plus it).
    Windows {
        key: Vec<u8>,
        from: i64,
        to: i64,
        retention_ms: i64,
        retain_duplicates: bool,
        size_ms: i64,
    },
    /// A session store's sessions of `key`.
    Sessions {
        key: Vec<u8>,
        retention_ms: i64,
    },
}

/// What a read returns: the entries found (one at most for `Get`) and whether a range has more.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub more: bool,
    /// For window and session reads: `(start, end, value)`, by start (sessions: by end).
    pub windows: Vec<(i64, i64, Vec<u8>)>,
}

/// A read sent to the thread that owns `task`.
#[derive(Debug)]
pub struct StoreQuery {
    pub task: TaskId,
    pub store: String,
    pub read: StoreRead,
    pub reply: SyncSender<Result<ReadResult, String>>,
}

#[derive(Default)]
struct Inner {
    /// Thread name → its tasks.
    tasks: BTreeMap<String, Vec<TaskStatus>>,
    /// Thread name → where to send reads.
    queries: BTreeMap<String, Sender<StoreQuery>>,
    /// Threads that have not joined the group and published yet.
    starting: usize,
    stopped: bool,
    /// Since when no broker has been reachable, and librdkafka's words for it.
    unreachable: Option<(Instant, String)>,
}

/// A worker's status, shared by its threads and the endpoint.
#[derive(Clone, Default)]
pub struct WorkerStatus {
    inner: Arc<Mutex<Inner>>,
    started: Option<Instant>,
}

impl std::fmt::Debug for WorkerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerStatus").finish_non_exhaustive()
    }
}

impl WorkerStatus {
    pub(crate) fn new() -> WorkerStatus {
        WorkerStatus {
            inner: Arc::default(),
            started: Some(Instant::now()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned status is still the best information there is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a stream thread; returns the receiving end of its read channel.
    pub(crate) fn register_thread(&self, thread: &str) -> Receiver<StoreQuery> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut g = self.lock();
        g.queries.insert(thread.to_owned(), tx);
        g.starting += 1;
        rx
    }

    /// Replaces `thread`'s task list.
    pub(crate) fn publish(&self, thread: &str, tasks: Vec<TaskStatus>) {
        let mut g = self.lock();
        if g.tasks.insert(thread.to_owned(), tasks).is_none() {
            g.starting = g.starting.saturating_sub(1);
        }
    }

    /// The thread stopped: its tasks are gone.
    pub(crate) fn thread_stopped(&self, thread: &str) {
        let mut g = self.lock();
        g.tasks.remove(thread);
        g.queries.remove(thread);
    }

    pub(crate) fn set_stopped(&self) {
        self.lock().stopped = true;
    }

    /// Every task of this worker.
    pub fn tasks(&self) -> Vec<TaskStatus> {
        self.lock().tasks.values().flatten().cloned().collect()
    }

    /// `Ok` when every assigned task is restored and running and every thread has its
    /// assignment; otherwise why not.
    pub fn ready(&self) -> Result<(), String> {
        let g = self.lock();
        if g.stopped {
            return Err("the worker is stopping".into());
        }
        if let Some((since, why)) = &g.unreachable {
            return Err(format!(
                "no broker reachable for {:.0} s ({why}); retrying with backoff",
                since.elapsed().as_secs_f64()
            ));
        }
        if g.starting > 0 || g.queries.is_empty() {
            return Err("stream threads are joining the consumer group".into());
        }
        let restoring: Vec<String> = g
            .tasks
            .values()
            .flatten()
            .filter(|t| t.state != "running")
            .map(|t| t.id.clone())
            .collect();
        if restoring.is_empty() {
            Ok(())
        } else {
            Err(format!("tasks restoring: {}", restoring.join(", ")))
        }
    }

    /// No broker answers (librdkafka's `AllBrokersDown`): `/ready` says so until
    /// [`WorkerStatus::broker_reachable`].
    pub(crate) fn broker_unreachable(&self, why: &str) {
        let mut g = self.lock();
        if g.unreachable.is_none() {
            g.unreachable = Some((Instant::now(), why.to_owned()));
        }
    }

    /// A broker answered again.
    pub(crate) fn broker_reachable(&self) {
        self.lock().unreachable = None;
    }

    /// Seconds since the worker started.
    pub fn uptime_seconds(&self) -> f64 {
        self.started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Sends `read` of `store` to the thread owning `task`; `None` when no thread of this worker
    /// has the task.
    pub fn query(
        &self,
        task: TaskId,
        store: &str,
        read: StoreRead,
    ) -> Option<Receiver<Result<ReadResult, String>>> {
        let g = self.lock();
        let thread = g
            .tasks
            .iter()
            .find(|(_, ts)| ts.iter().any(|t| t.task == task))
            .map(|(name, _)| name.clone())?;
        let sender = g.queries.get(&thread)?;
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        sender
            .send(StoreQuery {
                task,
                store: store.to_owned(),
                read,
                reply,
            })
            .ok()?;
        Some(rx)
    }
}

/// Takes the reads waiting for a thread.
pub(crate) fn pending(rx: &Receiver<StoreQuery>) -> Vec<StoreQuery> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(q) => out.push(q),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
        }
    }
}

/// Runs `read` against `store` (a task's store on its thread, or a global store).
pub fn read_store(
    store: &dyn weir_state::KeyValueStore,
    read: &StoreRead,
) -> Result<ReadResult, String> {
    use std::ops::Bound;
    match read {
        StoreRead::Get(key) => Ok(ReadResult {
            entries: store
                .get(key)
                .map_err(|e| e.to_string())?
                .map(|v| (key.clone(), v))
                .into_iter()
                .collect(),
            more: false,
            windows: Vec::new(),
        }),
        StoreRead::Windows {
            key,
            from,
            to,
            retention_ms,
            retain_duplicates,
            size_ms,
        } => {
            let config = weir_state::WindowStoreConfig::new(*retention_ms, *retain_duplicates);
            let windows = weir_state::WindowStore::read_only(config, store)
                .and_then(|w| w.fetch_range(store, key, *from, *to))
                .map_err(|e| e.to_string())?;
            Ok(ReadResult {
                windows: windows
                    .into_iter()
                    .map(|(start, v)| (start, start.saturating_add(*size_ms), v))
                    .collect(),
                ..ReadResult::default()
            })
        }
        StoreRead::Sessions { key, retention_ms } => {
            let config = weir_state::SessionStoreConfig::new(*retention_ms);
            let sessions = weir_state::SessionStore::read_only(config, store)
                .and_then(|s| s.fetch(store, key))
                .map_err(|e| e.to_string())?;
            Ok(ReadResult {
                windows: sessions
                    .into_iter()
                    .map(|((start, end), v)| (start, end, v))
                    .collect(),
                ..ReadResult::default()
            })
        }
        StoreRead::Range {
            from,
            to,
            prefix,
            after,
            limit,
        } => {
            let iter = match (prefix, after) {
                (Some(p), _) => store.prefix_scan(p),
                (None, Some(a)) => store.range(
                    Bound::Excluded(a.as_slice()),
                    to.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
                ),
                (None, None) => store.range(
                    from.as_deref().map_or(Bound::Unbounded, Bound::Included),
                    to.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
                ),
            }
            .map_err(|e| e.to_string())?;
            let mut entries = Vec::new();
            let mut more = false;
            for item in iter {
                let (k, v) = item.map_err(|e| e.to_string())?;
                if prefix.is_some() {
                    // A prefix scan also honours the cursor and the bounds.
                    if after.as_ref().is_some_and(|a| k <= *a)
                        || from.as_ref().is_some_and(|f| k < *f)
                    {
                        continue;
                    }
                    if to.as_ref().is_some_and(|t| k >= *t) {
                        break;
                    }
                }
                if entries.len() == *limit {
                    more = true;
                    break;
                }
                entries.push((k, v));
            }
            Ok(ReadResult {
                entries,
                more,
                windows: Vec::new(),
            })
        }
    }
}

/// The status of one of a thread's tasks.
pub(crate) fn status_of(
    t: &crate::active_task::ActiveTask,
    thread: &str,
    committed: &foldhash::HashMap<(String, i32), i64>,
    consumer: &crate::consumer::GroupConsumer,
) -> TaskStatus {
    let partitions = t
        .partitions
        .iter()
        .map(|(topic, partition)| {
            let key = (topic.clone(), *partition);
            let position = t.positions.get(&key).copied();
            let committed = committed.get(&key).copied();
            // The statistics' end offset can be a report behind what was already read.
            let end = consumer
                .high_watermark(topic, *partition)
                .map(|e| e.max(position.unwrap_or(e)));
            let lag = end.zip(position.or(committed)).map(|(e, p)| (e - p).max(0));
            PartitionStatus {
                topic: topic.clone(),
                partition: *partition,
                position,
                committed,
                end,
                lag,
            }
        })
        .collect();
    let restore = t
        .restores
        .iter()
        .map(|r| {
            let remaining = (r.reader.estimated_records() - r.restored as i64).max(0) as u64;
            let secs = r.started.elapsed().as_secs_f64();
            let rate = if secs > 0.0 {
                r.restored as f64 / secs
            } else {
                0.0
            };
            RestoreStatus {
                store: r.store.clone(),
                restored: r.restored,
                remaining,
                records_per_second: rate,
                eta_seconds: (rate > 0.0).then(|| remaining as f64 / rate),
            }
        })
        .collect();
    let stores = t
        .task
        .stores()
        .local_names()
        .filter_map(|name| {
            let s = t.task.stores().local_by_name(name)?;
            Some(StoreStatus {
                name: name.to_owned(),
                approximate_entries: s.approximate_num_entries().unwrap_or(0),
                bytes_on_disk: s.size_on_disk(),
            })
        })
        .collect();
    let id = t.task.id();
    TaskStatus {
        id: id.to_string(),
        task: id,
        thread: thread.to_owned(),
        state: t.state.name(),
        partitions,
        restore,
        stores,
    }
}
