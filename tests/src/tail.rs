//! [`TopicTail`]: follows a topic from the beginning of every partition and keeps what it read,
//! for tests that watch an output grow (poll its size, wait for a condition, kill a worker
//! half-way) without re-reading the whole topic each time as [`crate::consume_all`] does.
//!
//! [`TopicTail::uncommitted`] reads through librdkafka (`read_uncommitted`);
//! [`TopicTail::committed`] through the harness's own Fetch client, which computes the
//! read-committed view a correct broker gives (tansu 0.6 does not filter aborted transactions)
//! and also shows the records of aborted and still-open transactions ([`TopicTail::txn_view`]).

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};

use crate::admin::partition_count;
use crate::consume::Consumed;
use crate::wire::{RawReader, TxnView};

enum Source {
    Uncommitted(Box<BaseConsumer>),
    Committed(Box<RawReader>),
}

/// A topic followed from its beginning; see the module doc.
pub struct TopicTail {
    topic: String,
    bootstrap: String,
    source: Source,
    records: Vec<Consumed>,
}

impl std::fmt::Debug for TopicTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicTail")
            .field("topic", &self.topic)
            .field("committed", &matches!(self.source, Source::Committed(_)))
            .field("records", &self.records.len())
            .finish()
    }
}

impl TopicTail {
    /// Follows `topic` read-uncommitted (every record written, aborted or not).
    ///
    /// # Panics
    /// When the topic is unknown or the consumer cannot be created.
    pub fn uncommitted(bootstrap: &str, topic: &str) -> TopicTail {
        let partitions = partition_count(bootstrap, topic);
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("log_level", "3")
            // Never used to join: partitions are assigned, offsets never committed.
            .set("group.id", crate::unique_name("weir-tests-tail"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("fetch.wait.max.ms", "100")
            .set("isolation.level", "read_uncommitted")
            .create()
            .unwrap_or_else(|e| panic!("cannot create a consumer for {bootstrap}: {e}"));
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap_or_else(|e| panic!("assignment of {topic}/{p}: {e}"));
        }
        consumer
            .assign(&tpl)
            .unwrap_or_else(|e| panic!("assign {partitions} partitions of `{topic}`: {e}"));
        TopicTail {
            topic: topic.to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Source::Uncommitted(Box::new(consumer)),
            records: Vec::new(),
        }
    }

    /// Follows `topic` read-committed, as a correct broker shows it (see the module doc).
    ///
    /// # Panics
    /// When the topic is unknown or the broker cannot be reached.
    pub fn committed(bootstrap: &str, topic: &str) -> TopicTail {
        let partitions = partition_count(bootstrap, topic);
        let reader = RawReader::connect(bootstrap, topic, partitions)
            .unwrap_or_else(|e| panic!("read-committed reader for `{topic}` on {bootstrap}: {e}"));
        TopicTail {
            topic: topic.to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Source::Committed(Box::new(reader)),
            records: Vec::new(),
        }
    }

    /// The topic followed.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads what arrives within about `budget`; returns how many records became visible.
    /// Read-uncommitted: records in the order read (partitions interleaved). Read-committed: the
    /// whole visible view is recomputed, per partition in offset order, partitions in order.
    ///
    /// # Panics
    /// When a fetch fails.
    pub fn poll(&mut self, budget: Duration) -> usize {
        let before = self.records.len();
        let deadline = Instant::now() + budget;
        match &mut self.source {
            Source::Uncommitted(consumer) => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match consumer.poll(left.min(Duration::from_millis(100))) {
                    Some(Ok(m)) => {
                        let headers = m
                            .headers()
                            .map(|hs| {
                                hs.iter()
                                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        self.records.push(Consumed {
                            partition: m.partition(),
                            offset: m.offset(),
                            key: m.key().map(<[u8]>::to_vec),
                            value: m.payload().map(<[u8]>::to_vec),
                            headers,
                            timestamp: m.timestamp().to_millis(),
                        });
                    }
                    // librdkafka reports lost connections (a broker restarting) as errors of the
                    // stream and reconnects by itself: keep polling.
                    Some(Err(KafkaError::MessageConsumption(
                        code @ (RDKafkaErrorCode::AllBrokersDown
                        | RDKafkaErrorCode::BrokerTransportFailure),
                    ))) => {
                        eprintln!("weir-tests: consuming `{}`: {code}; retrying", self.topic);
                    }
                    Some(Err(e)) => {
                        panic!("consuming `{}` from {}: {e}", self.topic, self.bootstrap)
                    }
                    None => {}
                }
                if Instant::now() >= deadline {
                    break;
                }
            },
            Source::Committed(reader) => {
                let mut progress = false;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    progress |= reader
                        .fetch(left.min(Duration::from_millis(100)))
                        .unwrap_or_else(|e| {
                            panic!(
                                "read-committed fetch of `{}` from {}: {e}",
                                self.topic, self.bootstrap
                            )
                        });
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                if progress {
                    self.records = reader.visible();
                }
            }
        }
        self.records.len().saturating_sub(before)
    }

    /// The records visible so far (see [`TopicTail::poll`] for the order).
    pub fn records(&self) -> &[Consumed] {
        &self.records
    }

    /// How many records are visible so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record is visible yet.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Polls until `done(records)` holds or `timeout` passes; returns whether it holds.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Consumed]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.records) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.poll(Duration::from_millis(200));
        }
    }

    /// Polls until nothing new became visible for `idle`, or `timeout` passed; returns the number
    /// of visible records.
    pub fn wait_idle(&mut self, idle: Duration, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut last = Instant::now();
        while Instant::now() < deadline && last.elapsed() < idle {
            if self.poll(Duration::from_millis(200)) > 0 {
                last = Instant::now();
            }
        }
        self.records.len()
    }

    /// The records read so far by transactional fate (committed-visible, aborted, still open).
    ///
    /// # Panics
    /// On a read-uncommitted tail, which does not see transaction markers.
    pub fn txn_view(&self) -> TxnView {
        match &self.source {
            Source::Committed(reader) => reader.view(),
            Source::Uncommitted(_) => panic!(
                "TopicTail::txn_view on `{}`: only a TopicTail::committed sees transactions",
                self.topic
            ),
        }
    }
}
