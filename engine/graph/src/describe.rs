//! `Topology::describe()`: a text description in Kafka Streams' `TopologyDescription` format, so
//! anyone who has read one reads ours. Deterministic: the same graph always prints the same text.

use std::fmt::Write;

use super::{NodeKind, SinkTopic, Topology};

impl Topology {
    /// Sub-topologies with their sources, processors (and stores) and sinks, then global stores.
    pub fn describe(&self) -> String {
        let mut out = String::from("Topologies:\n");
        for sub in &self.subtopologies {
            let _ = writeln!(out, "   Sub-topology: {}", sub.id);
            for (local, &g) in sub.nodes.iter().enumerate() {
                let node = &self.nodes[g];
                match &node.kind {
                    NodeKind::Source { topics, .. } => {
                        let _ = writeln!(
                            out,
                            "    Source: {} (topics: [{}])",
                            node.name,
                            topics.join(", ")
                        );
                    }
                    NodeKind::Processor => {
                        let _ = writeln!(
                            out,
                            "    Processor: {} (stores: [{}])",
                            node.name,
                            node.stores.join(", ")
                        );
                    }
                    NodeKind::Sink { topic } => {
                        let t = match topic {
                            SinkTopic::Fixed(t) => t.as_str(),
                            SinkTopic::Dynamic => "<topic extractor>",
                        };
                        let _ = writeln!(out, "    Sink: {} (topic: {t})", node.name);
                    }
                }
                let children: Vec<&str> = sub.wiring.children[local]
                    .iter()
                    .map(|&c| sub.wiring.names[c].as_str())
                    .collect();
                if !matches!(node.kind, NodeKind::Sink { .. }) {
                    let list = if children.is_empty() {
                        "none".to_owned()
                    } else {
                        children.join(", ")
                    };
                    let _ = writeln!(out, "      --> {list}");
                }
                if !node.parents.is_empty() {
                    let parents: Vec<&str> = node
                        .parents
                        .iter()
                        .map(|&p| self.nodes[p].name.as_str())
                        .collect();
                    let _ = writeln!(out, "      <-- {}", parents.join(", "));
                }
            }
            out.push('\n');
        }
        for (i, g) in self.globals.iter().enumerate() {
            let id = self.subtopologies.len() + i;
            let _ = writeln!(
                out,
                "   Sub-topology: {id} for global store (will not generate tasks)"
            );
            let _ = writeln!(out, "    Source: {} (topics: [{}])", g.source_name, g.topic);
            let _ = writeln!(out, "      --> {}", g.processor_name);
            let _ = writeln!(
                out,
                "    Processor: {} (stores: [{}])",
                g.processor_name, g.store
            );
            let _ = writeln!(out, "      --> none");
            let _ = writeln!(out, "      <-- {}", g.source_name);
            out.push('\n');
        }
        out
    }
}
