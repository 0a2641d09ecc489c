//! The group consumer's metrics: `weir_rebalances_total` (counted in the rebalance callbacks) and
//! `weir_consumer_lag{topic, partition}`, from librdkafka's statistics (emitted every
//! `statistics.interval.ms`, 5 s by default for the group consumer; see
//! [`crate::client::group_consumer_config`]).
//!
//! The lag of a partition is librdkafka's `consumer_lag`: the partition's end (high watermark,
//! or last stable offset under `read_committed`) minus the group's committed offset. Partitions
//! without one (not assigned, nothing committed yet: -1) and the internal partition -1 are left
//! out. A partition this consumer reported before and no longer has (it moved to another member)
//! is set to 0, so the application's summed lag does not keep a stale value.

use std::collections::BTreeSet;
use std::sync::Mutex;

use metrics::{Counter, SharedString};
use rdkafka::Statistics;

use weir_core::metrics::{CONSUMER_LAG, REBALANCES, app_label};

/// Metrics of one group consumer; lives in its librdkafka context.
pub(crate) struct ConsumerMetrics {
    app: SharedString,
    rebalances: Counter,
    reported: Mutex<BTreeSet<(String, i32)>>,
}

impl ConsumerMetrics {
    pub(crate) fn new(application: &str) -> ConsumerMetrics {
        let app = app_label(application);
        ConsumerMetrics {
            rebalances: metrics::counter!(REBALANCES, "application" => app.clone()),
            app,
            reported: Mutex::new(BTreeSet::new()),
        }
    }

    /// A rebalance assigned partitions to this consumer.
    pub(crate) fn rebalance(&self) {
        self.rebalances.increment(1);
    }

    /// Sets the lag gauges from one statistics report.
    pub(crate) fn stats(&self, stats: &Statistics) {
        let mut now = BTreeSet::new();
        for (topic, t) in &stats.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                self.set(topic, partition, p.consumer_lag as f64);
                now.insert((topic.clone(), partition));
            }
        }
        let Ok(mut reported) = self.reported.lock() else {
            return;
        };
        for (topic, partition) in reported.difference(&now) {
            self.set(topic, *partition, 0.0);
        }
        *reported = now;
    }

    fn set(&self, topic: &str, partition: i32, lag: f64) {
        metrics::gauge!(
            CONSUMER_LAG,
            "application" => self.app.clone(),
            "topic" => topic.to_owned(),
            "partition" => partition.to_string()
        )
        .set(lag);
    }
}
