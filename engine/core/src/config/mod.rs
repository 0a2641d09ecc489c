//! [`StreamsConfig`]: the one typed configuration of a weir application, with Kafka Streams'
//! property names and meanings.
//!
//! Owns: the fields and their defaults (here), parsing one `key = value` property into them
//! (`set.rs`), and the load order (file, then `WEIR_*` environment, then overrides; see
//! [`StreamsConfig`] and `load.rs`). Does not own: turning the config into rdkafka client configs (that is
//! `kafka::client`, the only place rdkafka is used).
//!
//! Invariants: a config is loaded once and passed explicitly, never stored in a global; every
//! error names the property, where its value came from and what was expected.

mod load;
mod registry;
mod set;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::StreamsError;

pub use load::RESERVED_ENV_VARS;
pub use registry::{RegistryConfig, SubjectNameStrategy, registry_keys};

/// Delivery guarantee (`processing.guarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// `at_least_once`: input offsets are committed after outputs are flushed; a crash may
    /// repeat records.
    #[default]
    AtLeastOnce,
    /// `exactly_once_v2`: outputs, changelog writes and input offsets commit in one transaction
    /// per stream thread.
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    /// The property value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }
}

impl fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProcessingGuarantee {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "at_least_once" => Ok(ProcessingGuarantee::AtLeastOnce),
            "exactly_once_v2" => Ok(ProcessingGuarantee::ExactlyOnceV2),
            _ => Err("expected `at_least_once` or `exactly_once_v2`".into()),
        }
    }
}

/// What happens to a record that cannot be deserialized or processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorHandling {
    /// `fail`: stop the stream thread with the error.
    #[default]
    Fail,
    /// `log_and_continue`: log, count in the metrics, skip the record.
    LogAndContinue,
    /// `dead_letter`: send the record, with the error and its origin in headers, to
    /// [`StreamsConfig::dead_letter_topic`], then continue.
    DeadLetter,
}

impl ErrorHandling {
    /// The property value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorHandling::Fail => "fail",
            ErrorHandling::LogAndContinue => "log_and_continue",
            ErrorHandling::DeadLetter => "dead_letter",
        }
    }
}

impl fmt::Display for ErrorHandling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorHandling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fail" => Ok(ErrorHandling::Fail),
            "log_and_continue" => Ok(ErrorHandling::LogAndContinue),
            "dead_letter" => Ok(ErrorHandling::DeadLetter),
            _ => Err("expected `fail`, `log_and_continue` or `dead_letter`".into()),
        }
    }
}

