//! Reading a topic back: [`consume_all`] reads every partition from the beginning (no group,
//! so no join delay and no committed offsets) until a count is reached, the topic has been quiet
//! for a while, or a deadline passes.
//!
//! Read-uncommitted reads go through librdkafka. Read-committed reads go through the harness's
//! own Fetch client (`wire`), because tansu 0.6 never reports aborted transactions and
//! librdkafka then shows their records; [`consume_all_librdkafka`] is librdkafka either way.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};

use crate::admin::partition_count;
use crate::wire::RawReader;

/// One consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The record's timestamp (ms), when it has one.
    pub timestamp: Option<i64>,
}

impl Consumed {
    /// The key as UTF-8 (lossy); `None` for a null key.
    pub fn key_str(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
    }

    /// The value as UTF-8 (lossy); `None` for a tombstone.
    pub fn value_str(&self) -> Option<String> {
        self.value
            .as_deref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The first header named `name`, when present and not null.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// When [`consume_all`] stops.
#[derive(Debug, Clone)]
pub struct ConsumeOpts {
    /// Read only committed transactional records, as `isolation.level=read_committed` on a
    /// correct broker (computed by the harness from the log's transaction markers).
    pub read_committed: bool,
    /// Stop as soon as at least this many records were read (a read-committed read returns
    /// all it has at that point, which may be more).
    pub expect: Option<usize>,
    /// Stop after this long without a new record (counted from the start until the first
    /// record arrives). With `expect` set, this only ends a read that falls short.
    pub idle: Duration,
    /// Stop after this long in any case.
    pub timeout: Duration,
}

impl Default for ConsumeOpts {
    /// Read uncommitted, no expected count, 3 s idle, 60 s overall.
    fn default() -> Self {
        ConsumeOpts {
            read_committed: false,
            expect: None,
            idle: Duration::from_secs(3),
            timeout: Duration::from_secs(60),
        }
    }
}

impl ConsumeOpts {
    /// Stop at `n` records, or after 30 s idle / 60 s overall (the caller asserts the count).
    pub fn expect(n: usize) -> Self {
        ConsumeOpts {
            expect: Some(n),
            idle: Duration::from_secs(30),
            ..ConsumeOpts::default()
        }
    }

    /// Everything until `idle` passes without a record.
    pub fn until_idle(idle: Duration) -> Self {
        ConsumeOpts {
            idle,
            ..ConsumeOpts::default()
        }
    }

    /// With `isolation.level=read_committed`.
    pub fn read_committed(mut self) -> Self {
        self.read_committed = true;
        self
    }

    /// With `idle`.
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// With `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Reads `topic` from the beginning of every partition until `opts` says stop; returns the
/// records, per partition in offset order (read-uncommitted: partitions interleaved as read;
/// read-committed: partition after partition).
///
/// # Panics
/// When the topic is unknown or a fetch fails.
pub fn consume_all(bootstrap: &str, topic: &str, opts: ConsumeOpts) -> Vec<Consumed> {
    if opts.read_committed {
        consume_committed(bootstrap, topic, &opts)
    } else {
        consume_all_librdkafka(bootstrap, topic, opts)
    }
}

/// The read-committed view, computed by [`RawReader`].
fn consume_committed(bootstrap: &str, topic: &str, opts: &ConsumeOpts) -> Vec<Consumed> {
    let partitions = partition_count(bootstrap, topic);
    let mut reader = RawReader::connect(bootstrap, topic, partitions)
        .unwrap_or_else(|e| panic!("read-committed reader for `{topic}` on {bootstrap}: {e}"));
    let start = Instant::now();
    let mut last = start;
    let mut seen = 0;
    loop {
        let progress = reader
            .fetch(Duration::from_millis(100))
            .unwrap_or_else(|e| panic!("read-committed fetch of `{topic}` from {bootstrap}: {e}"));
        let visible = reader.visible();
        if visible.len() != seen {
            seen = visible.len();
            last = Instant::now();
        }
        let now = Instant::now();
        let done = opts.expect.is_some_and(|n| visible.len() >= n)
            || (!progress && now.duration_since(last) >= opts.idle)
            || now.duration_since(start) >= opts.timeout;
        if done {
            return visible;
        }
    }
}

/// [`consume_all`] through librdkafka also when `opts.read_committed` is set: on tansu 0.6 its
/// read-committed view includes aborted transactions (kept to pin that broker quirk).
pub fn consume_all_librdkafka(bootstrap: &str, topic: &str, opts: ConsumeOpts) -> Vec<Consumed> {
    let partitions = partition_count(bootstrap, topic);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        // Never used to join: partitions are assigned, offsets never committed.
        .set("group.id", crate::unique_name("weir-tests-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("allow.auto.create.topics", "false")
        .set("fetch.wait.max.ms", "100")
        .set(
            "isolation.level",
            if opts.read_committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
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

    let start = Instant::now();
    let mut last = start;
    let mut out = Vec::new();
    loop {
        if opts.expect.is_some_and(|n| out.len() >= n) {
            break;
        }
        let now = Instant::now();
        if now.duration_since(last) >= opts.idle || now.duration_since(start) >= opts.timeout {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Consumed {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                    timestamp: m.timestamp().to_millis(),
                });
                last = Instant::now();
            }
            Some(Err(e)) => panic!("consuming `{topic}` from {bootstrap}: {e}"),
        }
    }
    out
}
