//! Reading a set of partitions from given offsets to their end: restoring a task's stores from
//! their changelogs and bootstrapping global tables.
//!
//! The end is the partition EOF librdkafka reports (`enable.partition.eof`), not a high watermark
//! fetched up front: a broker's watermark can lag the log (tansu's does for multi-record batches),
//! and under exactly-once the end of the committed data is what a `read_committed` fetch reaches.
//!
//! A checkpoint the partition does not hold (beyond the log end after the topic was deleted and
//! re-created, or below the log start after records were deleted) means the store must be wiped
//! and read in full (`weir_state::plan_restore`). [`checkpoint_outside_log`] decides that before
//! a restore starts; and a start offset the broker refuses later is not silently reset either:
//! the reader stops and reports it ([`PartitionReader::out_of_range`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use weir_state::{PartitionExtent, RestoreReason, plan_restore};

use weir_core::error::StreamsError;

/// Why a store's checkpoint `checkpoint` (the offset of the last changelog record it holds) cannot
/// be resumed from in `topic`'s `partition`, or `None` when it can: the plan of
/// [`weir_state::plan_restore`] on the partition's watermarks. A checkpoint at or beyond the
/// reported log end is confirmed by reading the record at `checkpoint` itself before the store is
/// declared stale, because some brokers report the log end low (tansu does after multi-record
/// batches) and some do not refuse an offset beyond it (tansu again: its fetch just answers
/// nothing): the record is there, or the broker refuses the offset, or nothing arrives in
/// `probe` — then it is not there.
pub(crate) fn checkpoint_outside_log(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    checkpoint: i64,
    probe: Duration,
) -> Result<Option<String>, StreamsError> {
    let consumer = strict_consumer(config)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map_err(|source| crate::kafka_error("fetch changelog watermarks", source))?;
    let extent = PartitionExtent {
        partition,
        low,
        high,
    };
    let checkpoints = weir_state::Offsets::from([(partition, checkpoint)]);
    let reason = plan_restore(&checkpoints, &[extent])
        .first()
        .map(|p| p.reason);
    match reason {
        Some(RestoreReason::CheckpointBelowLogStart) => Ok(Some(format!(
            "checkpoint {checkpoint} is below the changelog's start {low} (records the store \
             never saw were deleted)"
        ))),
        Some(RestoreReason::CheckpointBeyondLogEnd) => {
            if holds_offset(&consumer, topic, partition, checkpoint, probe)? {
                Ok(None)
            } else {
                Ok(Some(format!(
                    "checkpoint {checkpoint} is beyond the changelog's end {high} (the topic \
                     was deleted and re-created, or truncated)"
                )))
            }
        }
        _ => Ok(None),
    }
}

/// A restore consumer on `config` that reports an out-of-range start offset instead of resetting
/// it (`auto.offset.reset=error`, see the module doc).
fn strict_consumer(config: &ClientConfig) -> Result<BaseConsumer<ReaderContext>, StreamsError> {
    let mut config = config.clone();
    config.set("auto.offset.reset", "error");
    config
        .create_with_context(ReaderContext)
        .map_err(|source| crate::kafka_error("create restore consumer", source))
}

/// Assigns `tpl` to a reader's consumer.
fn assign(
    inner: &BaseConsumer<ReaderContext>,
    tpl: &TopicPartitionList,
) -> Result<(), StreamsError> {
    inner
        .assign(tpl)
        .map_err(|source| crate::kafka_error("assign restore", source))
}

