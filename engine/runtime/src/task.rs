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
use crate::queues::{Entry, LagFn, PartitionQueues, Queued, Raw};
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
    /// Record queues, for a task that reads several partitions (processed in timestamp order).
    queues: Option<PartitionQueues>,
    /// The dead-letter topic operators may write dropped records to.
    dead_letter: Option<String>,
}

/// A record decoded by its source, ready for the sub-topology.
struct Decoded {
    source: usize,
    msg: Msg,
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
        let queues = (sub.sources.len() > 1).then(|| {
            let mut topics: Vec<&String> = sub.sources.keys().collect();
            topics.sort();
            PartitionQueues::new(
                topics
                    .into_iter()
                    .map(|t| (std::sync::Arc::from(t.as_str()), partition)),
                0,
            )
        });
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
            queues,
            dead_letter: None,
        })
    }

    /// Gives operators a dead-letter topic for records they drop on purpose (late records):
    /// set when the processing handler is `dead_letter`.
    pub fn set_dead_letter_topic(&mut self, topic: Option<String>) {
        self.dead_letter = topic;
    }

    /// Sets `max.task.idle.ms` (see [`crate::queues`]); 0 until set.
    pub fn set_max_task_idle_ms(&mut self, max_idle_ms: i64) {
        if let Some(q) = &self.queues {
            let mut partitions = Vec::new();
            for topic in self.sub.sources.keys() {
                if let Some(t) = q.topic(topic) {
                    partitions.push((t, self.id.partition));
                }
            }
            partitions.sort();
            self.queues = Some(PartitionQueues::new(partitions, max_idle_ms));
        }
    }

    /// Whether the task reads several partitions and so buffers its input to process it in
    /// timestamp order ([`Task::enqueue`], [`Task::next_queued`], [`Task::process_queued`])
    /// instead of record by record ([`Task::process`]).
    pub fn orders_input(&self) -> bool {
        self.queues.is_some()
    }

    /// The task's stream time: the largest timestamp it processed (`i64::MIN` before any).
    pub fn stream_time(&self) -> i64 {
        self.stream_time
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
    /// [`StreamsError::Deserialize`] (an invalid timestamp as
    /// [`StreamsError::InvalidTimestamp`]), everything a node fails with as it is.
    pub fn process(
        &mut self,
        rec: InputRecord<'_>,
        wall_clock: i64,
        collector: &mut dyn RecordCollector,
    ) -> Result<(), StreamsError> {
        let partition_time = self.stream_time.max(-1);
        let Some(decoded) = self.decode(&rec, partition_time)? else {
            return Ok(());
        };
        self.process_decoded(
            decoded,
            rec.topic,
            rec.partition,
            rec.offset,
            wall_clock,
            collector,
        )
    }

    /// Decodes a record and reads its event time; `None`: skipped (a null key, counted).
    fn decode(
        &mut self,
        rec: &InputRecord<'_>,
        partition_time: i64,
    ) -> Result<Option<Decoded>, StreamsError> {
        let Some((source, decoder)) = self.decoders.get(rec.topic) else {
            return Err(StreamsError::UnknownTopic(rec.topic.to_owned()));
        };
        let source = *source;
        let Some((key, value)) = decoder.decode(rec.topic, rec.key, rec.value)? else {
            self.counters.null_key(source);
            return Ok(None);
        };
        let timestamp = decoder.timestamp(
            rec.topic,
            &key,
            value.as_ref(),
            rec.timestamp,
            partition_time,
        )?;
        Ok(Some(Decoded {
            source,
            msg: Msg {
                key,
                value,
                timestamp,
                headers: rec.headers.clone(),
            },
        }))
    }

    fn process_decoded(
        &mut self,
        Decoded { source, msg }: Decoded,
        topic: &str,
        partition: i32,
        offset: i64,
        wall_clock: i64,
        collector: &mut dyn RecordCollector,
    ) -> Result<(), StreamsError> {
        if msg.timestamp > self.stream_time {
            self.stream_time = msg.timestamp;
        }
        if self.meta.topic != topic {
            self.meta.topic = topic.to_owned();
        }
        self.meta.partition = partition;
        self.meta.offset = offset;
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
            dead_letter: self.dead_letter.as_deref(),
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

    /// Decodes `rec` and buffers it behind the records of its partition (a task that
    /// [orders its input](Task::orders_input)). A decoding error comes back as from
    /// [`Task::process`], with nothing buffered: the caller decides, and buffers a
    /// [`Task::enqueue_skipped`] in its place when the record is skipped.
    pub fn enqueue(&mut self, rec: InputRecord<'_>) -> Result<(), StreamsError> {
        let Some(queues) = &self.queues else {
            return Err(StreamsError::Internal(format!(
                "task {} reads one partition; it does not buffer",
                self.id
            )));
        };
        let partition_time = queues.partition_time(rec.topic, rec.partition);
        let Some(topic) = queues.topic(rec.topic) else {
            return Err(StreamsError::UnknownTopic(rec.topic.to_owned()));
        };
        let entry = match self.decode(&rec, partition_time)? {
            Some(Decoded { source, msg }) => Entry::Record {
                source,
                msg,
                raw: Some(Raw {
                    key: rec.key.map(<[u8]>::to_vec),
                    value: rec.value.map(<[u8]>::to_vec),
                    headers: rec.headers.clone(),
                }),
            },
            None => Entry::Skipped,
        };
        self.push(Queued {
            timestamp: match &entry {
                Entry::Record { msg, .. } => msg.timestamp,
                Entry::Skipped => rec.timestamp,
            },
            topic,
            partition: rec.partition,
            offset: rec.offset,
            entry,
        })
    }

    /// Buffers a record that was skipped on the way in (its error was handled), so that the
    /// partition's position moves past it in order.
    pub fn enqueue_skipped(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StreamsError> {
        let Some(t) = self.queues.as_ref().and_then(|q| q.topic(topic)) else {
            return Err(StreamsError::UnknownTopic(topic.to_owned()));
        };
        self.push(Queued {
            topic: t,
            partition,
            offset,
            timestamp: -1,
            entry: Entry::Skipped,
        })
    }

    fn push(&mut self, q: Queued) -> Result<(), StreamsError> {
        let (topic, partition) = (q.topic.clone(), q.partition);
        let pushed = match &mut self.queues {
            Some(queues) => queues.push(q),
            None => false,
        };
        if pushed {
            Ok(())
        } else {
            Err(StreamsError::UnknownTopic(format!("{topic}-{partition}")))
        }
    }

    /// The next buffered record to process, when the task may process now (see
    /// [`crate::queues`]): `lag(topic, partition, next offset)` tells how many records of an
    /// empty partition are on the broker, not fetched yet.
    pub fn next_queued(&mut self, wall_clock: i64, lag: &mut LagFn<'_>) -> Option<Queued> {
        self.queues.as_mut()?.next(wall_clock, lag)
    }

    /// Records buffered for a partition (the caller pauses it when there are many).
    pub fn buffered(&self, topic: &str, partition: i32) -> usize {
        self.queues
            .as_ref()
            .map_or(0, |q| q.len_of(topic, partition))
    }

    /// Records buffered in all.
    pub fn buffered_total(&self) -> usize {
        self.queues.as_ref().map_or(0, PartitionQueues::len)
    }

    /// Drops what is buffered (the caller rewinds its consumer to the committed offsets).
    pub fn clear_queues(&mut self) {
        if let Some(q) = &mut self.queues {
            q.clear();
        }
    }

    /// Processes a record [`Task::next_queued`] gave (a skipped one does nothing).
    pub fn process_queued(
        &mut self,
        q: Queued,
        wall_clock: i64,
        collector: &mut dyn RecordCollector,
    ) -> Result<(), StreamsError> {
        match q.entry {
            Entry::Skipped => Ok(()),
            Entry::Record { source, msg, .. } => self.process_decoded(
                Decoded { source, msg },
                &q.topic,
                q.partition,
                q.offset,
                wall_clock,
                collector,
            ),
        }
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
                dead_letter: self.dead_letter.as_deref(),
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
