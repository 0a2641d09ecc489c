//! The metrics a stream thread updates, with their handles cached so that the per-record work is
//! a hash lookup and an atomic add, never a label set built per record:
//!
//! * per record: `weir_records_consumed_total{topic, task}` (a handle per (task, topic)),
//!   `weir_process_latency_seconds` (one handle), and for each output of a sink
//!   `weir_records_produced_total{topic}` and `weir_end_to_end_latency_seconds{topic}` (a handle
//!   pair per sink topic, in [`SinkMetrics`]);
//! * per commit: `weir_commits_total`, `weir_commit_duration_seconds`, and the thread's
//!   snapshot of store sizes;
//! * per loop iteration: the thread's snapshot of task states and restore progress, published
//!   (when it changed) to the worker-wide sums of [`super::worker`];
//! * rarely: `weir_skipped_records_total{reason="error"}`, `weir_dead_letter_records_total`.
//!
//! Produced records are the records sink nodes write: output topics and repartition topics
//! (a repartition topic is a sink of its sub-topology); changelog records and dead letters are
//! not produced records.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use foldhash::HashMap;
use metrics::{Counter, Histogram, SharedString};

use super::worker::{self, Snapshot, TaskCounts};
use crate::active_task::{ActiveTask, TaskState};
use weir_core::metrics::{
    COMMIT_DURATION, COMMITS, DEAD_LETTERS, END_TO_END_LATENCY, PROCESS_LATENCY, RECORDS_CONSUMED,
    RECORDS_PRODUCED, app_label, skipped_counter,
};
use weir_runtime::task::TaskId;

/// How often store sizes are read at most (commits can be every 100 ms under exactly-once).
const STORE_STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The metrics of one stream thread.
pub(crate) struct ThreadMetrics {
    id: u64,
    application: String,
    app: SharedString,
    consumed: HashMap<TaskId, Vec<(Box<str>, Counter)>>,
    process_latency: Histogram,
    commits: Counter,
    commit_duration: Histogram,
    skipped_error: Counter,
    /// What the thread's record collector updates.
    pub sinks: SinkMetrics,
    last_tasks: Option<(TaskCounts, BTreeMap<String, u64>)>,
    last_store_stats: Option<Instant>,
}

impl ThreadMetrics {
    pub(crate) fn new(application: &str) -> ThreadMetrics {
        let app = app_label(application);
        ThreadMetrics {
            id: worker::thread_id(),
            application: application.to_owned(),
            consumed: HashMap::default(),
            process_latency: metrics::histogram!(PROCESS_LATENCY, "application" => app.clone()),
            commits: metrics::counter!(COMMITS, "application" => app.clone()),
            commit_duration: metrics::histogram!(COMMIT_DURATION, "application" => app.clone()),
            skipped_error: skipped_counter(&app, "error"),
            sinks: SinkMetrics {
                app: app.clone(),
                topics: HashMap::default(),
            },
            app,
            last_tasks: None,
            last_store_stats: None,
        }
    }

    /// One record of `topic` consumed by `task`.
    #[inline]
    pub(crate) fn consumed(&mut self, task: TaskId, topic: &str) {
        let handles = self.consumed.entry(task).or_default();
        if let Some((_, c)) = handles.iter().find(|(t, _)| &**t == topic) {
            c.increment(1);
            return;
        }
        let c = metrics::counter!(
            RECORDS_CONSUMED,
            "application" => self.app.clone(),
            "topic" => topic.to_owned(),
            "task" => task.to_string()
        );
        c.increment(1);
        handles.push((topic.into(), c));
    }

    /// One record processed through its task, started at `started`.
    #[inline]
    pub(crate) fn processed(&self, started: Instant) {
        self.process_latency.record(started.elapsed());
    }

    /// A failed record skipped by a `log_and_continue` handler.
    pub(crate) fn skipped_error(&self) {
        self.skipped_error.increment(1);
    }

