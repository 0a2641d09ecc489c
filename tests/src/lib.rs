//! weir's end-to-end test harness: a real Kafka-protocol broker (tansu, in-memory storage) per
//! test, blocking helpers to create topics, produce and consume records, and a handle on the
//! `weir-test-worker` process for crash tests. A broker with SQLite storage
//! ([`Broker::start_sqlite`], binary from [`tansu_sqlite_bin`]) survives a stop and a restart on
//! the same port, for broker-restart tests.
//!
//! ```no_run
//! use weir_tests::{Broker, ConsumeOpts, consume_all, create_topic, produce};
//!
//! let broker = Broker::start(); // panics, saying how to install tansu, when it is missing
//! create_topic(&broker.bootstrap(), "words", 3, false);
//! produce(&broker.bootstrap(), "words", [(Some(b"k".to_vec()), Some(b"v".to_vec()))]);
//! let records = consume_all(&broker.bootstrap(), "words", ConsumeOpts::expect(1));
//! assert_eq!(records.len(), 1);
//! ```
//!
//! Every helper panics with a message naming what failed: this crate only runs in tests, and a
//! test that cannot fail is worse than none, so nothing here skips or degrades silently.
//!
//! Broker quirks (tansu 0.6) the helpers account for:
//! * topics are not created on first use: create them with [`create_topic`];
//! * the high watermark it reports is wrong after multi-record batches: count records by
//!   consuming them ([`consume_all`]), never from offsets or watermarks;
//! * it writes transaction markers but never reports aborted transactions in fetch responses,
//!   so librdkafka's `read_committed` consumers see aborted records: [`consume_all`] computes
//!   the read-committed view itself (see [`ConsumeOpts::read_committed`]), and a [`TxnProxy`]
//!   in front of tansu rewrites its fetch responses to list them, for workers under
//!   exactly-once (their restore and repartition consumers are librdkafka's);
//! * a consumer group's first join is answered only after `session.timeout.ms / 2`: group
//!   members in tests should set `session.timeout.ms` low ([`consume_all`] assigns partitions
//!   manually and joins no group).

// A test harness reports failure by panicking, with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ad_clicks;
mod admin;
mod broker;
mod consume;
mod produce;
mod proxy;
pub mod scenario;
mod signals;
mod tail;
mod txn_proxy;
pub mod verify;
mod wire;
mod worker;

use std::net::TcpListener;

pub use admin::{
    committed_offsets, create_topic, create_topic_with, delete_topic, partition_count,
};
pub use broker::{Broker, tansu_bin, tansu_sqlite_bin};
pub use consume::{ConsumeOpts, Consumed, consume_all, consume_all_librdkafka};
pub use produce::{Delivered, TransactionalProducer, murmur2_partition, produce};
pub use proxy::Proxy;
pub use signals::stop_on_signals;
pub use tail::TopicTail;
pub use txn_proxy::{TxnProxy, TxnProxyStats};
pub use verify::Verdict;
pub use wire::TxnView;
pub use worker::{STARTED_LINE, WorkerArgs, WorkerProcess};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released): the usual race
/// applies, so callers that start a server on it should retry on "address in use".
pub fn free_port() -> u16 {
    let listener =
        TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// A fresh, empty directory for a worker's `state.dir`, removed when the value is dropped
/// (`.keep()` it to look inside after a failure).
pub fn temp_state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("weir-state-")
        .tempdir()
        .expect("cannot create a temporary state directory")
}

/// A name unique within this test process, for topics, groups and application ids:
/// `{prefix}-{pid}-{counter}`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
