//! Type-erased processor nodes as a task runs them, the record envelope ([`Msg`]) they pass, and
//! the context ([`Ctx`]) they process in.
//!
//! The DSL is typed (`KStream<K, V>`); a task is not: its nodes are `Box<dyn Node>` and keys and
//! values travel boxed. Every node knows the concrete types it reads, so a failed downcast is a
//! bug in graph construction, reported as [`StreamsError::Internal`], never a panic.
//!
//! Forwarding is synchronous and depth-first, as in Kafka Streams: `Ctx::forward` calls each
//! child's `process` before returning. While a node runs it is taken out of its slot, which is
//! safe because the graph is acyclic (a node is never its own descendant).

use weir_state::KeyValueStore;

use crate::collector::RecordCollector;
use crate::stores::{GlobalReader, TaskStores};
use crate::time::Punctuations;
pub use weir_core::datum::{Boxed, Data, Msg, peek, take};
use weir_core::error::StreamsError;
use weir_core::record::RecordMetadata;
pub use weir_graph::{NodeSupplier, Wiring};

/// Creates one instance of a node for one task (what the DSL puts in a graph's
/// [`NodeSupplier`]).
pub type NodeFactory = std::sync::Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// `factory` as the graph carries it.
pub fn supplier(factory: NodeFactory) -> NodeSupplier {
    NodeSupplier(std::sync::Arc::new(factory))
}

/// A new instance of the node `supplier` describes; an error for a graph whose nodes were not
/// built by this runtime's DSL.
pub fn instantiate(name: &str, supplier: &NodeSupplier) -> Result<Box<dyn Node>, StreamsError> {
    match supplier.0.downcast_ref::<NodeFactory>() {
        Some(factory) => Ok(factory()),
        None => Err(StreamsError::Internal(format!(
            "node `{name}` was not built by weir's DSL; it has no runtime node"
        ))),
    }
}

/// A processor node of a task.
pub trait Node: Send {
    /// Resolves stores and schedules punctuations; called once before the first record.
    fn init(&mut self, _ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        Ok(())
    }
    /// Processes one record, forwarding results through `ctx`.
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError>;
    /// A scheduled punctuation fired.
    fn punctuate(&mut self, _ctx: &mut Ctx<'_>, _id: u32, _ts: i64) -> Result<(), StreamsError> {
        Ok(())
    }
    /// Releases resources; the task is closing.
    fn close(&mut self) {}
}

/// A store a node refers to, resolved at init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRef {
    Local(usize),
    Global(usize),
}

/// What a node sees while it initializes.
pub struct InitCtx<'a> {
    pub node: usize,
    pub name: &'a str,
    pub wall_clock: i64,
    pub stores: &'a TaskStores,
    pub punctuations: &'a mut Punctuations,
    pub application_id: &'a str,
    pub task: crate::task::TaskId,
}

impl InitCtx<'_> {
    pub fn store(&self, name: &str) -> Result<StoreRef, StreamsError> {
        self.stores
            .resolve(name)
            .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))
    }
    pub fn local_store(&self, name: &str) -> Result<usize, StreamsError> {
        match self.store(name)? {
            StoreRef::Local(i) => Ok(i),
            StoreRef::Global(_) => Err(StreamsError::UnknownStore(format!("{name} (global)"))),
        }
    }
    pub fn global_store(&self, name: &str) -> Result<usize, StreamsError> {
        match self.store(name)? {
            StoreRef::Global(i) => Ok(i),
            StoreRef::Local(_) => Err(StreamsError::UnknownStore(format!("{name} (not global)"))),
        }
    }
}

/// What a node sees while it processes: forwarding, stores, the record collector, metadata.
pub struct Ctx<'a> {
    pub node: usize,
    pub wiring: &'a Wiring,
    pub nodes: &'a mut [Option<Box<dyn Node>>],
    pub stores: &'a mut TaskStores,
    pub collector: &'a mut dyn RecordCollector,
    pub meta: Option<&'a RecordMetadata>,
    pub punctuations: &'a mut Punctuations,
    pub stream_time: i64,
    pub wall_clock: i64,
    pub task: crate::task::TaskId,
    pub application_id: &'a str,
    /// The task's cached metric handles.
    pub counters: &'a weir_core::metrics::TaskCounters,
    /// Where operators send records they drop on purpose but must not lose silently (late
    /// records), when the task has a dead-letter topic.
    pub dead_letter: Option<&'a str>,
}

impl Ctx<'_> {
    /// Forwards `msg` to every child of the current node, depth-first.
    pub fn forward(&mut self, msg: Msg) -> Result<(), StreamsError> {
        let wiring = self.wiring;
        let children = &wiring.children[self.node];
        let Some((&last, rest)) = children.split_last() else {
            return Ok(());
        };
        for &child in rest {
            self.run(child, msg.duplicate())?;
        }
        self.run(last, msg)
    }

    /// Forwards `msg` to the `index`-th child of the current node only (branching).
    pub fn forward_to(&mut self, index: usize, msg: Msg) -> Result<(), StreamsError> {
        match self.wiring.children[self.node].get(index) {
            Some(&child) => self.run(child, msg),
            None => Err(StreamsError::Internal(format!(
                "node `{}` has no child #{index}",
                self.wiring.names[self.node]
            ))),
        }
    }

    /// Runs node `child` on `msg` with this context.
    pub fn run(&mut self, child: usize, msg: Msg) -> Result<(), StreamsError> {
        let Some(mut node) = self.nodes.get_mut(child).and_then(Option::take) else {
            return Err(StreamsError::Internal(format!(
                "node #{child} re-entered or missing"
            )));
        };
        let parent = std::mem::replace(&mut self.node, child);
        let result = node.process(self, msg);
        self.node = parent;
        self.nodes[child] = Some(node);
        result
    }

    /// The task-local store at `index` (resolved at init).
    pub fn local(&mut self, index: usize) -> &mut dyn KeyValueStore {
        self.stores.local_mut(index)
    }

    /// The reader of the global store at `index` (resolved at init).
    pub fn global(&mut self, index: usize) -> &mut GlobalReader {
        self.stores.global_mut(index)
    }

    /// The current node's name.
    pub fn node_name(&self) -> &str {
        &self.wiring.names[self.node]
    }
}
