//! The stream thread's group consumer and the rebalance callbacks that drive its tasks.
//!
//! librdkafka calls the rebalance callbacks inside `poll`. The listener runs there: on
//! revocation it commits and closes the revoked tasks before the partitions go (commit offsets
//! for partitions we no longer own would be rejected); on assignment it records the new
//! partitions, and the thread creates and restores their tasks after `poll` returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, ConsumerGroupMetadata, Rebalance,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::metrics::consumer::ConsumerMetrics;
use crate::status::WorkerStatus;
use weir_core::error::StreamsError;
use weir_core::record::Headers;

/// A partition of a topic.
pub(crate) type TopicPartition = (String, i32);

/// What the consumer offers to rebalance listeners: committing and group metadata.
pub(crate) trait GroupHandle {
    fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<(), StreamsError>;
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata>;
    /// Moves the fetch position of `partitions` back to their committed offsets (the
    /// beginning where nothing is committed).
    fn rewind(&self, partitions: &[TopicPartition]) -> Result<(), StreamsError>;
}

/// Reacts to partitions moving; called inside `poll`.
pub(crate) trait RebalanceListener: Send + Sync {
    fn on_revoked(&self, group: &dyn GroupHandle, partitions: &[TopicPartition]);
    fn on_assigned(&self, partitions: &[TopicPartition]);
}

pub(crate) struct RebalanceContext {
    listener: Arc<dyn RebalanceListener>,
    metrics: ConsumerMetrics,
    /// Whether no broker is reachable (`AllBrokersDown` seen, no broker up since).
    broker_down: AtomicBool,
    status: WorkerStatus,
    /// End offset per partition, from librdkafka's statistics (`statistics.interval.ms`).
    ends: Arc<std::sync::Mutex<std::collections::HashMap<TopicPartition, i64>>>,
}

impl RebalanceContext {
    /// A broker is in state `UP` again (librdkafka's statistics): clears an outage.
    fn broker_up(&self) {
        if self.broker_down.swap(false, Ordering::Relaxed) {
            tracing::info!("a broker is reachable again");
            self.status.broker_reachable();
        }
    }
}

impl ClientContext for RebalanceContext {
    /// librdkafka's errors: it reconnects by itself (with `reconnect.backoff.ms` growing to
    /// `reconnect.backoff.max.ms`); an outage of every broker is logged once and shown by
    /// `/ready` until a broker answers again.
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                if !self.broker_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        reason,
                        "every broker is unreachable; librdkafka retries with backoff"
                    );
                }
                self.status.broker_unreachable(reason);
            }
            Some(RDKafkaErrorCode::BrokerTransportFailure) => {
                tracing::warn!(reason, "lost a broker connection; reconnecting");
            }
            _ => tracing::error!("librdkafka: {error}: {reason}"),
        }
    }

    /// librdkafka's statistics (every `statistics.interval.ms`): the consumer lag gauges and
    /// the end offsets the state endpoint reports.
    fn stats(&self, statistics: rdkafka::Statistics) {
        self.metrics.stats(&statistics);
        if self.broker_down.load(Ordering::Relaxed)
            && statistics
                .brokers
                .values()
                // Real brokers only: librdkafka's logical ones (the group coordinator's handle)
                // report their own state.
                .any(|b| b.nodeid >= 0 && b.source != "logical" && b.state == "UP")
        {
            self.broker_up();
        }
        let Ok(mut ends) = self.ends.lock() else {
            return;
        };
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; a negative offset is unknown.
                if partition >= 0 && p.hi_offset >= 0 {
                    ends.insert((topic.clone(), partition), p.hi_offset);
                }
            }
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl GroupHandle for BaseConsumer<RebalanceContext> {
    fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<(), StreamsError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in offsets {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))
                .map_err(|source| crate::kafka_error("build offsets", source))?;
        }
        self.commit(&tpl, CommitMode::Sync)
            .map_err(|source| crate::kafka_error("commit offsets", source))
    }

    fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        rdkafka::consumer::Consumer::group_metadata(self)
    }

    fn rewind(&self, partitions: &[TopicPartition]) -> Result<(), StreamsError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        let committed = self
            .committed_offsets(tpl, Duration::from_secs(30))
            .map_err(|source| crate::kafka_error("read committed offsets", source))?;
        for e in committed.elements() {
            let to = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            self.seek(e.topic(), e.partition(), to, Duration::from_secs(10))
                .map_err(|source| crate::kafka_error("rewind to the committed offset", source))?;
        }
        Ok(())
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.listener.on_revoked(consumer, &partitions(tpl));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // One count per rebalance that reaches this consumer (its assignment, possibly
            // empty or incremental), not one per callback.
            self.metrics.rebalance();
            self.listener.on_assigned(&partitions(tpl));
        }
    }
}

/// One polled record, borrowed from the consumer.
pub(crate) struct Polled<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Headers,
}

/// The group consumer of one stream thread.
pub(crate) struct GroupConsumer {
    inner: BaseConsumer<RebalanceContext>,
}

