//! The engine's one error type, [`StreamsError`], and [`ErrorKind`], which tells the runtime what
//! to do with an error (fail, retry, move the task, restore it).

use std::fmt;

use weir_state::StateError;

/// A boxed error from a serde, a user function or a library the engine calls.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the runtime does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Stop the worker with a clear message.
    Fatal,
    /// Try again (broker unavailable, timeouts).
    Retriable,
    /// A bad record: hand it to the configured error handler.
    Record,
    /// The task's state can no longer be trusted: wipe and restore it.
    Corrupted,
    /// This thread lost the right to write for its tasks: its transactional producer was fenced
    /// by a newer one with the same id, or its transaction timed out on the broker. Close the
    /// tasks without committing, re-create the producer, rewind to the last commit.
    Fenced,
}

/// Every error weir's engine reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamsError {
    /// A topology failed validation in `StreamsBuilder::build`.
    #[error("invalid topology: {0}")]
    InvalidTopology(String),

    /// A key or value could not be serialized for `topic`.
    #[error("cannot serialize {what} for topic `{topic}`: {source}")]
    Serialize {
        topic: String,
        what: KeyOrValue,
        source: BoxError,
    },

    /// A key or value read from `topic` could not be deserialized.
    #[error("cannot deserialize {what} from topic `{topic}`: {source}")]
    Deserialize {
        topic: String,
        what: KeyOrValue,
        source: BoxError,
    },

    /// A source's timestamp extractor gave no valid timestamp for a record of `topic` (negative,
    /// or it failed): the record goes to the deserialization handler, as in Kafka Streams.
    #[error("invalid timestamp for a record of topic `{topic}`: {reason}")]
    InvalidTimestamp { topic: String, reason: String },

    /// A serde could not be built (e.g. an unreadable or invalid Avro schema file).
    #[error("cannot create serde: {0}")]
    SerdeSetup(String),

    /// A processor failed on a record.
    #[error("processor `{processor}` failed: {source}")]
    Process { processor: String, source: BoxError },

    /// A state store operation failed.
    #[error(transparent)]
    State(#[from] StateError),

    /// A store that the topology does not declare, or of another type, was asked for.
    #[error("unknown state store `{0}`")]
    UnknownStore(String),

    /// A bug in weir (e.g. a record of an unexpected type between two nodes).
    #[error("internal error: {0}")]
    Internal(String),

    /// A record was piped or consumed from a topic no source reads.
    #[error("no source reads topic `{0}`")]
    UnknownTopic(String),

    /// A configuration property has a bad value; `origin` says where it came from (a file and
    /// line, an environment variable, an override).
    #[error("config `{key}` ({origin}): {message}")]
    Config {
        key: String,
        origin: String,
        message: String,
    },

    /// A required configuration property is not set.
    #[error("missing required config `{key}`: {hint}")]
    MissingConfig {
        key: &'static str,
        hint: &'static str,
    },

    /// The properties file could not be read.
    #[error("cannot read config file `{}`: {source}", path.display())]
    ConfigFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },

    /// A Kafka client operation failed; `kind` is what the Kafka layer made of the client's
    /// error code (retriable, fatal, the task moved).
    #[error("kafka: {operation} failed: {source}")]
    Kafka {
        operation: &'static str,
        kind: ErrorKind,
        source: BoxError,
    },

    /// A topic the topology reads does not exist (weir never relies on broker auto-creation).
    #[error("source topic `{0}` does not exist; create it before starting the application")]
    MissingSourceTopic(String),

    /// An internal topic exists with another partition count than the topology needs.
    #[error(
        "internal topic `{topic}` has {actual} partitions but the topology needs {expected}; \
         stop every worker and delete it (its data is rebuilt), or give the source topics back \
         their former partition counts"
    )]
    TopicMismatch {
        topic: String,
        expected: i32,
        actual: i32,
    },

    /// Topics that a task joins (a co-partition group) have different partition counts.
    #[error("topics joined together must have the same number of partitions, but: {}", fmt_counts(.topics))]
    CopartitionMismatch { topics: Vec<(String, i32)> },

    /// The broker refused to create a topic.
    #[error("cannot create topic `{topic}`: {source}")]
    CreateTopic {
        topic: String,
        kind: ErrorKind,
        source: BoxError,
    },

    /// A record could not be delivered to Kafka (the first delivery error since the last
    /// flush or commit).
    #[error("cannot deliver a record: {0}")]
    Production(String),

    /// Topics created at start-up did not show in the metadata in time.
    #[error("topics not visible in the cluster metadata in time: {}", .topics.join(", "))]
    TopicsNotReady { topics: Vec<String> },

    /// A Schema Registry request failed, or the embedded schema table had no answer.
    /// `operation` is the request (`GET /schemas/ids/7`); `status` the HTTP status (none when the
    /// registry could not be reached); `error_code` Confluent's code (40401 subject not found,
    /// 40403 schema not found, 42201 invalid schema, 409 incompatible...).
    #[error("schema registry: {operation} failed: {message}")]
    SchemaRegistry {
        operation: String,
        status: Option<u16>,
        error_code: Option<u32>,
        message: String,
    },

    /// A topology definition file could not be loaded (`file:line:col: message`; the
    /// definition layer's `DefinitionError`).
    #[error(transparent)]
    Definition(BoxError),

    /// `source` happened while a worker's task processed the record at `offset` of
    /// `topic`-`partition`; it stopped the worker (the `fail` handler, or an error no handler
    /// takes). Its kind is the kind of `source`.
    #[error("task {task}, record {topic}-{partition}@{offset}: {source}")]
    AtRecord {
        task: String,
        topic: String,
        partition: i32,
        offset: i64,
        source: Box<StreamsError>,
    },
}

