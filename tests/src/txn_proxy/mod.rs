//! [`TxnProxy`]: a Kafka-protocol proxy in front of tansu that makes it answer `read_committed`
//! fetches as a Kafka broker does, so that librdkafka's read-committed consumers — weir's
//! restore, repartition and input consumers among them — never see aborted records.
//!
//! Why: tansu 0.6 writes COMMIT/ABORT markers, computes the last stable offset and stops
//! read-committed fetches there, but always answers with an empty `aborted_transactions` list;
//! librdkafka then hands out the records of aborted transactions. The proxy forwards every
//! request and response unchanged except:
//! * Fetch responses to `read_committed` requests (Fetch v4–v12, `fetch`): per partition,
//!   `aborted_transactions` lists every aborted transaction overlapping the returned records,
//!   `last_stable_offset` is the first offset of the earliest open transaction (else the high
//!   watermark), and records at or after it are cut (`filter`; tansu already does both, the
//!   proxy's own index decides all the same). Which transactions aborted
//!   comes from the `abort_index`, built by reading each partition's log — markers included,
//!   also those beyond the fetched range — from the broker directly, incrementally.
//! * ApiVersions responses: Fetch's max version is capped at 12, the last that names topics
//!   (`api_versions`); librdkafka then fetches with v12.
//!
//! It does not: filter read-uncommitted fetches, touch ListOffsets (a `read_committed`
//! ListOffsets still gets tansu's high watermark, not the LSO), follow several brokers (tansu
//! is one), or read logs that do not start at offset 0. Undecodable frames go through unchanged
//! and are counted in [`TxnProxyStats`], which tests assert on.
//!
//! ```no_run
//! use weir_tests::{Broker, TxnProxy, free_port};
//!
//! let port = free_port();
//! let broker = Broker::start_advertising(port); // tansu tells clients to use the proxy
//! let proxy = TxnProxy::start(port, broker.port()).unwrap();
//! let bootstrap = proxy.address(); // for workers and librdkafka clients
//! // ... run the test through `bootstrap` ...
//! assert_eq!(proxy.stats().undecodable, 0);
//! ```

// The crate allows these for its panicking helpers; this module serves bytes from the network.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod abort_index;
mod api_versions;
mod codec;
mod connection;
mod fetch;
mod filter;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use abort_index::AbortIndex;

/// How many log lines a proxy prints about anomalies before it only counts them.
const MAX_LOG_LINES: u64 = 50;

/// A transaction-filtering proxy on `127.0.0.1:port` in front of one broker; see the module
/// doc. Dropping it stops it and closes every proxied connection.
pub struct TxnProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TxnProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnProxy")
            .field("address", &self.address())
            .field("stats", &self.stats())
            .finish()
    }
}

/// What a [`TxnProxy`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxnProxyStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Read-committed Fetch responses rewritten.
    pub fetch_committed: u64,
    /// Read-uncommitted Fetch responses forwarded unchanged.
    pub fetch_uncommitted: u64,
    /// Aborted transactions listed in rewritten responses (a transaction counts once per
    /// response that lists it).
    pub aborted_listed: u64,
    /// Record batches cut from responses at the last stable offset (open transactions, or not
    /// yet read by the index).
    pub batches_held_back: u64,
    /// Partitions whose `last_stable_offset` the proxy changed. tansu computes the LSO itself
    /// (and stops read-committed fetches there); they differ when a transaction ended between
    /// tansu's answer and the index's catch-up, or the index is behind.
    pub lso_changed: u64,
    /// ApiVersions responses whose Fetch max version was capped.
    pub fetch_capped: u64,
    /// Requests or responses that could not be decoded, forwarded unchanged: a read-committed
    /// client may have seen aborted records through them.
    pub undecodable: u64,
    /// Connections whose bytes could not be split into frames, copied raw from there on.
    pub unframed: u64,
    /// Times the abort index could not read a partition, or a response's records could not be
    /// split into batches (the unread records are withheld; the client asks again).
    pub index_errors: u64,
}