/// The configuration of one weir application instance: the source of truth for every setting
/// the engine reads. Property names and meanings are Kafka Streams'.
///
/// # Load order
///
/// [`StreamsConfig::load`] applies, later sources winning:
///
/// 1. defaults in code (the field docs below);
/// 2. a properties file given by path: `key=value` or `key: value` lines, `#` or `!` starting
///    a comment line, blank lines ignored, whitespace around keys and values trimmed;
/// 3. environment variables `WEIR_*`: the prefix is stripped, the rest lowercased, and `_`
///    becomes `.`, `__` becomes `_`, `___` becomes `-` (so `WEIR_APPLICATION_ID` sets
///    `application.id` and `WEIR_SASL_USERNAME` sets `sasl.username`); the tooling variables in
///    [`RESERVED_ENV_VARS`] are skipped;
/// 4. explicit overrides (e.g. `--set key=value` on the command line).
///
/// # Pass-through
///
/// Any property that is not one of the fields below goes verbatim into [`StreamsConfig::kafka`]
/// and on to librdkafka (TLS and SASL: `security.protocol`, `ssl.ca.location`,
/// `sasl.mechanism`, `sasl.username`, ...). A `consumer.`, `producer.` or `admin.` prefix
/// restricts a property to that kind of client (`consumer.fetch.min.bytes=1024`). Properties
/// weir must control (`group.id`, `enable.auto.commit`, `transactional.id`, ...) are rejected.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamsConfig {
    /// `application.id` (required): the consumer group id and the prefix of internal topics.
    pub application_id: String,
    /// `bootstrap.servers`, default `localhost:9092`.
    pub bootstrap_servers: String,
    /// `num.stream.threads`, default 1.
    pub num_stream_threads: usize,
    /// `processing.guarantee`, default `at_least_once`.
    pub processing_guarantee: ProcessingGuarantee,
    /// `commit.interval.ms`; `None` means the guarantee's default (see
    /// [`StreamsConfig::commit_interval`]).
    pub commit_interval_ms: Option<u64>,
    /// `state.dir`, default `{temp dir}/weir`.
    pub state_dir: PathBuf,
    /// `replication.factor` of internal topics, default 1 (-1: the broker's default).
    pub replication_factor: i16,
    /// `group.instance.id`: static group membership when set.
    pub group_instance_id: Option<String>,
    /// `max.poll.interval.ms`, default 300000.
    pub max_poll_interval_ms: u64,
    /// `session.timeout.ms`, default 45000.
    pub session_timeout_ms: u64,
    /// `default.deserialization.exception.handler`, default `fail`.
    pub deserialization_exception_handler: ErrorHandling,
    /// `processing.exception.handler`, default `fail`.
    pub processing_exception_handler: ErrorHandling,
    /// `dead.letter.topic`; `None` means `{application.id}-dlq` (see
    /// [`StreamsConfig::dead_letter_topic`]).
    pub dead_letter_topic: Option<String>,
    /// `statestore.cache.max.bytes`, default 10 MiB.
    pub statestore_cache_max_bytes: usize,
    /// `max.task.idle.ms`, default 0: how long a task whose input partitions are not all
    /// buffered waits before it processes the others out of timestamp order (Kafka Streams'
    /// KIP-695 semantics). 0 waits only while a partition has data on the broker not fetched
    /// yet; a positive value also waits that long for a caught-up partition; -1 never waits.
    pub max_task_idle_ms: i64,
    /// `rocksdb.block.cache.bytes`, default 64 MiB: one block cache for every RocksDB store
    /// of the worker.
    pub rocksdb_block_cache_bytes: usize,
    /// `rocksdb.write.buffer.bytes`, default 32 MiB: one budget for the memtables of every
    /// RocksDB store of the worker, charged to the block cache (so the block cache's size
    /// bounds both); 0: no shared budget (each store's memtables bounded on their own).
    pub rocksdb_write_buffer_bytes: usize,
    /// `http.addr` of the state inspection endpoint (e.g. `0.0.0.0:8080`); none when unset.
    pub http_addr: Option<String>,
    /// `application.server`: `host:port` other workers reach this one's endpoint at (Kafka
    /// Streams' name); default `http.addr` (with this host's name for an unspecified address).
    pub application_server: Option<String>,
    /// `http.token`: when set, the endpoint wants `Authorization: Bearer {token}` on every
    /// request but `/health` (`WEIR_HTTP_TOKEN` in the environment).
    pub http_token: Option<String>,
    /// `http.tls.cert.location` and `http.tls.key.location`: PEM files; with both set the
    /// endpoint serves HTTPS only.
    pub http_tls_cert: Option<PathBuf>,
    pub http_tls_key: Option<PathBuf>,
    /// The Schema Registry and how Avro serdes use it (`schema.registry.url`,
    /// `basic.auth.user.info`, `auto.register.schemas`, ...; see [`RegistryConfig`]). These
    /// properties are never passed to librdkafka.
    pub schema_registry: RegistryConfig,
    /// Every other property, passed to librdkafka verbatim.
    pub kafka: BTreeMap<String, String>,
}

