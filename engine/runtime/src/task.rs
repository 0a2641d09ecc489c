//! A task: one sub-topology instantiated for one partition, with its own nodes and stores.
//!
//! The task is the unit the runtime assigns, commits and moves; the test driver runs the very same
//! type. It owns: decoding input records for its sources, pushing them depth-first through its
//! nodes, stream time, punctuation. It does not own: consuming, producing, committing (the stream
//! thread does those through a [`RecordCollector`] and the task's stores).

use foldhash::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::collector::RecordCollector;
use crate::node::{Ctx, InitCtx, Msg, Node};
use crate::stores::TaskStores;
use crate::time::{PunctuationType, Punctuations};
use weir_core::error::StreamsError;
use weir_core::record::{Headers, RecordMetadata};
use weir_graph::{SourceDecoder, SubTopology, Topology};

/// `(sub-topology, partition)`, printed `0_3` as in Kafka Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    pub subtopology: usize,
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// One input record as consumed, still serialized.
#[derive(Debug, Clone, Copy)]
pub struct InputRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a Headers,
}

pub struct Task {
    id: TaskId,
    application_id: Arc<str>,
    sub: SubTopology,
    nodes: Vec<Option<Box<dyn Node>>>,
    decoders: HashMap<String, (usize, Arc<dyn SourceDecoder>)>,
    stores: TaskStores,
    punctuations: Punctuations,
    stream_time: i64,
    meta: RecordMetadata,
    counters: weir_core::metrics::TaskCounters,
}

impl Task {
    /// Instantiates sub-topology `sub` of `topology` for `partition` over `stores` (already
    /// opened and restored by the caller) and initializes every node.
    pub fn new(
        topology: &Topology,
        sub: usize,
        partition: i32,
        stores: TaskStores,
        wall_clock: i64,
    ) -> Result<Task, StreamsError> {
        let sub = topology
            .subtopologies
            .get(sub)
            .cloned()
            .ok_or_else(|| StreamsError::Internal(format!("no sub-topology {sub}")))?;
        let id = TaskId {
            subtopology: sub.id,
            partition,
        };
        let mut nodes: Vec<Option<Box<dyn Node>>> = sub
            .nodes
            .iter()
            .map(|&g| {
                let node = &topology.nodes[g];
                crate::node::instantiate(&node.name, &node.factory).map(Some)
            })
            .collect::<Result<_, _>>()?;
        let mut decoders = HashMap::default();
        for (topic, &local) in &sub.sources {
            if let weir_graph::NodeKind::Source { decoder, .. } =
                &topology.nodes[sub.nodes[local]].kind
            {
                decoders.insert(topic.clone(), (local, decoder.clone()));
            }
        }
        let mut punctuations = Punctuations::default();
        for (local, node) in nodes.iter_mut().enumerate() {
            if let Some(node) = node {
                let mut ictx = InitCtx {
                    node: local,
                    name: &sub.wiring.names[local],
                    wall_clock,
                    stores: &stores,
                    punctuations: &mut punctuations,
                    application_id: &topology.application_id,
                    task: id,
                };
                node.init(&mut ictx)?;
            }
        }
        let counters =
            weir_core::metrics::TaskCounters::new(&topology.application_id, &sub.wiring.names);
        Ok(Task {
            id,
            application_id: Arc::from(topology.application_id.as_str()),
            sub,
            nodes,
            decoders,
            stores,
            punctuations,
            stream_time: i64::MIN,
            meta: RecordMetadata::default(),
            counters,
        })
    }

    pub fn id(&self) -> TaskId {
        self.id
    }

    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    pub fn stores(&self) -> &TaskStores {
        &self.stores
    }

    pub fn stores_mut(&mut self) -> &mut TaskStores {
        &mut self.stores
    }

    /// Decodes `rec` and pushes it through the sub-topology. Decoding errors come back as
    /// [`StreamsError::Deserialize`], everything a node fails with as it is.
    pub fn process(
        &mut self,
        rec: InputRecord<'_>,
        wall_clock: i64,
        collector: &mut dyn RecordCollector,
    ) -> Result<(), StreamsError> {
        let Some((source, decoder)) = self.decoders.get(rec.topic) else {
            return Err(StreamsError::UnknownTopic(rec.topic.to_owned()));
        };
        let source = *source;
        let Some((key, value)) = decoder.decode(rec.topic, rec.key, rec.value)? else {
            self.counters.null_key(source);
            return Ok(());
        };
        if rec.timestamp > self.stream_time {
            self.stream_time = rec.timestamp;
        }
        if self.meta.topic != rec.topic {
            self.meta.topic = rec.topic.to_owned();
        }
        self.meta.partition = rec.partition;
        self.meta.offset = rec.offset;
        let msg = Msg {
            key,
            value,
            timestamp: rec.timestamp,
            headers: rec.headers.clone(),
        };
        let mut ctx = Ctx {
            node: source,
            wiring: &self.sub.wiring,
            nodes: &mut self.nodes,
            stores: &mut self.stores,
            collector,
            meta: Some(&self.meta),
            punctuations: &mut self.punctuations,
            stream_time: self.stream_time,
            wall_clock,
            task: self.id,
            application_id: &self.application_id,
            counters: &self.counters,
        };
        ctx.run(source, msg)?;
        if !self.punctuations.is_empty() {
            self.punctuate(
                PunctuationType::StreamTime,
                self.stream_time,
                wall_clock,
                collector,
            )?;
        }
        Ok(())
    }

    /// Fires the punctuations of `kind` that are due at `now`.
    pub fn punctuate(
        &mut self,
        kind: PunctuationType,
        now: i64,
        wall_clock: i64,
        collector: &mut dyn RecordCollector,
    ) -> Result<(), StreamsError> {
        for (node, id, ts) in self.punctuations.due(kind, now) {
            let Some(mut n) = self.nodes.get_mut(node).and_then(Option::take) else {
                continue;
            };
            let mut ctx = Ctx {
                node,
                wiring: &self.sub.wiring,
                nodes: &mut self.nodes,
                stores: &mut self.stores,
                collector: &mut *collector,
                meta: None,
                punctuations: &mut self.punctuations,
                stream_time: self.stream_time,
                wall_clock,
                task: self.id,
                application_id: &self.application_id,
                counters: &self.counters,
            };
            let r = n.punctuate(&mut ctx, id, ts);
            self.nodes[node] = Some(n);
            r?;
        }
        Ok(())
    }

    /// Closes every node, then every store.
    pub fn close(&mut self) -> Result<(), StreamsError> {
        for n in self.nodes.iter_mut().flatten() {
            n.close();
        }
        for s in self.stores.locals_mut() {
            s.close()?;
        }
        Ok(())
    }
}