impl GroupConsumer {
    pub(crate) fn new(
        config: &ClientConfig,
        listener: Arc<dyn RebalanceListener>,
        topics: &[&str],
        status: WorkerStatus,
    ) -> Result<Self, StreamsError> {
        // The group id is the application id.
        let metrics = ConsumerMetrics::new(config.get("group.id").unwrap_or_default());
        let inner: BaseConsumer<RebalanceContext> = config
            .create_with_context(RebalanceContext {
                listener,
                metrics,
                broker_down: AtomicBool::new(false),
                status,
                ends: Arc::default(),
            })
            .map_err(|source| crate::kafka_error("create consumer", source))?;
        inner
            .subscribe(topics)
            .map_err(|source| crate::kafka_error("subscribe", source))?;
        Ok(GroupConsumer { inner })
    }

    /// The consumer as its group handle (commits, rewinds).
    pub(crate) fn group(&self) -> &dyn GroupHandle {
        &self.inner
    }

    /// Polls one record (rebalance callbacks run in here). `Ok(None)`: nothing within `timeout`.
    pub(crate) fn poll<R>(
        &self,
        timeout: Duration,
        f: impl FnOnce(Polled<'_>) -> R,
    ) -> Result<Option<R>, StreamsError> {
        match self.inner.poll(timeout) {
            None => Ok(None),
            // Transport errors (broker down, coordinator moving) are reported through poll;
            // librdkafka reconnects by itself, so the thread keeps polling.
            // A lost membership (Fenced) too: librdkafka rejoins by itself on the next polls.
            Some(Err(source))
                if matches!(
                    crate::error_kind(&source),
                    weir_core::error::ErrorKind::Retriable | weir_core::error::ErrorKind::Fenced
                ) =>
            {
                tracing::warn!(error = %source, "consumer: retriable error, retrying");
                Ok(None)
            }
            Some(Err(source)) => Err(crate::kafka_error("poll", source)),
            // Records already fetched still come out during an outage: only librdkafka's
            // statistics (a broker in state UP) end one.
            Some(Ok(m)) => Ok(Some(f(polled(&m)))),
        }
    }

    pub(crate) fn handle(&self) -> &dyn GroupHandle {
        &self.inner
    }

    /// Stops fetching from `partitions` (tasks restoring) or starts again.
    pub(crate) fn set_paused(
        &self,
        partitions: &[TopicPartition],
        paused: bool,
    ) -> Result<(), StreamsError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        let r = if paused {
            self.inner.pause(&tpl)
        } else {
            self.inner.resume(&tpl)
        };
        r.map_err(|source| crate::kafka_error("pause/resume", source))
    }

    /// The partition's end offset as librdkafka's last statistics report gave it (no request);
    /// `None` before the first report.
    pub(crate) fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let ends = self.inner.context().ends.lock().ok()?;
        ends.get(&(topic.to_owned(), partition)).copied()
    }

    /// Records of `topic`/`partition` on the broker from `next_offset` on (the offset after the
    /// last record fetched; `None`: nothing fetched yet, then the group's committed offset
    /// `start`, else the partition's first offset, where `auto.offset.reset=earliest` starts),
    /// from what librdkafka's last fetch response said (no request); `None` when not known yet.
    pub(crate) fn lag(
        &self,
        topic: &str,
        partition: i32,
        next_offset: Option<i64>,
        start: Option<i64>,
    ) -> Option<i64> {
        let (low, high) =
            crate::watermarks::cached_watermarks(self.inner.client(), topic, partition)?;
        let next = next_offset.or(start).unwrap_or(low).max(low);
        Some(high.saturating_sub(next).max(0))
    }

    /// The group's committed offsets of `partitions` (a request to the coordinator); a
    /// partition without one is left out.
    pub(crate) fn committed(&self, partitions: &[TopicPartition]) -> HashMap<TopicPartition, i64> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        match self.inner.committed_offsets(tpl, Duration::from_secs(10)) {
            Ok(got) => got
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some(((e.topic().to_owned(), e.partition()), o)),
                    _ => None,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading committed offsets failed; an ordered task waits for its first fetches");
                HashMap::new()
            }
        }
    }

    /// Moves the fetch position of a partition back (a record arrived for a task still restoring).
    pub(crate) fn seek(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StreamsError> {
        self.inner
            .seek(
                topic,
                partition,
                Offset::Offset(offset),
                Duration::from_secs(10),
            )
            .map_err(|source| crate::kafka_error("seek", source))
    }

    /// Leaves the group (revocation callbacks run).
    pub(crate) fn close(&self) {
        self.inner.unsubscribe();
        // Serve the resulting rebalance callbacks.
        for _ in 0..10 {
            if self.inner.poll(Duration::from_millis(100)).is_none()
                && self
                    .inner
                    .assignment()
                    .map(|a| a.count() == 0)
                    .unwrap_or(true)
            {
                break;
            }
        }
    }
}

fn polled<'a>(m: &'a BorrowedMessage<'a>) -> Polled<'a> {
    let headers = match m.headers() {
        Some(h) => h
            .iter()
            .map(|h| (h.key, h.value.map(<[u8]>::to_vec)))
            .collect(),
        None => Headers::new(),
    };
    Polled {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis().unwrap_or(0),
        key: m.key(),
        value: m.payload(),
        headers,
    }
}
