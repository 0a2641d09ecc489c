//! Running topologies: tasks, their stores, the record collector and punctuation (shared by the
//! Kafka runtime and the test driver), and the Kafka runtime itself — stream threads, the global
//! thread, commit, restore, error handling — behind [`KafkaStreams`].

pub(crate) mod active_task;
pub(crate) mod collector;
pub(crate) mod global_thread;
pub(crate) mod handler;
pub(crate) mod kafka_streams;
pub(crate) mod lifecycle;
pub(crate) mod node;
pub(crate) mod output;
pub mod status;
pub(crate) mod stores;
pub(crate) mod stream_thread;
pub(crate) mod task;
pub(crate) mod time;

pub use collector::{ProducedRecord, RecordCollector};
pub use kafka_streams::KafkaStreams;
pub use status::WorkerStatus;
pub use task::TaskId;
pub use time::PunctuationType;

/// Wall-clock time in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
