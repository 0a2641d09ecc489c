//! The stream thread's producer: outputs, changelog records, dead letters, and — under
//! exactly-once — the transaction that also carries the input offsets.
//!
//! Delivery is tracked through the producer context: the first delivery error is kept and fails
//! the next flush or commit (records are never silently dropped); the highest offset delivered per
//! changelog partition is kept for the stores' checkpoints (commit step 4).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::error::ErrorKind;

use weir_core::error::StreamsError;
use weir_core::record::Headers;

use crate::status::WorkerStatus;

/// How long `send` waits for room in a full local queue.
const QUEUE_FULL_WAIT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Deliveries {
    first_error: Mutex<Option<String>>,
    /// Highest delivered offset per (topic, partition), for tracked (changelog) topics only.
    offsets: Mutex<HashMap<(String, i32), i64>>,
}

struct DeliveryContext {
    deliveries: Arc<Deliveries>,
    /// Topics whose delivered offsets are tracked.
    tracked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// Where an outage of every broker is shown (`/ready`): a thread waiting on a full producer
    /// queue polls no consumer, so the producer reports it too.
    status: WorkerStatus,
}

impl ClientContext for DeliveryContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            tracing::warn!(reason, "producer: every broker is unreachable; retrying");
            self.status.broker_unreachable(reason);
        } else {
            tracing::error!("librdkafka (producer): {error}: {reason}");
        }
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                if (self.tracked)(m.topic())
                    && let Ok(mut offsets) = self.deliveries.offsets.lock()
                {
                    let e = offsets
                        .entry((m.topic().to_owned(), m.partition()))
                        .or_insert(-1);
                    *e = (*e).max(m.offset());
                }
            }
            Err((e, m)) => {
                if let Ok(mut first) = self.deliveries.first_error.lock()
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

fn kafka(operation: &'static str) -> impl FnOnce(KafkaError) -> StreamsError {
    move |source| crate::kafka_error(operation, source)
}

/// A producer shared by a stream thread's tasks and their changelog sinks.
pub(crate) struct Producer {
    inner: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    transactional: bool,
    in_transaction: AtomicBool,
    timeout: Duration,
}

impl Producer {
    /// Creates the producer; `transactional` needs `transactional.id` in `config` and
    /// initializes transactions (fencing older producers with the same id).
    pub(crate) fn new(
        config: &ClientConfig,
        transactional: bool,
        tracked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
        timeout: Duration,
        status: WorkerStatus,
    ) -> Result<Arc<Self>, StreamsError> {
        let deliveries = Arc::new(Deliveries::default());
        let ctx = DeliveryContext {
            deliveries: deliveries.clone(),
            tracked,
            status,
        };
        let inner: ThreadedProducer<DeliveryContext> = config
            .create_with_context(ctx)
            .map_err(kafka("create producer"))?;
        if transactional {
            inner
                .init_transactions(timeout)
                .map_err(kafka("init transactions"))?;
        }
        Ok(Arc::new(Producer {
            inner,
            deliveries,
            transactional,
            in_transaction: AtomicBool::new(false),
            timeout,
        }))
    }

    /// Whether this is an exactly-once (transactional) producer.
    pub(crate) fn is_transactional(&self) -> bool {
        self.transactional
    }

    fn ensure_transaction(&self) -> Result<(), StreamsError> {
        if self.transactional
            && !self.in_transaction.swap(true, Ordering::AcqRel)
            && let Err(e) = self.inner.begin_transaction()
        {
            self.in_transaction.store(false, Ordering::Release);
            return Err(self.produce_error("begin transaction", e));
        }
        Ok(())
    }

    /// Queues one record; waits while the local queue is full.
    pub(crate) fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<(), StreamsError> {
        self.ensure_transaction()?;
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if timestamp >= 0 {
            record = record.timestamp(timestamp);
        }
        if !headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(headers.len());
            for (key, value) in headers.iter() {
                h = h.insert(Header { key, value });
            }
            record = record.headers(h);
        }
        // The deadline is read only when the queue is full (not once per record). A full queue
        // means the broker is slow or unreachable: wait as long as librdkafka keeps records
        // before expiring them (`message.timeout.ms`, 300 s by default), as Kafka Streams
        // retries a task for `task.timeout.ms`, rather than failing the thread after a minute.
        let mut deadline = None;
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                    if Instant::now()
                        < *deadline.get_or_insert_with(|| Instant::now() + QUEUE_FULL_WAIT) =>
                {
                    record = r;
                    self.inner.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(self.produce_error("produce", e)),
            }
        }
    }

    /// A failed produce or begin: for a transactional producer in an unusable state (fenced,
    /// fatal, or refusing to produce after its transaction failed) the error is
    /// [`ErrorKind::Fenced`]: the thread re-creates the producer and rewinds (exactly-once).
    fn produce_error(&self, operation: &'static str, e: KafkaError) -> StreamsError {
        let unusable = matches!(
            e.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::State
                    | RDKafkaErrorCode::Fatal
                    | RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
            )
        );
        if self.transactional && (unusable || matches!(e, KafkaError::Transaction(_))) {
            StreamsError::Kafka {
                operation,
                kind: ErrorKind::Fenced,
                source: Box::new(e),
            }
        } else {
            crate::kafka_error(operation, e)
        }
    }

    fn check_deliveries(&self) -> Result<(), StreamsError> {
        let first = self
            .deliveries
            .first_error
            .lock()
            .map_err(|_| StreamsError::Internal("delivery lock poisoned".into()))?
            .take();
        match first {
            Some(message) => Err(StreamsError::Production(message)),
            None => Ok(()),
        }
    }

    /// Waits until every queued record is delivered (at-least-once commit step 2).
    pub(crate) fn flush(&self) -> Result<(), StreamsError> {
        self.inner
            .flush(self.timeout)
            .map_err(kafka("flush producer"))?;
        self.check_deliveries()
    }

    /// Exactly-once commit: adds `offsets` (next offsets to read) to the open transaction and
    /// commits it (steps 2 and 3 at once).
    pub(crate) fn commit_transaction(
        &self,
        offsets: &[(String, i32, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<(), StreamsError> {
        if offsets.is_empty() && !self.in_transaction.load(Ordering::Acquire) {
            return Ok(());
        }
        self.ensure_transaction()?;
        if !offsets.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (t, p, o) in offsets {
                tpl.add_partition_offset(t, *p, Offset::Offset(*o))
                    .map_err(kafka("build offsets"))?;
            }
            self.inner
                .send_offsets_to_transaction(&tpl, group, self.timeout)
                .map_err(kafka("send offsets to transaction"))?;
        }
        self.inner
            .commit_transaction(self.timeout)
            .map_err(kafka("commit transaction"))?;
        self.in_transaction.store(false, Ordering::Release);
        self.check_deliveries()
    }

    /// Aborts the open transaction, if any.
    pub(crate) fn abort_transaction(&self) -> Result<(), StreamsError> {
        if self.in_transaction.swap(false, Ordering::AcqRel) {
            self.inner
                .abort_transaction(self.timeout)
                .map_err(kafka("abort transaction"))?;
        }
        Ok(())
    }

    /// Highest delivered offset of each tracked (changelog) partition since the last call.
    pub(crate) fn take_delivered_offsets(&self) -> HashMap<(String, i32), i64> {
        self.deliveries
            .offsets
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}
