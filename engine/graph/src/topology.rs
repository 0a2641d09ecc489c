//! [`Topology`]: the validated graph `StreamsBuilder::build` returns, split into sub-topologies.
//!
//! Validation (each a [`StreamsError::InvalidTopology`] naming the culprit):
//! 1. node names are unique;
//! 2. store names are unique and every store a node uses is declared;
//! 3. no topic is read by two sources;
//! 4. errors the DSL recorded while building (e.g. a join on an unmaterialized table, a join
//!    after a key change without a repartition) are reported here.
//!
//! Sub-topologies are the connected components of the graph where nodes that share a task-local
//! store count as connected. A repartition topic ends one component (its sink) and starts another
//! (its source). Each sub-topology runs as one task per input partition.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Wiring;
use super::{CopartitionGroup, GlobalDef, GraphNode, NodeKind, StoreDef};
use weir_core::error::StreamsError;

/// One sub-topology: the nodes a task of it runs.
#[derive(Clone)]
pub struct SubTopology {
    pub id: usize,
    /// Graph node ids, ascending; a task's local node index is the position here.
    pub nodes: Vec<usize>,
    pub wiring: Wiring,
    /// Source topic → local index of its source node.
    pub sources: BTreeMap<String, usize>,
    /// Task-local stores used by the nodes.
    pub stores: Vec<String>,
}

impl SubTopology {
    /// The sub-topology's number (as `describe()` prints it).
    pub fn id(&self) -> usize {
        self.id
    }
    /// Topics its tasks read.
    pub fn source_topics(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }
    /// Task-local stores of its tasks.
    pub fn store_names(&self) -> &[String] {
        &self.stores
    }
}

/// A validated processing graph, ready to run (by the runtime or the test driver).
#[derive(Clone)]
pub struct Topology {
    pub application_id: String,
    pub nodes: Vec<GraphNode>,
    pub stores: Vec<StoreDef>,
    pub globals: Vec<GlobalDef>,
    pub subtopologies: Vec<SubTopology>,
    pub repartition_topics: BTreeSet<String>,
    pub copartition_groups: Vec<CopartitionGroup>,
    /// Serdes to prepare at start-up, per fixed-topic sink (see `prepare`).
    pub sink_prepares: Vec<super::prepare::SinkPrepare>,
    pub start_hooks: Vec<super::prepare::StartHook>,
}

impl Topology {
    pub fn new(
        application_id: String,
        nodes: Vec<GraphNode>,
        stores: Vec<StoreDef>,
        globals: Vec<GlobalDef>,
        repartition_topics: BTreeSet<String>,
        deferred_errors: Vec<String>,
    ) -> Result<Topology, StreamsError> {
        let invalid = |m: String| Err(StreamsError::InvalidTopology(m));
        if let Some(e) = deferred_errors.into_iter().next() {
            return invalid(e);
        }
        // Step 1: unique node names.
        let mut names = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if let Some(j) = names.insert(n.name.as_str(), i) {
                return invalid(format!(
                    "two processors are named `{}` (nodes #{j} and #{i}); give one another name",
                    n.name
                ));
            }
        }
        for g in &globals {
            for name in [&g.source_name, &g.processor_name] {
                if names.insert(name.as_str(), usize::MAX).is_some() {
                    return invalid(format!("two processors are named `{name}`"));
                }
            }
        }
        // Step 2: unique, declared stores.
        let mut store_names = BTreeSet::new();
        for s in &stores {
            if s.name.is_empty() {
                return invalid("a state store has an empty name".into());
            }
            if !store_names.insert(s.name.as_str()) {
                return invalid(format!("two state stores are named `{}`", s.name));
            }
        }
        for n in &nodes {
            for s in &n.stores {
                if !store_names.contains(s.as_str()) {
                    return invalid(format!(
                        "processor `{}` uses undeclared store `{s}`",
                        n.name
                    ));
                }
            }
        }
        // Step 3: a topic has at most one source.
        let mut topic_owner: HashMap<&str, &str> = HashMap::new();
        let global_topics = globals
            .iter()
            .map(|g| (g.topic.as_str(), g.source_name.as_str()));
        let source_topics = nodes.iter().flat_map(|n| match &n.kind {
            NodeKind::Source { topics, .. } => topics
                .iter()
                .map(|t| (t.as_str(), n.name.as_str()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        });
        for (topic, owner) in global_topics.chain(source_topics) {
            if let Some(prev) = topic_owner.insert(topic, owner) {
                return invalid(format!(
                    "topic `{topic}` is read by two sources (`{prev}` and `{owner}`); read it once and share the stream"
                ));
            }
        }
        let global_stores: BTreeSet<&str> = stores
            .iter()
            .filter(|s| s.global)
            .map(|s| s.name.as_str())
            .collect();
        let subtopologies = split(&nodes, &global_stores);
        let copartition_groups = subtopologies
            .iter()
            .filter(|s| s.sources.len() > 1 && !s.stores.is_empty())
            .map(|s| CopartitionGroup {
                topics: s.sources.keys().cloned().collect(),
            })
            .collect();
        Ok(Topology {
            application_id,
            nodes,
            stores,
            globals,
            subtopologies,
            repartition_topics,
            copartition_groups,
            sink_prepares: Vec::new(),
            start_hooks: Vec::new(),
        })
    }

    /// The application id the topology was built for (group id, internal-topic prefix).
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// Sub-topologies in id order.
    pub fn subtopologies(&self) -> &[SubTopology] {
        &self.subtopologies
    }

    /// Internal repartition topics (full names).
    pub fn repartition_topics(&self) -> impl Iterator<Item = &str> {
        self.repartition_topics.iter().map(String::as_str)
    }

    /// Changelog topics of logged task-local stores (full names).
    pub fn changelog_topics(&self) -> Vec<String> {
        self.stores
            .iter()
            .filter(|s| s.logged && !s.global)
            .map(|s| self.changelog_topic(&s.name))
            .collect()
    }

    /// `{application}-{store}-changelog`.
    pub fn changelog_topic(&self, store: &str) -> String {
        format!("{}-{store}-changelog", self.application_id)
    }

    /// Topics whose partition counts must match.
    pub fn copartition_groups(&self) -> &[CopartitionGroup] {
        &self.copartition_groups
    }

    /// Global tables as (topic, store).
    pub fn global_tables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.globals
            .iter()
            .map(|g| (g.topic.as_str(), g.store.as_str()))
    }

