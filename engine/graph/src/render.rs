//! `Topology::to_dot()` and `Topology::to_mermaid()`: the graph `describe()` prints, as a Graphviz
//! digraph or a Mermaid flowchart, for `weir describe --format dot|mermaid`.
//!
//! Owns: the drawing model ([`Drawing`]) collected once from the topology, and its two
//! renderings. Does not own: the text format (`describe.rs`), layout (left to the renderers).
//!
//! What is drawn:
//! * each sub-topology is a cluster (dot) / subgraph (Mermaid) holding its sources, processors,
//!   sinks and task-local stores; each global store is a cluster of its own;
//! * topics are nodes of their own shape outside the clusters: `topic → source` and
//!   `sink → topic` edges, so a repartition topic links the two sub-topologies it connects;
//! * stores are cylinders joined to the processors that use them by dashed, undirected edges.
//!
//! Invariants: node ids are generated (`n3`, `t0`, `s1`, `g0s`), never derived from names, so they
//! are valid identifiers in both languages whatever the names hold (`-`, spaces, quotes); names
//! appear only in escaped labels. The output is deterministic: topics and stores are sorted.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{NodeKind, SinkTopic, Topology};

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Source,
    Processor,
    Sink,
    Topic,
    /// A sink's per-record topic choice (no fixed topic to draw).
    TopicExtractor,
    Store,
}

#[derive(Debug)]
struct DrawnNode {
    id: String,
    label: String,
    shape: Shape,
}

#[derive(Debug)]
struct Cluster {
    id: String,
    label: String,
    nodes: Vec<DrawnNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    /// Records flow from → to.
    Flow,
    /// A processor uses a store.
    Store,
}

/// The topology as clusters, free nodes (topics, global stores) and edges.
#[derive(Debug, Default)]
struct Drawing {
    clusters: Vec<Cluster>,
    free: Vec<DrawnNode>,
    edges: Vec<(String, String, EdgeKind)>,
}

impl Drawing {
    fn of(t: &Topology) -> Drawing {
        let mut d = Drawing::default();
        // Topics and stores get ids by sorted name.
        let mut topics: BTreeMap<&str, String> = BTreeMap::new();
        for n in &t.nodes {
            match &n.kind {
                NodeKind::Source { topics: ts, .. } => {
                    for x in ts {
                        topics.insert(x, String::new());
                    }
                }
                NodeKind::Sink {
                    topic: SinkTopic::Fixed(x),
                } => {
                    topics.insert(x, String::new());
                }
                _ => {}
            }
        }
        for g in &t.globals {
            topics.insert(&g.topic, String::new());
        }
        for (i, (name, id)) in topics.iter_mut().enumerate() {
            *id = format!("t{i}");
            d.free.push(DrawnNode {
                id: id.clone(),
                label: (*name).to_owned(),
                shape: Shape::Topic,
            });
        }
        let mut stores: BTreeMap<&str, String> = t
            .stores
            .iter()
            .map(|s| (s.name.as_str(), String::new()))
            .collect();
        for (i, id) in stores.values_mut().enumerate() {
            *id = format!("s{i}");
        }
        let store_node = |name: &str, id: &str| DrawnNode {
            id: id.to_owned(),
            label: name.to_owned(),
            shape: Shape::Store,
        };
        let mut drawn_stores = std::collections::BTreeSet::new();
        for sub in &t.subtopologies {
            let mut cluster = Cluster {
                id: format!("sub{}", sub.id),
                label: format!("Sub-topology {}", sub.id),
                nodes: Vec::new(),
            };
            for &g in &sub.nodes {
                let node = &t.nodes[g];
                let id = format!("n{g}");
                for &p in &node.parents {
                    d.edges.push((format!("n{p}"), id.clone(), EdgeKind::Flow));
                }
                let shape = match &node.kind {
                    NodeKind::Source { topics: ts, .. } => {
                        for x in ts {
                            if let Some(tid) = topics.get(x.as_str()) {
                                d.edges.push((tid.clone(), id.clone(), EdgeKind::Flow));
                            }
                        }
                        Shape::Source
                    }
                    NodeKind::Processor => Shape::Processor,
                    NodeKind::Sink { topic } => {
                        let tid = match topic {
                            SinkTopic::Fixed(x) => topics.get(x.as_str()).cloned(),
                            SinkTopic::Dynamic => {
                                let tid = format!("x{g}");
                                d.free.push(DrawnNode {
                                    id: tid.clone(),
                                    label: "<topic extractor>".into(),
                                    shape: Shape::TopicExtractor,
                                });
                                Some(tid)
                            }
                        };
                        if let Some(tid) = tid {
                            d.edges.push((id.clone(), tid, EdgeKind::Flow));
                        }
                        Shape::Sink
                    }
                };
                for s in &node.stores {
                    if let Some(sid) = stores.get(s.as_str()) {
                        d.edges.push((id.clone(), sid.clone(), EdgeKind::Store));
                    }
                }
                cluster.nodes.push(DrawnNode {
                    id,
                    label: node.name.clone(),
                    shape,
                });
            }
            for s in &sub.stores {
                if let Some(sid) = stores.get(s.as_str())
                    && drawn_stores.insert(s.as_str())
                {
                    cluster.nodes.push(store_node(s, sid));
                }
            }
            d.clusters.push(cluster);
        }
        for (i, g) in t.globals.iter().enumerate() {
            let id = t.subtopologies.len() + i;
            let (src, proc_) = (format!("g{i}s"), format!("g{i}p"));
            let mut cluster = Cluster {
                id: format!("sub{id}"),
                label: format!("Sub-topology {id} (global store)"),
                nodes: vec![
                    DrawnNode {
                        id: src.clone(),
                        label: g.source_name.clone(),
                        shape: Shape::Source,
                    },
                    DrawnNode {
                        id: proc_.clone(),
                        label: g.processor_name.clone(),
                        shape: Shape::Processor,
                    },
                ],
            };
            if let Some(tid) = topics.get(g.topic.as_str()) {
                d.edges.push((tid.clone(), src.clone(), EdgeKind::Flow));
            }
            d.edges.push((src, proc_.clone(), EdgeKind::Flow));
            if let Some(sid) = stores.get(g.store.as_str()) {
                if drawn_stores.insert(g.store.as_str()) {
                    cluster.nodes.push(store_node(&g.store, sid));
                }
                d.edges.push((proc_, sid.clone(), EdgeKind::Store));
            }
            d.clusters.push(cluster);
        }
        // Stores no sub-topology claimed (e.g. declared but unused) still show.
        for (name, sid) in &stores {
            if !drawn_stores.contains(name) {
                d.free.push(store_node(name, sid));
            }
        }
        d
    }
}