    /// A failed record of `topic` sent to the dead-letter topic.
    pub(crate) fn dead_letter(&self, topic: &str) {
        metrics::counter!(DEAD_LETTERS, "application" => self.app.clone(), "topic" => topic.to_owned())
            .increment(1);
    }

    /// A commit that started at `started` succeeded; refreshes the store gauges (at most every
    /// [`STORE_STATS_INTERVAL`]).
    pub(crate) fn committed(&mut self, started: Instant, tasks: &BTreeMap<TaskId, ActiveTask>) {
        self.commits.increment(1);
        self.commit_duration.record(started.elapsed());
        if self
            .last_store_stats
            .is_some_and(|t| t.elapsed() < STORE_STATS_INTERVAL)
        {
            return;
        }
        self.last_store_stats = Some(Instant::now());
        let mut stores: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for t in tasks.values() {
            let task_stores = t.task.stores();
            for name in task_stores.local_names() {
                if let Some(s) = task_stores.local_by_name(name) {
                    let e = stores.entry(name.to_owned()).or_default();
                    e.0 += s.approximate_num_entries().unwrap_or(0);
                    e.1 += s.size_on_disk();
                }
            }
        }
        worker::publish(self.id, &self.application, |s| s.stores = stores);
    }

    /// Publishes the thread's task states and restore progress when they changed.
    pub(crate) fn publish_tasks(&mut self, tasks: &BTreeMap<TaskId, ActiveTask>) {
        let mut counts = TaskCounts::default();
        let mut remaining: BTreeMap<String, u64> = BTreeMap::new();
        for t in tasks.values() {
            match t.state {
                TaskState::Created => counts[0] += 1,
                TaskState::Restoring => counts[1] += 1,
                TaskState::Running => counts[2] += 1,
                TaskState::Suspended => counts[3] += 1,
                TaskState::Closed => {}
            }
            for name in t.task.stores().local_names() {
                remaining.entry(name.to_owned()).or_default();
            }
            for r in &t.restores {
                let left = (r.reader.estimated_records() - r.restored as i64).max(0) as u64;
                *remaining.entry(r.store.clone()).or_default() += left;
            }
        }
        if self
            .last_tasks
            .as_ref()
            .is_some_and(|(c, r)| *c == counts && *r == remaining)
        {
            return;
        }
        self.consumed.retain(|id, _| tasks.contains_key(id));
        self.last_tasks = Some((counts, remaining.clone()));
        worker::publish(self.id, &self.application, |s: &mut Snapshot| {
            s.tasks = counts;
            s.restore_remaining = remaining;
        });
    }
}

impl Drop for ThreadMetrics {
    fn drop(&mut self) {
        worker::remove(self.id);
    }
}

/// The handles of the records a thread's sinks write, per topic.
pub(crate) struct SinkMetrics {
    app: SharedString,
    topics: HashMap<String, (Counter, Histogram)>,
}

impl SinkMetrics {
    /// A sink wrote a record with `timestamp` to `topic` at `now_ms`. The end-to-end latency is
    /// recorded for records with a timestamp not after now (0 / negative: no timestamp).
    #[inline]
    pub(crate) fn produced(&mut self, topic: &str, timestamp: i64, now_ms: i64) {
        let (count, latency) = match self.topics.get(topic) {
            Some(h) => h,
            None => {
                let labels = [
                    ("application", self.app.clone()),
                    ("topic", SharedString::from_owned(topic.to_owned())),
                ];
                let h = (
                    metrics::counter!(RECORDS_PRODUCED, &labels),
                    metrics::histogram!(END_TO_END_LATENCY, &labels),
                );
                self.topics.entry(topic.to_owned()).or_insert(h)
            }
        };
        count.increment(1);
        if timestamp > 0 && now_ms >= timestamp {
            latency.record((now_ms - timestamp) as f64 / 1000.0);
        }
    }
}