fn fmt_counts(topics: &[(String, i32)]) -> String {
    topics
        .iter()
        .map(|(t, n)| format!("`{t}` has {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which half of a record a serde error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrValue {
    Key,
    Value,
}

impl fmt::Display for KeyOrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyOrValue::Key => "key",
            KeyOrValue::Value => "value",
        })
    }
}

impl StreamsError {
    /// The error itself, without the record it happened at ([`StreamsError::AtRecord`]).
    pub fn root(&self) -> &StreamsError {
        match self {
            StreamsError::AtRecord { source, .. } => source.root(),
            other => other,
        }
    }

    /// What the runtime should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StreamsError::AtRecord { source, .. } => source.kind(),
            StreamsError::Serialize { .. }
            | StreamsError::Deserialize { .. }
            | StreamsError::InvalidTimestamp { .. }
            | StreamsError::Process { .. } => ErrorKind::Record,
            StreamsError::State(e) => match e.kind() {
                weir_state::ErrorKind::Corrupted => ErrorKind::Corrupted,
                weir_state::ErrorKind::Retriable => ErrorKind::Retriable,
                _ => ErrorKind::Fatal,
            },
            StreamsError::Kafka { kind, .. } | StreamsError::CreateTopic { kind, .. } => *kind,
            StreamsError::TopicsNotReady { .. } => ErrorKind::Retriable,
            // Unreachable registry or a server-side failure: try again; anything else (not
            // found, unauthorized, invalid schema) will not go away by itself.
            StreamsError::SchemaRegistry { status, .. } => match status {
                None => ErrorKind::Retriable,
                Some(s) if *s >= 500 || *s == 429 => ErrorKind::Retriable,
                Some(_) => ErrorKind::Fatal,
            },
            StreamsError::Config { .. }
            | StreamsError::MissingConfig { .. }
            | StreamsError::ConfigFile { .. }
            | StreamsError::MissingSourceTopic(_)
            | StreamsError::TopicMismatch { .. }
            | StreamsError::CopartitionMismatch { .. }
            | StreamsError::InvalidTopology(_)
            | StreamsError::SerdeSetup(_)
            | StreamsError::UnknownStore(_)
            | StreamsError::Internal(_)
            | StreamsError::UnknownTopic(_)
            | StreamsError::Production(_)
            | StreamsError::Definition(_) => ErrorKind::Fatal,
        }
    }
}