/// A double-quoted dot string.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A double-quoted Mermaid label (quotes and markup characters as entity codes).
fn mermaid_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot_node(out: &mut String, indent: &str, n: &DrawnNode) {
    let attrs = match n.shape {
        Shape::Source => "shape=box, style=rounded",
        Shape::Processor => "shape=box",
        Shape::Sink => "shape=box, style=\"rounded,bold\"",
        Shape::Topic => "shape=cds",
        Shape::TopicExtractor => "shape=cds, style=dashed",
        Shape::Store => "shape=cylinder",
    };
    let _ = writeln!(
        out,
        "{indent}{} [label={}, {attrs}];",
        n.id,
        dot_str(&n.label)
    );
}

fn mermaid_node(out: &mut String, indent: &str, n: &DrawnNode) {
    let label = mermaid_str(&n.label);
    let _ = match n.shape {
        Shape::Source => writeln!(out, "{indent}{}([{label}])", n.id),
        Shape::Processor => writeln!(out, "{indent}{}[{label}]", n.id),
        Shape::Sink => writeln!(out, "{indent}{}[/{label}/]", n.id),
        Shape::Topic | Shape::TopicExtractor => writeln!(out, "{indent}{}>{label}]", n.id),
        Shape::Store => writeln!(out, "{indent}{}[({label})]", n.id),
    };
}

impl Topology {
    /// The topology as a Graphviz digraph (`dot -Tsvg`): sub-topologies as clusters, topics as
    /// `cds` nodes, stores as cylinders joined to their processors by dashed edges.
    pub fn to_dot(&self) -> String {
        let d = Drawing::of(self);
        let mut out = format!("digraph {} {{\n", dot_str(&self.application_id));
        out.push_str("  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        for c in &d.clusters {
            let _ = writeln!(out, "  subgraph cluster_{} {{", c.id);
            let _ = writeln!(out, "    label={};", dot_str(&c.label));
            for n in &c.nodes {
                dot_node(&mut out, "    ", n);
            }
            out.push_str("  }\n");
        }
        for n in &d.free {
            dot_node(&mut out, "  ", n);
        }
        for (from, to, kind) in &d.edges {
            let _ = match kind {
                EdgeKind::Flow => writeln!(out, "  {from} -> {to};"),
                EdgeKind::Store => writeln!(out, "  {from} -> {to} [style=dashed, dir=none];"),
            };
        }
        out.push_str("}\n");
        out
    }

    /// The topology as a Mermaid flowchart: sub-topologies as subgraphs, topics as flag nodes,
    /// stores as cylinders joined to their processors by dotted links.
    pub fn to_mermaid(&self) -> String {
        let d = Drawing::of(self);
        let mut out = String::from("flowchart LR\n");
        for c in &d.clusters {
            let _ = writeln!(out, "  subgraph {}[{}]", c.id, mermaid_str(&c.label));
            for n in &c.nodes {
                mermaid_node(&mut out, "    ", n);
            }
            out.push_str("  end\n");
        }
        for n in &d.free {
            mermaid_node(&mut out, "  ", n);
        }
        for (from, to, kind) in &d.edges {
            let _ = match kind {
                EdgeKind::Flow => writeln!(out, "  {from} --> {to}"),
                EdgeKind::Store => writeln!(out, "  {from} -.- {to}"),
            };
        }
        out
    }
}
