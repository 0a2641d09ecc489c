//! A small Kafka client surface for tools (`weir produce`, `weir forbid`, demos): write records,
//! read a whole topic, create topics — without rdkafka leaving this module.
//!
//! Owns: [`RecordWriter`] (an idempotent producer that counts deliveries), [`read_topic`] (every
//! partition from the beginning to its end) and [`ensure_topics`]. Does not own: the stream
//! threads' clients (`producer`, `consumer`, `restore`), which it reuses where it can: client
//! configs from `client`, topic creation from `admin`, reading to the end from `restore`.
//!
//! Invariants: topics are never created by asking for their metadata (some brokers, tansu among
//! them, auto-create a topic that a metadata request names): existence is checked on the
//! metadata of all topics, and missing topics are created explicitly. Calls block the calling
//! thread; use them from plain threads, never a tokio worker.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};

use super::admin::{self, CleanupPolicy};
use super::client::{producer_config, restore_consumer_config};
use super::restore::PartitionReader;
use weir_core::config::StreamsConfig;
use weir_core::error::StreamsError;

/// The `application.id` tools' clients are named after (`weir-tools-producer`, ...).
const TOOLS_APPLICATION: &str = "weir-tools";

/// A [`StreamsConfig`] for tool clients of `bootstrap_servers`.
fn tools_config(bootstrap_servers: &str) -> Result<StreamsConfig, StreamsError> {
    StreamsConfig::new(TOOLS_APPLICATION).with("bootstrap.servers", bootstrap_servers)
}

/// Delivery counts, filled by the producer's delivery callback.
#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
    /// The first delivery error not yet reported by [`RecordWriter::flush`].
    first_error: Mutex<Option<String>>,
}

struct CountingContext(Arc<Counts>);

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.0.first_error.lock()
                    && first.is_none()
                {
                    *first = Some(format!(
                        "delivery to {}[{}] failed: {e}",
                        m.topic(),
                        m.partition()
                    ));
                }
            }
        }
    }
}

/// An idempotent producer (`acks=all`, Java's partitioner: the stream threads' producer
/// settings) for tools. [`RecordWriter::send`] waits while librdkafka's local queue is full
/// instead of failing; deliveries and failures are counted by the delivery callback, and
/// [`RecordWriter::flush`] reports the first failure.
pub struct RecordWriter {
    inner: ThreadedProducer<CountingContext>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for RecordWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("delivered", &self.delivered())
            .field("failed", &self.failed())
            .finish()
    }
}

impl RecordWriter {
    /// A producer for `bootstrap_servers` (`host:port[,host:port...]`). librdkafka connects
    /// lazily: an unreachable broker shows as failed deliveries, not here.
    pub fn new(bootstrap_servers: &str) -> Result<RecordWriter, StreamsError> {
        Self::for_config(&tools_config(bootstrap_servers)?)
    }

    /// A producer with a worker's client settings (security and librdkafka pass-through
    /// properties included).
    pub fn for_config(config: &StreamsConfig) -> Result<RecordWriter, StreamsError> {
        let counts = Arc::new(Counts::default());
        let inner = producer_config(config, None)
            .create_with_context(CountingContext(counts.clone()))
            .map_err(|source| crate::kafka_error("create producer", source))?;
        Ok(RecordWriter { inner, counts })
    }

    /// Queues one record (`value: None` is a tombstone), waiting while the local queue is full.
    /// A record that cannot be delivered counts in [`RecordWriter::failed`] (librdkafka gives up
    /// after its `message.timeout.ms`, which also bounds the wait here).
    pub fn send(&self, topic: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StreamsError> {
        self.send_record(topic, Some(key), value)
    }

    /// As [`RecordWriter::send`]; `key: None` sends a record without a key (as producers such
    /// as Faust's do by default).
    pub fn send_record(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), StreamsError> {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    // The producer's own thread serves delivery reports; just give it time.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((source, _)) => {
                    return Err(crate::kafka_error("produce", source));
                }
            }
        }
    }

    /// Waits up to `timeout` until every queued record is delivered or has failed; an error if
    /// some did not finish in time, or if a delivery failed since the last flush.
    pub fn flush(&self, timeout: Duration) -> Result<(), StreamsError> {
        self.inner
            .flush(timeout)
            .map_err(|source| crate::kafka_error("flush producer", source))?;
        let first = self
            .counts
            .first_error
            .lock()
            .map_err(|_| StreamsError::Internal("delivery lock poisoned".into()))?
            .take();
        match first {
            Some(message) => Err(StreamsError::Production(format!(
                "{message} ({} records failed in all)",
                self.failed()
            ))),
            None => Ok(()),
        }
    }

    /// Records the broker acknowledged so far.
    pub fn delivered(&self) -> u64 {
        self.counts.delivered.load(Ordering::Relaxed)
    }

    /// Records that could not be delivered so far.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Records queued or in flight, not yet delivered or failed.
    pub fn in_flight(&self) -> u64 {
        u64::try_from(self.inner.in_flight_count()).unwrap_or(0)
    }
}

/// Creates the topics of `topics` (name, partitions, cleanup policy) that do not exist yet and
/// waits until the metadata shows them; existing topics are left as they are. Returns every
/// listed topic's partition count.
pub fn ensure_topics(
    bootstrap_servers: &str,
    topics: &[(&str, i32, CleanupPolicy)],
    timeout: Duration,
) -> Result<BTreeMap<String, i32>, StreamsError> {
    let config = tools_config(bootstrap_servers)?;
    let deadline = Instant::now() + timeout;
    admin::create_topics(&config, topics, timeout)?;
    let mut counts = BTreeMap::new();
    for (topic, partitions, _) in topics {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = admin::partition_count(&config, topic, left.max(Duration::from_secs(1)))?;
        counts.insert((*topic).to_owned(), n.unwrap_or(*partitions));
    }
    Ok(counts)
}

/// The partition count of `topic`, `None` when it does not exist (it is not created).
pub fn topic_partitions(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Option<i32>, StreamsError> {
    admin::partition_count(&tools_config(bootstrap_servers)?, topic, timeout)
}

/// One record of a topic: key and value (`None` = null).
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of `topic`, reading each partition from the beginning to its end (the end is the
/// partition EOF, as in restore), partition by partition in offset order. A topic that does not
/// exist reads as empty and is not created; `timeout` bounds the whole read.
pub fn read_topic(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<KeyValue>, StreamsError> {
    let deadline = Instant::now() + timeout;
    let config = tools_config(bootstrap_servers)?;
    let Some(partitions) = admin::partition_count(&config, topic, timeout)? else {
        return Ok(Vec::new());
    };
    let start: BTreeMap<i32, Option<i64>> = (0..partitions).map(|p| (p, None)).collect();
    let mut reader = PartitionReader::new(&restore_consumer_config(&config), topic, &start)?;
    let mut by_partition: BTreeMap<i32, Vec<(i64, KeyValue)>> = BTreeMap::new();
    loop {
        reader.read(Duration::from_millis(200), |r| {
            by_partition.entry(r.partition).or_default().push((
                r.offset,
                (r.key.map(<[u8]>::to_vec), r.value.map(<[u8]>::to_vec)),
            ));
            Ok(())
        })?;
        if reader.caught_up() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(crate::kafka_error(
                "read topic to its end",
                KafkaError::MessageConsumption(RDKafkaErrorCode::OperationTimedOut),
            ));
        }
    }
    Ok(by_partition
        .into_values()
        .flat_map(|mut records| {
            records.sort_by_key(|(offset, _)| *offset);
            records.into_iter().map(|(_, kv)| kv)
        })
        .collect())
}
