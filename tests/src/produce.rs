//! Producing test input: [`produce`] (idempotent producer, murmur2 partitioning as the Java
//! client and weir's own producer, every delivery checked) and a [`TransactionalProducer`] for
//! tests of read-committed isolation.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{
    BaseProducer, BaseRecord, Producer as _, ProducerContext, ThreadedProducer,
};

const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where one produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// Collects delivery reports by record index.
#[derive(Default)]
struct Reports {
    delivered: Mutex<Vec<Option<Result<Delivered, String>>>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let r = match result {
            Ok(m) => Ok(Delivered {
                partition: m.partition(),
                offset: m.offset(),
            }),
            Err((e, _)) => Err(e.to_string()),
        };
        let mut d = self.delivered.lock().unwrap_or_else(|p| p.into_inner());
        if d.len() <= index {
            d.resize(index + 1, None);
        }
        d[index] = Some(r);
    }
}

fn producer_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        // The Java client's partitioner (and weir's): a key always lands in
        // murmur2(key) % partitions; null keys spread randomly.
        .set("partitioner", "murmur2_random")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    c
}

/// Sends `records` (key, value; `None` is null) to `topic`, waits until all are acknowledged
/// and returns where each landed, in input order.
///
/// # Panics
/// On any send or delivery failure, naming the record.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
) -> Vec<Delivered> {
    let producer: BaseProducer<Reports> = producer_config(bootstrap)
        .create_with_context(Reports::default())
        .unwrap_or_else(|e| panic!("cannot create a producer for {bootstrap}: {e}"));
    let sent = send_indexed(&producer, topic, 0, records);
    producer
        .flush(FLUSH_TIMEOUT)
        .unwrap_or_else(|e| panic!("flushing {sent} records to `{topic}`: {e}"));
    collect_reports(producer.context(), topic, sent)
}

fn collect_reports(reports: &Reports, topic: &str, sent: usize) -> Vec<Delivered> {
    let d = reports.delivered.lock().unwrap_or_else(|p| p.into_inner());
    (0..sent)
        .map(|i| match d.get(i).cloned().flatten() {
            Some(Ok(at)) => at,
            Some(Err(e)) => panic!("record #{i} to `{topic}` was not delivered: {e}"),
            None => panic!("record #{i} to `{topic}`: no delivery report after flush"),
        })
        .collect()
}

/// The partition the Java client's default partitioner (and librdkafka's `murmur2_random`)
/// picks for a non-null `key` among `partitions`: the engine's own partitioner (its unit test
/// holds Kafka's `UtilsTest.testMurmur2` vectors).
pub fn murmur2_partition(key: &[u8], partitions: usize) -> i32 {
    weir_engine::kafka::partitioner::partition_of(key, partitions as i32)
}

/// A transactional producer: `begin`, `send`, then `commit` or `abort`.
pub struct TransactionalProducer {
    // Threaded: `abort_transaction` needs delivery reports served while it waits.
    producer: ThreadedProducer<Reports>,
    transactional_id: String,
    sent: usize,
}

impl std::fmt::Debug for TransactionalProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("transactional_id", &self.transactional_id)
            .finish()
    }
}

impl TransactionalProducer {
    /// Creates the producer and runs `init_transactions` (fencing earlier producers with the same
    /// id).
    pub fn new(bootstrap: &str, transactional_id: &str) -> TransactionalProducer {
        let producer: ThreadedProducer<Reports> = producer_config(bootstrap)
            .set("transactional.id", transactional_id)
            .set("transaction.timeout.ms", "60000")
            .create_with_context(Reports::default())
            .unwrap_or_else(|e| {
                panic!("cannot create transactional producer `{transactional_id}`: {e}")
            });
        producer
            .init_transactions(TXN_TIMEOUT)
            .unwrap_or_else(|e| panic!("init_transactions of `{transactional_id}`: {e}"));
        TransactionalProducer {
            producer,
            transactional_id: transactional_id.to_owned(),
            sent: 0,
        }
    }