/// Property names of the typed fields.
pub mod keys {
    pub const APPLICATION_ID: &str = "application.id";
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    pub const NUM_STREAM_THREADS: &str = "num.stream.threads";
    pub const PROCESSING_GUARANTEE: &str = "processing.guarantee";
    pub const COMMIT_INTERVAL_MS: &str = "commit.interval.ms";
    pub const STATE_DIR: &str = "state.dir";
    pub const REPLICATION_FACTOR: &str = "replication.factor";
    pub const GROUP_INSTANCE_ID: &str = "group.instance.id";
    pub const MAX_POLL_INTERVAL_MS: &str = "max.poll.interval.ms";
    pub const SESSION_TIMEOUT_MS: &str = "session.timeout.ms";
    pub const DESERIALIZATION_EXCEPTION_HANDLER: &str = "default.deserialization.exception.handler";
    pub const PROCESSING_EXCEPTION_HANDLER: &str = "processing.exception.handler";
    pub const DEAD_LETTER_TOPIC: &str = "dead.letter.topic";
    pub const STATESTORE_CACHE_MAX_BYTES: &str = "statestore.cache.max.bytes";
    pub const MAX_TASK_IDLE_MS: &str = "max.task.idle.ms";
    pub const ROCKSDB_BLOCK_CACHE_BYTES: &str = "rocksdb.block.cache.bytes";
    pub const ROCKSDB_WRITE_BUFFER_BYTES: &str = "rocksdb.write.buffer.bytes";
    pub const HTTP_ADDR: &str = "http.addr";
    pub const APPLICATION_SERVER: &str = "application.server";
    pub const HTTP_TOKEN: &str = "http.token";
    pub const HTTP_TLS_CERT: &str = "http.tls.cert.location";
    pub const HTTP_TLS_KEY: &str = "http.tls.key.location";
}

/// Client prefixes of pass-through properties.
pub const CLIENT_PREFIXES: &[&str] = &["consumer.", "producer.", "admin."];

impl StreamsConfig {
    /// Defaults for everything, with `application_id`.
    pub fn new(application_id: impl Into<String>) -> StreamsConfig {
        StreamsConfig {
            application_id: application_id.into(),
            bootstrap_servers: "localhost:9092".into(),
            num_stream_threads: 1,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval_ms: None,
            state_dir: std::env::temp_dir().join("weir"),
            replication_factor: 1,
            group_instance_id: None,
            max_poll_interval_ms: 300_000,
            session_timeout_ms: 45_000,
            deserialization_exception_handler: ErrorHandling::Fail,
            processing_exception_handler: ErrorHandling::Fail,
            dead_letter_topic: None,
            statestore_cache_max_bytes: 10 * 1024 * 1024,
            max_task_idle_ms: 0,
            rocksdb_block_cache_bytes: 64 * 1024 * 1024,
            rocksdb_write_buffer_bytes: 32 * 1024 * 1024,
            http_addr: None,
            application_server: None,
            http_token: None,
            http_tls_cert: None,
            http_tls_key: None,
            schema_registry: RegistryConfig::default(),
            kafka: BTreeMap::new(),
        }
    }

    /// Sets one property by its Kafka Streams name; unknown names go to [`StreamsConfig::kafka`].
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), StreamsError> {
        self.set_from(key, value, "StreamsConfig::set")
    }

    /// [`StreamsConfig::set`], chained: `StreamsConfig::new("app").with("num.stream.threads", "4")?`.
    pub fn with(mut self, key: &str, value: &str) -> Result<StreamsConfig, StreamsError> {
        self.set(key, value)?;
        Ok(self)
    }

    /// How often tasks commit: `commit.interval.ms`, or by default 1 s under at-least-once and
    /// 100 ms under exactly-once. Kafka Streams commits every 30 s under at-least-once, so a
    /// crash replays up to 30 s of input (RELIABILITY.md: ~200k duplicates in one held-out run);
    /// at 1 s a crash replays about a second's worth, and the commits cost nothing measurable
    /// (the figures are in RELIABILITY.md). Faust commits every 2.8 s, Quix Streams every 5 s.
    pub fn commit_interval(&self) -> Duration {
        Duration::from_millis(
            self.commit_interval_ms
                .unwrap_or(match self.processing_guarantee {
                    ProcessingGuarantee::AtLeastOnce => 1_000,
                    ProcessingGuarantee::ExactlyOnceV2 => 100,
                }),
        )
    }

    /// Where dead-letter records go: `dead.letter.topic`, or `{application.id}-dlq`.
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}-dlq", self.application_id))
    }

    /// Whether outputs and offsets commit in transactions.
    pub fn exactly_once(&self) -> bool {
        self.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2
    }
}

