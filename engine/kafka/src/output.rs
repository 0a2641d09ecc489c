//! Where a Kafka task's output goes: the record collector over the thread's producer, and the
//! changelog sink of its stores (which writes to `{application}-{store}-changelog`, partition =
//! the task's partition, through the same producer — so under exactly-once the changelog is in
//! the same transaction as the outputs).

use std::sync::Arc;

use weir_state::{ChangelogSink, StateError};

use crate::metrics::thread::SinkMetrics;
use crate::producer::Producer;
use weir_core::error::StreamsError;
use weir_core::record::Headers;
use weir_runtime::collector::{ProducedRecord, RecordCollector};

/// Sends task output through the thread's producer; counts it in the thread's sink metrics.
pub(crate) struct ProducerCollector<'a> {
    pub producer: &'a Producer,
    pub metrics: &'a mut SinkMetrics,
    /// The wall clock of the record being processed (for the end-to-end latency).
    pub now_ms: i64,
}

impl RecordCollector for ProducerCollector<'_> {
    fn send(&mut self, r: ProducedRecord) -> Result<(), StreamsError> {
        self.producer.send(
            &r.topic,
            r.partition,
            r.key.as_deref(),
            r.value.as_deref(),
            r.timestamp,
            &r.headers,
        )?;
        self.metrics.produced(&r.topic, r.timestamp, self.now_ms);
        Ok(())
    }
}

/// The changelog of one store of one task.
pub(crate) struct ChangelogWriter {
    pub producer: Arc<Producer>,
    pub topic: String,
    pub partition: i32,
}

impl ChangelogSink for ChangelogWriter {
    fn send(&mut self, store: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        let now = weir_core::now_ms();
        self.producer
            .send(
                &self.topic,
                Some(self.partition),
                Some(key),
                value,
                now,
                &Headers::new(),
            )
            .map_err(|e| StateError::ChangelogSend {
                store: store.to_owned(),
                message: e.to_string(),
            })
    }
}