    /// Begins a transaction.
    pub fn begin(&mut self) {
        self.producer
            .begin_transaction()
            .unwrap_or_else(|e| panic!("begin_transaction of `{}`: {e}", self.transactional_id));
        self.producer
            .context()
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.sent = 0;
    }

    /// Sends records within the open transaction (not yet acknowledged).
    pub fn send(
        &mut self,
        topic: &str,
        records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
    ) {
        // Indexes continue across calls within one transaction.
        self.sent += send_indexed(&self.producer, topic, self.sent, records);
    }

    /// Flushes and commits the open transaction; returns where the records landed.
    pub fn commit(&mut self) -> Vec<Delivered> {
        // Flush first: it serves the delivery reports, which commit_transaction does not.
        self.producer
            .flush(FLUSH_TIMEOUT)
            .unwrap_or_else(|e| panic!("flush of `{}`: {e}", self.transactional_id));
        self.producer
            .commit_transaction(TXN_TIMEOUT)
            .unwrap_or_else(|e| panic!("commit_transaction of `{}`: {e}", self.transactional_id));
        collect_reports(self.producer.context(), &self.transactional_id, self.sent)
    }

    /// Flushes the records sent so far (so they are on the broker) without ending the
    /// transaction.
    pub fn flush(&mut self) -> Vec<Delivered> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .unwrap_or_else(|e| panic!("flush of `{}`: {e}", self.transactional_id));
        collect_reports(self.producer.context(), &self.transactional_id, self.sent)
    }

    /// Aborts the open transaction.
    pub fn abort(&mut self) {
        self.producer
            .abort_transaction(TXN_TIMEOUT)
            .unwrap_or_else(|e| panic!("abort_transaction of `{}`: {e}", self.transactional_id));
    }
}

/// The two producers `send_indexed` feeds.
trait Send_ {
    #[allow(clippy::result_large_err)]
    fn send<'a>(
        &self,
        r: BaseRecord<'a, [u8], [u8], usize>,
    ) -> Result<(), (KafkaError, BaseRecord<'a, [u8], [u8], usize>)>;
    fn poll(&self, timeout: Duration);
}

impl Send_ for BaseProducer<Reports> {
    fn send<'a>(
        &self,
        r: BaseRecord<'a, [u8], [u8], usize>,
    ) -> Result<(), (KafkaError, BaseRecord<'a, [u8], [u8], usize>)> {
        BaseProducer::send(self, r)
    }
    fn poll(&self, timeout: Duration) {
        BaseProducer::poll(self, timeout);
    }
}

impl Send_ for ThreadedProducer<Reports> {
    fn send<'a>(
        &self,
        r: BaseRecord<'a, [u8], [u8], usize>,
    ) -> Result<(), (KafkaError, BaseRecord<'a, [u8], [u8], usize>)> {
        ThreadedProducer::send(self, r)
    }
    fn poll(&self, _timeout: Duration) {
        // Its own thread polls; give it a moment when the queue is full.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends every record, numbered from `first` (the delivery report's index), polling (which
/// serves delivery reports) whenever the queue is full; returns how many it sent.
fn send_indexed(
    producer: &impl Send_,
    topic: &str,
    first: usize,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
) -> usize {
    let mut n = 0;
    for (j, (key, value)) in records.into_iter().enumerate() {
        let i = first + j;
        let mut record = BaseRecord::with_opaque_to(topic, i);
        if let Some(k) = &key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &value {
            record = record.payload(v.as_slice());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => panic!("send record #{i} (key {key:?}) to `{topic}`: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
        n = j + 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `toPositive(murmur2("21")) % 3` (the murmur2 vectors are in the engine's test).
    #[test]
    fn murmur2_matches_the_java_client() {
        // toPositive(-973932308) % 3
        assert_eq!(
            murmur2_partition(b"21", 3),
            ((-973_932_308_i32 & 0x7fff_ffff) % 3)
        );
    }
}
