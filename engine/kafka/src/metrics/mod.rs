//! What a worker's threads update of its Prometheus metrics (names and labels are
//! `weir_core::metrics`'s) and the exporter.
//!
//! * [`thread`]: what a stream thread updates (consumed, produced, latencies, commits, dead
//!   letters, skipped, tasks and stores gauges);
//! * [`worker`]: the gauges summed over every stream thread of the process (`weir_tasks`,
//!   `weir_store_*`, `weir_restore_records_remaining`);
//! * [`consumer`]: rebalances and consumer lag (from librdkafka's statistics);
//! * [`exporter`]: the process's Prometheus recorder.

pub(crate) mod consumer;
pub mod exporter;
pub(crate) mod thread;
pub(crate) mod worker;
