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
