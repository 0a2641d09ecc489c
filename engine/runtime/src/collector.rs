//! Where sink nodes and change logging hand their output: the [`RecordCollector`] trait.
//!
//! The Kafka runtime implements it with a producer (inside the thread's transaction under
//! exactly-once); the test driver with in-memory topics.

use weir_core::error::StreamsError;
use weir_core::record::Headers;

/// One record on its way to a topic, serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducedRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
    pub headers: Headers,
}

/// Accepts serialized output records of a task.
pub trait RecordCollector {
    /// Queues one record for `topic` (`partition: None` lets the partitioner choose from the key).
    fn send(&mut self, record: ProducedRecord) -> Result<(), StreamsError>;
}

impl RecordCollector for Vec<ProducedRecord> {
    fn send(&mut self, record: ProducedRecord) -> Result<(), StreamsError> {
        self.push(record);
        Ok(())
    }
}
