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

use std::any::Any;

use weir_state::KeyValueStore;

use crate::error::StreamsError;
use crate::record::{Headers, RecordMetadata};
use crate::runtime::collector::RecordCollector;
use crate::runtime::stores::{GlobalReader, TaskStores};
use crate::runtime::time::Punctuations;

/// A key or value of any DSL type, cloneable without knowing the type.
pub(crate) trait Data: Any + Send {
    fn clone_box(&self) -> Boxed;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any + Send + Clone> Data for T {
    fn clone_box(&self) -> Boxed {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

pub(crate) type Boxed = Box<dyn Data>;

/// One record between two nodes: the value is `None` for a null value (a tombstone).
pub(crate) struct Msg {
    pub key: Boxed,
    pub value: Option<Boxed>,
    pub timestamp: i64,
    pub headers: Headers,
}

impl Msg {
    pub(crate) fn duplicate(&self) -> Msg {
        Msg {
            key: self.key.as_ref().clone_box(),
            value: self.value.as_ref().map(|v| v.as_ref().clone_box()),
            timestamp: self.timestamp,
            headers: self.headers.clone(),
        }
    }
}

/// Moves a boxed datum out as `T`.
pub(crate) fn take<T: 'static>(b: Boxed) -> Result<T, StreamsError> {
    match b.into_any().downcast::<T>() {
        Ok(t) => Ok(*t),
        Err(_) => Err(type_mismatch::<T>()),
    }
}

/// Borrows a boxed datum as `T`.
pub(crate) fn peek<T: 'static>(b: &Boxed) -> Result<&T, StreamsError> {
    b.as_ref()
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(type_mismatch::<T>)
}

fn type_mismatch<T>() -> StreamsError {
    StreamsError::Internal(format!(
        "record type mismatch: expected {}",
        std::any::type_name::<T>()
    ))
}

/// A processor node of a task.
pub(crate) trait Node: Send {
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
pub(crate) enum StoreRef {
    Local(usize),
    Global(usize),
}

/// What a node sees while it initializes.
pub(crate) struct InitCtx<'a> {
    pub node: usize,
    pub name: &'a str,
    pub wall_clock: i64,
    pub stores: &'a TaskStores,
    pub punctuations: &'a mut Punctuations,
    pub application_id: &'a str,
    pub task: crate::runtime::task::TaskId,
}

impl InitCtx<'_> {
    pub(crate) fn store(&self, name: &str) -> Result<StoreRef, StreamsError> {
        self.stores
            .resolve(name)
            .ok_or_else(|| StreamsError::UnknownStore(name.to_owned()))
    }
    pub(crate) fn local_store(&self, name: &str) -> Result<usize, StreamsError> {
        match self.store(name)? {
            StoreRef::Local(i) => Ok(i),
            StoreRef::Global(_) => Err(StreamsError::UnknownStore(format!("{name} (global)"))),
        }
    }
    pub(crate) fn global_store(&self, name: &str) -> Result<usize, StreamsError> {
        match self.store(name)? {
            StoreRef::Global(i) => Ok(i),
            StoreRef::Local(_) => Err(StreamsError::UnknownStore(format!("{name} (not global)"))),
        }
    }
}

/// Children of each node of a sub-topology (local indices) and node names.
#[derive(Debug, Clone)]
pub(crate) struct Wiring {
    pub children: Vec<Vec<usize>>,
    pub names: Vec<String>,
}

/// What a node sees while it processes: forwarding, stores, the record collector, metadata.
pub(crate) struct Ctx<'a> {
    pub node: usize,
    pub wiring: &'a Wiring,
    pub nodes: &'a mut [Option<Box<dyn Node>>],
    pub stores: &'a mut TaskStores,
    pub collector: &'a mut dyn RecordCollector,
    pub meta: Option<&'a RecordMetadata>,
    pub punctuations: &'a mut Punctuations,
    pub stream_time: i64,
    pub wall_clock: i64,
    pub task: crate::runtime::task::TaskId,
    pub application_id: &'a str,
    /// The task's cached metric handles.
    pub counters: &'a crate::metrics::TaskCounters,
}

impl Ctx<'_> {
    /// Forwards `msg` to every child of the current node, depth-first.
    pub(crate) fn forward(&mut self, msg: Msg) -> Result<(), StreamsError> {
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
    pub(crate) fn forward_to(&mut self, index: usize, msg: Msg) -> Result<(), StreamsError> {
        match self.wiring.children[self.node].get(index) {
            Some(&child) => self.run(child, msg),
            None => Err(StreamsError::Internal(format!(
                "node `{}` has no child #{index}",
                self.wiring.names[self.node]
            ))),
        }
    }

    /// Runs node `child` on `msg` with this context.
    pub(crate) fn run(&mut self, child: usize, msg: Msg) -> Result<(), StreamsError> {
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
    pub(crate) fn local(&mut self, index: usize) -> &mut dyn KeyValueStore {
        self.stores.local_mut(index)
    }

    /// The reader of the global store at `index` (resolved at init).
    pub(crate) fn global(&mut self, index: usize) -> &mut GlobalReader {
        self.stores.global_mut(index)
    }

    /// The current node's name.
    pub(crate) fn node_name(&self) -> &str {
        &self.wiring.names[self.node]
    }
}
