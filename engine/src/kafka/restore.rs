//! Reading a set of partitions from given offsets to their end: restoring a task's stores from
//! their changelogs and bootstrapping global tables.
//!
//! The end is the partition EOF librdkafka reports (`enable.partition.eof`), not a high watermark
//! fetched up front: a broker's watermark can lag the log (tansu's does for multi-record batches),
//! and under exactly-once the end of the committed data is what a `read_committed` fetch reaches.
//!
//! A start offset the partition does not hold (a checkpoint beyond the log end after the topic was
//! deleted and re-created, or below the log start after records were deleted) is not silently
//! reset: the reader stops and reports it ([`PartitionReader::out_of_range`]), because the store
//! it fills must then be wiped and read in full (`weir_state::plan_restore`). The broker says so
//! (librdkafka's `auto.offset.reset=error`), so no watermark has to be trusted for it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::error::StreamsError;

/// One record read while restoring.
pub(crate) struct Restored<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// A consumer with manually assigned partitions of ONE topic that reads each to its end (one
/// topic because librdkafka's EOF event names only the partition).
pub(crate) struct PartitionReader {
    inner: BaseConsumer,
    /// Partitions not yet at their end.
    pending: BTreeSet<i32>,
    estimated_records: i64,
    /// A start offset was out of the partition's range (see the module doc).
    out_of_range: bool,
}

impl PartitionReader {
    /// Assigns partitions of `topic` (partition → first offset to read; `None` = from the
    /// beginning). A start offset out of the partition's range stops the reader (see
    /// [`PartitionReader::out_of_range`]), whatever `auto.offset.reset` says.
    pub(crate) fn new(
        config: &ClientConfig,
        topic: &str,
        start: &BTreeMap<i32, Option<i64>>,
    ) -> Result<Self, StreamsError> {
        let mut config = config.clone();
        config.set("auto.offset.reset", "error");
        let inner: BaseConsumer = config.create().map_err(|source| StreamsError::Kafka {
            operation: "create restore consumer",
            source,
        })?;
        let mut tpl = TopicPartitionList::new();
        for (p, o) in start {
            let offset = o.map(Offset::Offset).unwrap_or(Offset::Beginning);
            tpl.add_partition_offset(topic, *p, offset)
                .map_err(|source| StreamsError::Kafka {
                    operation: "assign restore",
                    source,
                })?;
        }
        inner.assign(&tpl).map_err(|source| StreamsError::Kafka {
            operation: "assign restore",
            source,
        })?;
        // An estimate only, for progress reports: the end is the EOF event (see the module doc).
        let mut remaining = 0;
        for (p, o) in start {
            if let Ok((low, high)) = inner.fetch_watermarks(topic, *p, Duration::from_secs(5)) {
                remaining += (high - o.unwrap_or(low).max(low)).max(0);
            }
        }
        Ok(PartitionReader {
            inner,
            pending: start.keys().cloned().collect(),
            estimated_records: remaining,
            out_of_range: false,
        })
    }

    /// Records between the start offsets and the high watermarks when the reader was created
    /// (an estimate: transaction markers count, and some brokers report watermarks late).
    pub(crate) fn estimated_records(&self) -> i64 {
        self.estimated_records
    }

    /// True when every partition reached its end at least once.
    pub(crate) fn caught_up(&self) -> bool {
        self.pending.is_empty() && !self.out_of_range
    }

    /// True when the broker refused a start offset as out of the partition's range: the reader
    /// reads no more, and whatever it fills must be wiped and read from the beginning.
    pub(crate) fn out_of_range(&self) -> bool {
        self.out_of_range
    }

    /// `(low, high)` watermarks of `partition` (for the log line that says why a store is wiped;
    /// never for the decision, see the module doc).
    pub(crate) fn watermarks(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        self.inner
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .ok()
    }

    /// Reads for at most `budget`, handing each record to `f`. Returns the number of records.
    pub(crate) fn read(
        &mut self,
        budget: Duration,
        mut f: impl FnMut(Restored<'_>) -> Result<(), StreamsError>,
    ) -> Result<usize, StreamsError> {
        let deadline = Instant::now() + budget;
        let mut n = 0;
        while Instant::now() < deadline && !self.out_of_range {
            match self.inner.poll(Duration::from_millis(50)) {
                None => {
                    if self.pending.is_empty() {
                        break;
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.pending.remove(&p);
                }
                Some(Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
                ))) => {
                    self.out_of_range = true;
                }
                Some(Err(source))
                    if crate::kafka::error_kind(&source) == crate::error::ErrorKind::Retriable =>
                {
                    tracing::warn!(error = %source, "restore consumer: retriable error, retrying");
                }
                Some(Err(source)) => {
                    return Err(StreamsError::Kafka {
                        operation: "restore poll",
                        source,
                    });
                }
                Some(Ok(m)) => {
                    n += 1;
                    f(Restored {
                        topic: m.topic(),
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key(),
                        value: m.payload(),
                    })?;
                }
            }
        }
        Ok(n)
    }
}
