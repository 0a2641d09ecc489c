//! The Prometheus metrics of a weir worker: the one place that owns their names and labels, and
//! the metric handles the operators and tasks update (the exporter and the stream threads'
//! handles are in `weir-kafka`'s `metrics`).
//!
//! The contract is `deploy/metrics.txt`: every metric there is emitted here with exactly its
//! name, type and labels, plus `application` (the application id). Hot paths never build label
//! sets per record: each place caches [`metrics::Counter`] / [`metrics::Histogram`] handles,
//! registered once with their labels (per task, per node, per (task, topic), per sink topic).

use std::sync::Arc;

use metrics::{Counter, SharedString};

pub const RECORDS_CONSUMED: &str = "weir_records_consumed_total";
pub const RECORDS_PRODUCED: &str = "weir_records_produced_total";
pub const PROCESS_LATENCY: &str = "weir_process_latency_seconds";
pub const END_TO_END_LATENCY: &str = "weir_end_to_end_latency_seconds";
pub const COMMITS: &str = "weir_commits_total";
pub const COMMIT_DURATION: &str = "weir_commit_duration_seconds";
pub const REBALANCES: &str = "weir_rebalances_total";
pub const TASKS: &str = "weir_tasks";
pub const RESTORE_RECORDS: &str = "weir_restore_records_total";
pub const RESTORE_REMAINING: &str = "weir_restore_records_remaining";
pub const CONSUMER_LAG: &str = "weir_consumer_lag";
pub const STORE_ENTRIES: &str = "weir_store_entries";
pub const STORE_SIZE: &str = "weir_store_size_bytes";
pub const DEAD_LETTERS: &str = "weir_dead_letter_records_total";
pub const SKIPPED: &str = "weir_skipped_records_total";
pub const DROPPED: &str = "weir_dropped_records_total";
pub const EXPRESSION_ERRORS: &str = "weir_expression_errors_total";

/// The `application` label value: shared, so cloning it per registration does not allocate.
pub fn app_label(application: &str) -> SharedString {
    SharedString::from_shared(Arc::<str>::from(application))
}

/// The counter of records the processor `processor` of `application` drops on purpose; nodes
/// register it once at init.
pub fn dropped_counter(application: &str, processor: &str) -> Counter {
    metrics::counter!(
        DROPPED,
        "application" => app_label(application),
        "processor" => processor.to_owned()
    )
}

/// The counters of records a task's operators skip as unusable, per operator (node) of the
/// task, registered once per task: `weir_skipped_records_total{reason, processor}`.
pub struct TaskCounters {
    null_key: Vec<Counter>,
    null_value: Vec<Counter>,
}

impl TaskCounters {
    /// Counters for the nodes named `processors` (a sub-topology's nodes, in its order).
    pub fn new(application: &str, processors: &[String]) -> TaskCounters {
        let app = app_label(application);
        let of = |reason: &'static str| {
            processors
                .iter()
                .map(|p| {
                    metrics::counter!(
                        SKIPPED,
                        "application" => app.clone(),
                        "reason" => reason,
                        "processor" => p.clone()
                    )
                })
                .collect()
        };
        TaskCounters {
            null_key: of("null_key"),
            null_value: of("null_value"),
        }
    }

    /// Counts a record node `node` skipped for its missing key.
    pub fn null_key(&self, node: usize) {
        if let Some(c) = self.null_key.get(node) {
            c.increment(1);
        }
    }

    /// Counts a record node `node` skipped for its missing value.
    pub fn null_value(&self, node: usize) {
        if let Some(c) = self.null_value.get(node) {
            c.increment(1);
        }
    }
}

/// `weir_skipped_records_total{application, reason="late", processor}`: records a windowed
/// operator dropped because their window had closed (older than stream time minus grace).
pub fn late_counter(application: &str, processor: &str) -> Counter {
    metrics::counter!(
        SKIPPED,
        "application" => app_label(application),
        "reason" => "late",
        "processor" => processor.to_owned()
    )
}

/// `weir_skipped_records_total{application, reason}`.
pub fn skipped_counter(app: &SharedString, reason: &'static str) -> Counter {
    metrics::counter!(SKIPPED, "application" => app.clone(), "reason" => reason)
}

/// Counts `n` changelog records restored into `store` (`n = 0` registers the series).
pub fn restored(application: &str, store: &str, n: u64) {
    metrics::counter!(
        RESTORE_RECORDS,
        "application" => app_label(application),
        "store" => store.to_owned()
    )
    .increment(n);
}

/// Counts a failed expression of a definition file.
pub fn expression_error(application: &str, expression: &str) {
    metrics::counter!(
        EXPRESSION_ERRORS,
        "application" => app_label(application),
        "expression" => expression.to_owned()
    )
    .increment(1);
}
