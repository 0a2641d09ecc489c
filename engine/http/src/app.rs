//! One application as the endpoint sees it: its topology, status, global stores, task layout
//! and instance directory — taken from a [`KafkaStreams`], before or after it started (the
//! stores, layout and directory appear once `start` opened them; until then `/ready` answers
//! 503 with the reason, e.g. an unreachable cluster).

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_graph::{StoreDef, Topology};
use weir_kafka::WorkerStatus;
use weir_kafka::instances::InstanceDirectory;
use weir_kafka::{KafkaStreams, StartedView};
use weir_runtime::stores::GlobalStore;
use weir_runtime::task::TaskId;

/// A started application, for the endpoint.
#[derive(Clone)]
pub struct AppState {
    pub(crate) application: String,
    pub(crate) topology: Arc<Topology>,
    pub(crate) status: WorkerStatus,
    /// The global stores, the task layout and the directory, once started.
    started: StartedView,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("application", &self.application)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// What the endpoint serves of a worker (before or after [`KafkaStreams::start`]).
    pub fn of(streams: &KafkaStreams) -> AppState {
        AppState {
            application: streams.topology().application_id.clone(),
            topology: streams.topology().clone(),
            status: streams.status(),
            started: streams.started_view(),
        }
    }

    /// The global stores (none before the worker started).
    pub(crate) fn globals(&self) -> &[Arc<GlobalStore>] {
        self.started.started.get().map_or(&[], |s| &s.globals)
    }

    /// Sub-topology → number of tasks (empty before the worker started).
    pub(crate) fn tasks(&self) -> &BTreeMap<usize, i32> {
        static EMPTY: BTreeMap<usize, i32> = BTreeMap::new();
        self.started.layout.get().unwrap_or(&EMPTY)
    }

    /// The instance directory, when the worker publishes itself (and has started).
    pub(crate) fn directory(&self) -> Option<&Arc<InstanceDirectory>> {
        self.started
            .started
            .get()
            .and_then(|s| s.directory.as_ref())
    }

    pub fn application(&self) -> &str {
        &self.application
    }

    pub(crate) fn store_def(&self, name: &str) -> Option<&StoreDef> {
        self.topology.store_def(name)
    }

    pub(crate) fn global(&self, name: &str) -> Option<&Arc<GlobalStore>> {
        self.globals().iter().find(|g| g.name() == name)
    }

    /// The sub-topology holding task-local store `name`.
    pub(crate) fn subtopology_of(&self, name: &str) -> Option<usize> {
        self.topology
            .subtopologies
            .iter()
            .find(|s| s.stores.iter().any(|n| n == name))
            .map(|s| s.id)
    }

    /// The task holding `key_bytes` of store `name`.
    pub(crate) fn task_of_key(&self, name: &str, key_bytes: &[u8]) -> Option<TaskId> {
        let sub = self.subtopology_of(name)?;
        let partitions = *self.tasks().get(&sub)?;
        Some(TaskId {
            subtopology: sub,
            partition: weir_kafka::partitioner::partition_of(key_bytes, partitions),
        })
    }

    /// This worker's instance id (its directory's), when it has one.
    pub(crate) fn instance(&self) -> Option<&str> {
        self.directory().map(|d| d.me())
    }
}
