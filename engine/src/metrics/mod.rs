//! The Prometheus metrics of a weir worker: the one place that owns their names, labels and
//! histogram buckets, the exporter ([`install_prometheus`]), and the cached metric handles the
//! runtime and the operators update.
//!
//! The contract is `deploy/metrics.txt`: every metric there is emitted here with exactly its
//! name, type and labels, plus `application` (the application id). Hot paths never build label
//! sets per record: each place caches [`metrics::Counter`] / [`metrics::Histogram`] handles,
//! registered once with their labels (per task, per node, per (task, topic), per sink topic).
//!
//! * [`thread`]: what a stream thread updates (consumed, produced, latencies, commits, dead
//!   letters, skipped, tasks and stores gauges);
//! * [`worker`]: the gauges summed over every stream thread of the process (`weir_tasks`,
//!   `weir_store_*`, `weir_restore_records_remaining`);
//! * [`consumer`]: rebalances and consumer lag (from librdkafka's statistics).

pub(crate) mod consumer;
pub(crate) mod thread;
pub(crate) mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::StreamsError;

pub(crate) const RECORDS_CONSUMED: &str = "weir_records_consumed_total";
pub(crate) const RECORDS_PRODUCED: &str = "weir_records_produced_total";
pub(crate) const PROCESS_LATENCY: &str = "weir_process_latency_seconds";
pub(crate) const END_TO_END_LATENCY: &str = "weir_end_to_end_latency_seconds";
pub(crate) const COMMITS: &str = "weir_commits_total";
pub(crate) const COMMIT_DURATION: &str = "weir_commit_duration_seconds";
pub(crate) const REBALANCES: &str = "weir_rebalances_total";
pub(crate) const TASKS: &str = "weir_tasks";
pub(crate) const RESTORE_RECORDS: &str = "weir_restore_records_total";
pub(crate) const RESTORE_REMAINING: &str = "weir_restore_records_remaining";
pub(crate) const CONSUMER_LAG: &str = "weir_consumer_lag";
pub(crate) const STORE_ENTRIES: &str = "weir_store_entries";
pub(crate) const STORE_SIZE: &str = "weir_store_size_bytes";
pub(crate) const DEAD_LETTERS: &str = "weir_dead_letter_records_total";
pub(crate) const SKIPPED: &str = "weir_skipped_records_total";
pub(crate) const DROPPED: &str = "weir_dropped_records_total";
pub(crate) const EXPRESSION_ERRORS: &str = "weir_expression_errors_total";

/// Buckets of the per-record latencies: 50µs to 10s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Buckets of the commit duration: 1ms to 30s.
const COMMIT_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the exporter's histograms are drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Installs the Prometheus recorder as the process's global `metrics` recorder, once: a second
/// call returns the handle of the first. Histograms get buckets (so they render `_bucket`
/// series). Fails when another recorder was installed by someone else.
///
/// Install it before building and starting workers: handles registered before a recorder
/// exists stay no-ops.
pub fn install_prometheus() -> Result<PrometheusHandle, StreamsError> {
    let mut slot = HANDLE
        .lock()
        .map_err(|_| StreamsError::Internal("metrics recorder lock poisoned".into()))?;
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let err = |e: metrics_exporter_prometheus::BuildError| {
        StreamsError::Internal(format!("cannot install the Prometheus recorder: {e}"))
    };
    let builder = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .map_err(err)?
        .set_buckets_for_metric(Matcher::Full(COMMIT_DURATION.into()), COMMIT_BUCKETS)
        .map_err(err)?;
    let handle = builder.install_recorder().map_err(err)?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("weir-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| StreamsError::Internal(format!("cannot start metrics upkeep: {e}")))?;
    *slot = Some(handle.clone());
    Ok(handle)
}

/// The `application` label value: shared, so cloning it per registration does not allocate.
pub(crate) fn app_label(application: &str) -> SharedString {
    SharedString::from_shared(Arc::<str>::from(application))
}

/// The counter of records the processor `processor` of `application` drops on purpose; nodes
/// register it once at init.
pub(crate) fn dropped_counter(application: &str, processor: &str) -> Counter {
    metrics::counter!(
        DROPPED,
        "application" => app_label(application),
        "processor" => processor.to_owned()
    )
}

/// The counters of records a task's operators skip as unusable, registered once per task.
pub(crate) struct TaskCounters {
    pub null_key: Counter,
    pub null_value: Counter,
}

impl TaskCounters {
    pub(crate) fn new(application: &str) -> TaskCounters {
        let app = app_label(application);
        TaskCounters {
            null_key: skipped_counter(&app, "null_key"),
            null_value: skipped_counter(&app, "null_value"),
        }
    }
}

/// `weir_skipped_records_total{application, reason}`.
pub(crate) fn skipped_counter(app: &SharedString, reason: &'static str) -> Counter {
    metrics::counter!(SKIPPED, "application" => app.clone(), "reason" => reason)
}

/// Counts `n` changelog records restored into `store` (`n = 0` registers the series).
pub(crate) fn restored(application: &str, store: &str, n: u64) {
    metrics::counter!(
        RESTORE_RECORDS,
        "application" => app_label(application),
        "store" => store.to_owned()
    )
    .increment(n);
}

/// Counts a failed expression of a definition file.
pub(crate) fn expression_error(application: &str, expression: &str) {
    metrics::counter!(
        EXPRESSION_ERRORS,
        "application" => app_label(application),
        "expression" => expression.to_owned()
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn buckets_are_sorted_and_positive() {
        for b in [LATENCY_BUCKETS, COMMIT_BUCKETS] {
            assert!(b.windows(2).all(|w| w[0] < w[1]));
            assert!(b[0] > 0.0);
        }
        assert!(LATENCY_BUCKETS[0] <= 0.000_05 && *LATENCY_BUCKETS.last().unwrap() >= 10.0);
    }

    #[test]
    fn the_filter_counter_is_labelled_with_its_processor() {
        let recorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            dropped_counter("app-1", "drop-forbidden").increment(2);
        });
        let text = recorder.handle().render();
        assert!(
            text.contains(
                "weir_dropped_records_total{application=\"app-1\",processor=\"drop-forbidden\"} 2"
            ),
            "{text}"
        );
    }
}