    /// Every topic some source reads (task sources and global tables; repartition topics included).
    pub fn source_topics(&self) -> BTreeSet<String> {
        self.subtopologies
            .iter()
            .flat_map(|s| s.sources.keys().cloned())
            .chain(self.globals.iter().map(|g| g.topic.clone()))
            .collect()
    }

    /// Topics the topology writes and reads back in its own tasks (not repartition topics, not
    /// global tables): every record written there is processed again, so such a topology
    /// loops unless its steps end the chain.
    pub fn feedback_topics(&self) -> Vec<String> {
        let sinks = self.sink_topics();
        let mut out: Vec<String> = self
            .subtopologies
            .iter()
            .flat_map(|s| s.sources.keys())
            .filter(|t| sinks.contains(*t) && !self.repartition_topics.contains(*t))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every fixed topic some sink writes.
    pub fn sink_topics(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Sink {
                    topic: super::SinkTopic::Fixed(t),
                } => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn store_def(&self, name: &str) -> Option<&StoreDef> {
        self.stores.iter().find(|s| s.name == name)
    }
}

/// Union-find over node ids.
struct Components(Vec<usize>);

impl Components {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

fn split(nodes: &[GraphNode], global_stores: &BTreeSet<&str>) -> Vec<SubTopology> {
    let mut uf = Components((0..nodes.len()).collect());
    let mut store_user: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for &p in &n.parents {
            uf.union(i, p);
        }
        for s in n
            .stores
            .iter()
            .filter(|s| !global_stores.contains(s.as_str()))
        {
            if let Some(&j) = store_user.get(s.as_str()) {
                uf.union(i, j);
            } else {
                store_user.insert(s, i);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..nodes.len() {
        let root = uf.find(i);
        groups.entry(root).or_default().push(i);
    }
    groups
        .into_values()
        .enumerate()
        .map(|(id, members)| {
            let local: HashMap<usize, usize> =
                members.iter().enumerate().map(|(l, &g)| (g, l)).collect();
            let mut children = vec![Vec::new(); members.len()];
            for (l, &g) in members.iter().enumerate() {
                for p in &nodes[g].parents {
                    if let Some(&lp) = local.get(p) {
                        children[lp].push(l);
                    }
                }
            }
            let mut sources = BTreeMap::new();
            let mut stores = BTreeSet::new();
            for (l, &g) in members.iter().enumerate() {
                if let NodeKind::Source { topics, .. } = &nodes[g].kind {
                    for t in topics {
                        sources.insert(t.clone(), l);
                    }
                }
                for s in nodes[g]
                    .stores
                    .iter()
                    .filter(|s| !global_stores.contains(s.as_str()))
                {
                    stores.insert(s.clone());
                }
            }
            let names = members.iter().map(|&g| nodes[g].name.clone()).collect();
            SubTopology {
                id,
                nodes: members,
                wiring: Wiring { children, names },
                sources,
                stores: stores.into_iter().collect(),
            }
        })
        .collect()
}
