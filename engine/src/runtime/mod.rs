//! Running topologies: tasks, their stores, the record collector and punctuation. The Kafka
//! stream threads (next issue) and the test driver both drive the [`task::Task`] defined here.

pub(crate) mod collector;
pub(crate) mod node;
pub(crate) mod stores;
pub(crate) mod task;
pub(crate) mod time;

pub use collector::{ProducedRecord, RecordCollector};
pub use task::TaskId;
pub use time::PunctuationType;