/// Whether a pass-through property holds a secret (its value is hidden by `Debug`).
fn is_secret(key: &str) -> bool {
    ["password", "secret", "jaas", "pem", "token"]
        .iter()
        .any(|w| key.contains(w))
}

impl fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kafka: BTreeMap<&str, &str> = self
            .kafka
            .iter()
            .map(|(k, v)| {
                let v = if is_secret(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("StreamsConfig")
            .field("application_id", &self.application_id)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("num_stream_threads", &self.num_stream_threads)
            .field("processing_guarantee", &self.processing_guarantee)
            .field("commit_interval", &self.commit_interval())
            .field("state_dir", &self.state_dir)
            .field("replication_factor", &self.replication_factor)
            .field("group_instance_id", &self.group_instance_id)
            .field("max_poll_interval_ms", &self.max_poll_interval_ms)
            .field("session_timeout_ms", &self.session_timeout_ms)
            .field(
                "deserialization_exception_handler",
                &self.deserialization_exception_handler,
            )
            .field(
                "processing_exception_handler",
                &self.processing_exception_handler,
            )
            .field("dead_letter_topic", &self.dead_letter_topic())
            .field(
                "statestore_cache_max_bytes",
                &self.statestore_cache_max_bytes,
            )
            .field("max_task_idle_ms", &self.max_task_idle_ms)
            .field("rocksdb_block_cache_bytes", &self.rocksdb_block_cache_bytes)
            .field(
                "rocksdb_write_buffer_bytes",
                &self.rocksdb_write_buffer_bytes,
            )
            .field("http_addr", &self.http_addr)
            .field("application_server", &self.application_server)
            // The token is a secret: say whether one is set, never what it is.
            .field("http_token", &self.http_token.as_ref().map(|_| "***"))
            .field("http_tls_cert", &self.http_tls_cert)
            .field("http_tls_key", &self.http_tls_key)
            .field("schema_registry", &self.schema_registry)
            .field("kafka", &kafka)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka_streams() {
        let c = StreamsConfig::new("app");
        assert_eq!(c.bootstrap_servers, "localhost:9092");
        assert_eq!(c.num_stream_threads, 1);
        assert_eq!(c.processing_guarantee, ProcessingGuarantee::AtLeastOnce);
        assert_eq!(c.commit_interval(), Duration::from_secs(1));
        assert_eq!(c.state_dir, std::env::temp_dir().join("weir"));
        assert_eq!(c.replication_factor, 1);
        assert_eq!(c.group_instance_id, None);
        assert_eq!(c.max_poll_interval_ms, 300_000);
        assert_eq!(c.session_timeout_ms, 45_000);
        assert_eq!(c.deserialization_exception_handler, ErrorHandling::Fail);
        assert_eq!(c.processing_exception_handler, ErrorHandling::Fail);
        assert_eq!(c.dead_letter_topic(), "app-dlq");
        assert_eq!(c.statestore_cache_max_bytes, 10 << 20);
        assert_eq!(c.rocksdb_block_cache_bytes, 64 << 20);
        assert_eq!(c.http_addr, None);
        assert_eq!(c.schema_registry, RegistryConfig::default());
        assert!(c.kafka.is_empty());
    }

    #[test]
    fn commit_interval_follows_the_guarantee_unless_set() {
        let mut c = StreamsConfig::new("app")
            .with("processing.guarantee", "exactly_once_v2")
            .unwrap();
        assert!(c.exactly_once());
        assert_eq!(c.commit_interval(), Duration::from_millis(100));
        c.set("commit.interval.ms", "250").unwrap();
        assert_eq!(c.commit_interval(), Duration::from_millis(250));
        c.set("processing.guarantee", "at_least_once").unwrap();
        assert_eq!(c.commit_interval(), Duration::from_millis(250));
    }
}
