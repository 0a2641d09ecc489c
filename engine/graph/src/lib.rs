//! The logical graph the DSL builds, its validation, and the [`Topology`] that comes out of it.
//!
//! Owns: node and store definitions ([`GraphNode`], [`StoreDef`]), splitting nodes into
//! sub-topologies (connected by edges or by a shared store; repartition topics cut them), the
//! checks `build()` runs, and `describe()`. Does not own: running nodes (see `runtime`).

mod describe;
pub mod prepare;
mod render;
mod topology;

use std::any::Any;
use std::sync::Arc;

pub use prepare::StartHook;
pub use topology::{SubTopology, Topology};

use weir_core::datum::Boxed;
use weir_core::error::StreamsError;

/// Children of each node of a sub-topology (local indices) and node names.
#[derive(Debug, Clone)]
pub struct Wiring {
    pub children: Vec<Vec<usize>>,
    pub names: Vec<String>,
}

/// What instantiates a node for each task, without its runtime type: the DSL stores the
/// runtime's node factory here and the runtime takes it back out; tools that only inspect a
/// graph (describe, render, topic planning) never look inside.
#[derive(Clone)]
pub struct NodeSupplier(pub Arc<dyn Any + Send + Sync>);

/// Decodes the raw key and value of a source topic record into boxed DSL types.
///
/// `Ok(None)` means "skip this record" (a null key on a stream that cannot carry one).
pub trait SourceDecoder: Send + Sync {
    fn decode(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Option<(Boxed, Option<Boxed>)>, StreamsError>;

    /// The record's event time, from its decoded key and value, its Kafka timestamp and the
    /// partition's time so far (the largest timestamp of the partition processed before it).
    /// By default the Kafka timestamp; a negative timestamp is an error (the record goes to the
    /// deserialization handler), as Kafka Streams' default `FailOnInvalidTimestamp` has it.
    fn timestamp(
        &self,
        topic: &str,
        _key: &Boxed,
        _value: Option<&Boxed>,
        record_timestamp: i64,
        _partition_time: i64,
    ) -> Result<i64, StreamsError> {
        check_timestamp(topic, record_timestamp)
    }
}

/// `timestamp` when it is a valid event time (>= 0), else the error a negative one gets.
pub fn check_timestamp(topic: &str, timestamp: i64) -> Result<i64, StreamsError> {
    if timestamp < 0 {
        return Err(StreamsError::InvalidTimestamp {
            topic: topic.to_owned(),
            reason: format!(
                "negative timestamp {timestamp} (a record without a timestamp reads as -1); \
                 give the source a timestamp extractor or fix the producer"
            ),
        });
    }
    Ok(timestamp)
}

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTopic {
    Fixed(String),
    /// Chosen per record by a topic extractor.
    Dynamic,
}

#[derive(Clone)]
pub enum NodeKind {
    Source {
        topics: Vec<String>,
        decoder: Arc<dyn SourceDecoder>,
    },
    Processor,
    Sink {
        topic: SinkTopic,
    },
}

/// One node of the logical graph.
#[derive(Clone)]
pub struct GraphNode {
    pub name: String,
    pub kind: NodeKind,
    pub parents: Vec<usize>,
    pub stores: Vec<String>,
    pub factory: NodeSupplier,
}

/// A state store a topology declares.
#[derive(Clone)]
pub struct StoreDef {
    pub name: String,
    /// Global stores are filled from `source_topic` by the global thread, read by every task.
    pub global: bool,
    /// Whether writes go to `{application}-{name}-changelog`.
    pub logged: bool,
    /// `(SerdeRef<K>, SerdeRef<V>)` for typed access, erased.
    pub serdes: Arc<dyn Any + Send + Sync>,
    /// The store's keys and values as JSON, without their types (the state endpoint).
    pub view: StoreView,
    /// How the store lays out its records (a window or session store keeps time in its keys).
    pub kind: StoreKind,
}

/// What a store holds, for the tools that read it without its operator (the state endpoint,
/// changelog topic settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// The latest value per key.
    #[default]
    KeyValue,
    /// Values per key and window start, kept `retention_ms` of stream time
    /// (`weir_state::WindowStore`'s layout).
    Window {
        retention_ms: i64,
        retain_duplicates: bool,
        /// A window's end is its start plus this (0: the store keeps records, not windows).
        size_ms: i64,
    },
    /// Values per key and session (`weir_state::SessionStore`'s layout).
    Session { retention_ms: i64 },
}

impl StoreKind {
    /// How long the changelog topic keeps records: time-keyed stores' changelogs are
    /// `compact,delete` with the store's retention plus a day (Kafka Streams'
    /// `windowstore.changelog.additional.retention.ms`); `None`: compacted only.
    pub fn changelog_retention_ms(&self) -> Option<i64> {
        const EXTRA: i64 = 24 * 60 * 60 * 1000;
        match *self {
            StoreKind::KeyValue => None,
            StoreKind::Window { retention_ms, .. } | StoreKind::Session { retention_ms } => {
                Some(retention_ms.saturating_add(EXTRA))
            }
        }
    }
}

/// Keys and values of a store as JSON and keys from text, whatever their Rust types.
#[derive(Clone)]
pub struct StoreView {
    pub key: Arc<dyn JsonView>,
    pub value: Arc<dyn JsonView>,
}

/// A serde's JSON view, without its type (see [`weir_core::Serde::bytes_to_json`]).
pub trait JsonView: Send + Sync {
    fn to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>>;
    fn parse_text(&self, text: &str) -> Option<Result<Vec<u8>, String>>;
    fn format(&self) -> &'static str;
}

impl<T: 'static> JsonView for weir_core::serde::SerdeRef<T> {
    fn to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        self.bytes_to_json(bytes)
    }
    fn parse_text(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        self.text_to_bytes(text)
    }
    fn format(&self) -> &'static str {
        self.name()
    }
}

/// The global source of a global store: the topic, the two node names `describe` prints, and the
/// decoder that validates each record before its bytes are stored.
#[derive(Clone)]
pub struct GlobalDef {
    pub topic: String,
    pub store: String,
    pub source_name: String,
    pub processor_name: String,
    pub decoder: Arc<dyn SourceDecoder>,
}

/// Topics whose partitions must line up (same count) because a task joins them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopartitionGroup {
    pub topics: Vec<String>,
}