/// The context of the readers: the end of a partition, which librdkafka also reports as a
/// client-wide error event ("Global error: PartitionEOF"), is how a reader knows it is done, not
/// an error; it is logged at trace level. Other errors are logged as librdkafka's default does.
struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        match error {
            KafkaError::Global(RDKafkaErrorCode::PartitionEOF) => {
                tracing::trace!(reason, "restore consumer: end of partition");
            }
            error => tracing::error!("librdkafka: {error}: {reason}"),
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// Whether `topic`'s `partition` has a record at `offset` or later (see
/// [`checkpoint_outside_log`]).
fn holds_offset(
    consumer: &BaseConsumer<ReaderContext>,
    topic: &str,
    partition: i32,
    offset: i64,
    probe: Duration,
) -> Result<bool, StreamsError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .and_then(|()| consumer.assign(&tpl))
        .map_err(|source| crate::kafka_error("assign changelog probe", source))?;
    let deadline = Instant::now() + probe;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => return Ok(m.offset() >= offset),
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(false),
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
            ))) => return Ok(false),
            Some(Err(source))
                if crate::error_kind(&source) == weir_core::error::ErrorKind::Retriable => {}
            Some(Err(source)) => {
                return Err(crate::kafka_error("changelog probe", source));
            }
            None => {}
        }
    }
    Ok(false)
}

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
    inner: BaseConsumer<ReaderContext>,
    topic: String,
    /// The next offset to read per partition (`None`: from the beginning).
    next: BTreeMap<i32, Option<i64>>,
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
        let inner = strict_consumer(config)?;
        // The watermarks first: they give the progress estimate, and a partition read from its
        // beginning starts at its low watermark, an offset the fetcher can use at once (librdkafka
        // resolving `Offset::Beginning` itself took ~500 ms on tansu before the first fetch).
        let mut tpl = TopicPartitionList::new();
        let mut remaining = 0;
        for (p, o) in start {
            let watermarks = inner
                .fetch_watermarks(topic, *p, Duration::from_secs(5))
                .ok();
            if let Some((low, high)) = watermarks {
                remaining += (high - o.unwrap_or(low).max(low)).max(0);
            }
            let offset = match (o, watermarks) {
                (Some(o), _) => Offset::Offset(*o),
                (None, Some((low, _))) => Offset::Offset(low),
                (None, None) => Offset::Beginning,
            };
            tpl.add_partition_offset(topic, *p, offset)
                .map_err(|source| crate::kafka_error("assign restore", source))?;
        }
        assign(&inner, &tpl)?;
        Ok(PartitionReader {
            inner,
            topic: topic.to_owned(),
            next: start.clone(),
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

    /// The same partitions, read on from where this reader got to by a consumer of `config`
    /// (the global thread's steady consumer after its bootstrap).
    pub(crate) fn reopen(&self, config: &ClientConfig) -> Result<Self, StreamsError> {
        let inner = strict_consumer(config)?;
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &self.next {
            let offset = o.map(Offset::Offset).unwrap_or(Offset::Beginning);
            tpl.add_partition_offset(&self.topic, *p, offset)
                .map_err(|source| crate::kafka_error("assign restore", source))?;
        }
        assign(&inner, &tpl)?;
        Ok(PartitionReader {
            inner,
            topic: self.topic.clone(),
            next: self.next.clone(),
            pending: self.pending.clone(),
            estimated_records: 0,
            out_of_range: false,
        })
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
                    if crate::error_kind(&source) == weir_core::error::ErrorKind::Retriable =>
                {
                    tracing::warn!(error = %source, "restore consumer: retriable error, retrying");
                }
                Some(Err(source)) => {
                    return Err(crate::kafka_error("restore poll", source));
                }
                Some(Ok(m)) => {
                    n += 1;
                    if let Some(next) = self.next.get_mut(&m.partition()) {
                        *next = Some(m.offset() + 1);
                    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::client::restore_consumer_config;
    use crate::embedded::EmbeddedBroker;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    use weir_core::config::StreamsConfig;

    /// A changelog partition with offsets 0..5 on librdkafka's mock cluster, and the restore
    /// consumer config a worker would use for it.
    fn changelog() -> (EmbeddedBroker, ClientConfig) {
        let broker = EmbeddedBroker::start(1).unwrap();
        broker.create_topic("cl", 1).unwrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap_servers())
            .create()
            .unwrap();
        for i in 0..5 {
            let key = format!("k{i}");
            producer
                .send(BaseRecord::to("cl").partition(0).key(&key).payload("v"))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        let mut config = StreamsConfig::new("probe");
        config.bootstrap_servers = broker.bootstrap_servers();
        (broker, restore_consumer_config(&config))
    }

    #[test]
    fn a_checkpoint_inside_the_log_is_resumed_from() {
        let (_broker, config) = changelog();
        for c in [0, 2, 4] {
            let why = checkpoint_outside_log(&config, "cl", 0, c, Duration::from_secs(2)).unwrap();
            assert_eq!(why, None, "checkpoint {c}");
        }
    }

    #[test]
    fn a_checkpoint_beyond_the_log_end_says_so() {
        let (_broker, config) = changelog();
        for c in [5, 9, 1_000] {
            let why = checkpoint_outside_log(&config, "cl", 0, c, Duration::from_secs(2))
                .unwrap()
                .unwrap_or_else(|| panic!("checkpoint {c} passed"));
            assert!(
                why.contains(&format!("checkpoint {c} is beyond the changelog's end 5")),
                "{why}"
            );
        }
    }

    #[test]
    fn a_reader_started_beyond_the_log_end_stops_and_says_so() {
        let (_broker, config) = changelog();
        let mut reader =
            PartitionReader::new(&config, "cl", &BTreeMap::from([(0, Some(9))])).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reader.out_of_range() && Instant::now() < deadline {
            reader.read(Duration::from_millis(200), |_| Ok(())).unwrap();
        }
        assert!(reader.out_of_range(), "no out-of-range report in 10 s");
        assert!(!reader.caught_up());
        // From the beginning, the same partition reads all five records.
        let mut reader = PartitionReader::new(&config, "cl", &BTreeMap::from([(0, None)])).unwrap();
        let mut n = 0;
        while !reader.caught_up() && Instant::now() < deadline {
            n += reader.read(Duration::from_millis(200), |_| Ok(())).unwrap();
        }
        assert_eq!(n, 5);
    }
}