impl TxnProxyStats {
    /// True when every response went through decoded: nothing unchecked reached a client.
    pub fn all_decoded(&self) -> bool {
        self.undecodable == 0 && self.unframed == 0
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    fetch_committed: AtomicU64,
    fetch_uncommitted: AtomicU64,
    aborted_listed: AtomicU64,
    batches_held_back: AtomicU64,
    lso_changed: AtomicU64,
    fetch_capped: AtomicU64,
    undecodable: AtomicU64,
    unframed: AtomicU64,
    index_errors: AtomicU64,
    log_lines: AtomicU64,
}

/// What the acceptor and the connection threads share.
struct Shared {
    port: u16,
    stop: AtomicBool,
    /// Whether new connections are filtered (else copied byte for byte).
    filtering: AtomicBool,
    /// Both ends of every proxied connection, to close when the proxy stops.
    live: Mutex<Vec<TcpStream>>,
    index: Mutex<AbortIndex>,
    counters: Counters,
}

impl Shared {
    /// Prints an anomaly to stderr (the test's output), up to [`MAX_LOG_LINES`] per proxy.
    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.counters.log_lines.fetch_add(1, Ordering::Relaxed) < MAX_LOG_LINES {
            eprintln!("weir-tests txn-proxy :{}: {what}", self.port);
        }
    }

    fn undecodable(&self, what: std::fmt::Arguments<'_>) {
        self.counters.undecodable.fetch_add(1, Ordering::Relaxed);
        self.log(format_args!("forwarded unchanged, cannot decode {what}"));
    }
}

impl TxnProxy {
    /// Listens on `127.0.0.1:port` (a free port chosen by the caller, the one the broker
    /// advertises: [`crate::Broker::start_advertising`]) and forwards to the broker on
    /// `127.0.0.1:broker_port`, which its abort index also reads from.
    ///
    /// # Errors
    /// When `port` cannot be bound within 10 s, or the acceptor thread cannot start.
    pub fn start(port: u16, broker_port: u16) -> io::Result<TxnProxy> {
        let broker = SocketAddr::from(([127, 0, 0, 1], broker_port));
        let listener = bind_retrying(port)?;
        let shared = Arc::new(Shared {
            port,
            stop: AtomicBool::new(false),
            filtering: AtomicBool::new(true),
            live: Mutex::new(Vec::new()),
            index: Mutex::new(AbortIndex::new(broker)),
            counters: Counters::default(),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("txn-proxy-accept".into())
            .spawn(move || accept(&s, &listener, broker))?;
        Ok(TxnProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether connections accepted from now on are filtered (the default) or copied byte for
    /// byte, as if the client talked to the broker itself — for tests that show the broker's
    /// own answers. Connections already open keep their mode.
    pub fn set_filtering(&self, on: bool) {
        self.shared.filtering.store(on, Ordering::SeqCst);
    }

    /// The counters so far.
    pub fn stats(&self) -> TxnProxyStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TxnProxyStats {
            connections: get(&c.connections),
            fetch_committed: get(&c.fetch_committed),
            fetch_uncommitted: get(&c.fetch_uncommitted),
            aborted_listed: get(&c.aborted_listed),
            batches_held_back: get(&c.batches_held_back),
            lso_changed: get(&c.lso_changed),
            fetch_capped: get(&c.fetch_capped),
            undecodable: get(&c.undecodable),
            unframed: get(&c.unframed),
            index_errors: get(&c.index_errors),
        }
    }

    /// Per partition the index has read: (topic, partition, committed, aborted) transactions.
    pub fn transactions(&self) -> Vec<(String, i32, u64, usize)> {
        let index = self
            .shared
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = index
            .partitions()
            .map(|((t, p), txns)| {
                let (committed, aborted) = txns.decided();
                (t.clone(), *p, committed, aborted)
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for TxnProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop` and drops the listener.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let live = std::mem::take(
            &mut *self
                .shared
                .live
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for s in live {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn bind_retrying(port: u16) -> io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..100 {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last.unwrap_or_else(|| io::Error::other("bind")))
}

fn accept(shared: &Arc<Shared>, listener: &TcpListener, broker: SocketAddr) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = conn else { continue };
        let server = match TcpStream::connect(broker) {
            Ok(s) => s,
            Err(e) => {
                shared.log(format_args!("connect to the broker {broker}: {e}"));
                continue;
            }
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = connection::spawn(shared, client, server) {
            shared.log(format_args!("cannot start forwarding a connection: {e}"));
        }
    }
}
