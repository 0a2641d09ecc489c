//! The gauges of a whole worker process, summed over its stream threads (and the global thread):
//! `weir_tasks{state}`, `weir_store_entries{store}`, `weir_store_size_bytes{store}` and
//! `weir_restore_records_remaining{store}`.
//!
//! A gauge set from one thread would be overwritten by the next; so each thread publishes a
//! snapshot of its own tasks and stores here, the registry keeps the latest snapshot per thread
//! and sets every gauge of the application to the sum over its threads. A thread that ends
//! removes its snapshot. A series once published stays, at 0 when no thread has it any more
//! (a store whose tasks all moved to another worker), so dashboards see it drop rather than
//! freeze at its last value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use weir_core::metrics::{RESTORE_REMAINING, STORE_ENTRIES, STORE_SIZE, TASKS};

/// The `state` label values of `weir_tasks`, in [`TaskCounts`] order.
pub(crate) const TASK_STATES: [&str; 4] = ["created", "restoring", "running", "suspended"];

/// Tasks of one thread per state, in [`TASK_STATES`] order.
pub(crate) type TaskCounts = [u64; 4];

/// What one thread contributes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub tasks: TaskCounts,
    /// Changelog records still to restore, per store (0 for stores of running tasks).
    pub restore_remaining: BTreeMap<String, u64>,
    /// `(approximate entries, bytes on disk)` per store.
    pub stores: BTreeMap<String, (u64, u64)>,
}

struct Entry {
    application: String,
    snapshot: Snapshot,
}

#[derive(Default)]
struct Seen {
    stores: BTreeSet<String>,
    restoring: BTreeSet<String>,
}

struct Registry {
    threads: BTreeMap<u64, Entry>,
    seen: BTreeMap<String, Seen>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: BTreeMap::new(),
    seen: BTreeMap::new(),
});

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A new id for a publishing thread.
pub(crate) fn thread_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Replaces part of thread `thread`'s snapshot through `update`, then refreshes the gauges of
/// `application`.
pub(crate) fn publish(thread: u64, application: &str, update: impl FnOnce(&mut Snapshot)) {
    let Ok(mut reg) = REGISTRY.lock() else { return };
    let entry = reg.threads.entry(thread).or_insert_with(|| Entry {
        application: application.to_owned(),
        snapshot: Snapshot::default(),
    });
    update(&mut entry.snapshot);
    refresh(&mut reg, application);
}

/// Drops the snapshot of a thread that ended.
pub(crate) fn remove(thread: u64) {
    let Ok(mut reg) = REGISTRY.lock() else { return };
    if let Some(e) = reg.threads.remove(&thread) {
        refresh(&mut reg, &e.application);
    }
}

/// Sets every gauge of `application` to the sum over its threads.
fn refresh(reg: &mut Registry, application: &str) {
    let mut tasks = TaskCounts::default();
    let mut stores: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut remaining: BTreeMap<&str, u64> = BTreeMap::new();
    let mut names = BTreeSet::new();
    let mut restoring = BTreeSet::new();
    for e in reg.threads.values() {
        if e.application != application {
            continue;
        }
        for (sum, n) in tasks.iter_mut().zip(e.snapshot.tasks) {
            *sum += n;
        }
        for (name, (entries, bytes)) in &e.snapshot.stores {
            let s = stores.entry(name).or_default();
            s.0 += entries;
            s.1 += bytes;
            names.insert(name.clone());
        }
        for (name, n) in &e.snapshot.restore_remaining {
            *remaining.entry(name).or_default() += n;
            restoring.insert(name.clone());
        }
    }
    let seen = reg.seen.entry(application.to_owned()).or_default();
    seen.stores.extend(names);
    seen.restoring.extend(restoring);
    for (state, n) in TASK_STATES.iter().zip(tasks) {
        metrics::gauge!(TASKS, "application" => application.to_owned(), "state" => *state)
            .set(n as f64);
    }
    for name in &seen.stores {
        let (entries, bytes) = stores.get(name.as_str()).copied().unwrap_or_default();
        let labels = [
            ("application", application.to_owned()),
            ("store", name.clone()),
        ];
        metrics::gauge!(STORE_ENTRIES, &labels).set(entries as f64);
        metrics::gauge!(STORE_SIZE, &labels).set(bytes as f64);
    }
    for name in &seen.restoring {
        let n = remaining.get(name.as_str()).copied().unwrap_or_default();
        let labels = [
            ("application", application.to_owned()),
            ("store", name.clone()),
        ];
        metrics::gauge!(RESTORE_REMAINING, &labels).set(n as f64);
    }
}

/// Publishes the store gauges of a thread that owns stores but no tasks (the global thread),
/// at most every `interval`; removes them when dropped.
pub(crate) struct StorePublisher {
    id: u64,
    application: String,
    interval: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl StorePublisher {
    pub(crate) fn new(application: &str, interval: std::time::Duration) -> StorePublisher {
        StorePublisher {
            id: thread_id(),
            application: application.to_owned(),
            interval,
            last: None,
        }
    }

    /// Publishes what `stores` reads (`(entries, bytes)` per store) when the interval passed.
    pub(crate) fn maybe_publish(&mut self, stores: impl FnOnce() -> BTreeMap<String, (u64, u64)>) {
        if self.last.is_some_and(|t| t.elapsed() < self.interval) {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let stores = stores();
        publish(self.id, &self.application, |s| s.stores = stores);
    }
}

impl Drop for StorePublisher {
    fn drop(&mut self) {
        remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn gauges_are_summed_over_threads_and_drop_to_zero() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let app = "worker-sum-test";
        metrics::with_local_recorder(&recorder, || {
            let (a, b) = (thread_id(), thread_id());
            publish(a, app, |s| {
                s.tasks = [0, 1, 2, 0];
                s.stores.insert("counts".into(), (10, 100));
            });
            publish(b, app, |s| {
                s.tasks = [0, 0, 3, 0];
                s.stores.insert("counts".into(), (5, 50));
            });
            let text = handle.render();
            assert!(
                text.contains(&format!(
                    "weir_tasks{{application=\"{app}\",state=\"running\"}} 5"
                )),
                "{text}"
            );
            assert!(text.contains(&format!(
                "weir_store_entries{{application=\"{app}\",store=\"counts\"}} 15"
            )));
            remove(a);
            remove(b);
            let text = handle.render();
            assert!(text.contains(&format!(
                "weir_store_size_bytes{{application=\"{app}\",store=\"counts\"}} 0"
            )));
        });
    }
}
