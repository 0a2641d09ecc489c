//! The record queues of a task that reads several partitions (a stream and the table it joins,
//! two joined streams, merged topics), and the choice of what it processes next.
//!
//! As Kafka Streams' `PartitionGroup`: records are buffered per input partition, already decoded
//! and with their event time; the task always processes the buffered record with the smallest
//! timestamp, so a table update at time t is applied before a stream record at t + 1 whatever
//! order the consumer fetched them in. When some partition has nothing buffered the task may
//! have to wait for it — `max.task.idle.ms`, with KIP-695's semantics:
//! * `-1`: never wait; process what is buffered;
//! * `0` (default): wait only while the empty partition has data on the broker that is not
//!   fetched yet (its lag is unknown or positive); once it is caught up, go on;
//! * `n > 0`: as 0, and then wait `n` ms more of wall-clock time for new data before going on.
//!
//! Owns: the queues, partition time (the largest timestamp seen per partition, which
//! extractors get) and the idle deadline. Does not own: fetching, lag (the caller knows its
//! consumer), decoding (the task).

use std::collections::VecDeque;
use std::sync::Arc;

use weir_core::datum::Msg;
use weir_core::record::Headers;

/// One buffered input record.
pub struct Queued {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// The record's event time (its timestamp extractor's).
    pub timestamp: i64,
    pub entry: Entry,
}

/// What a queued record is.
pub enum Entry {
    /// A decoded record to process: the source node, the record, and its bytes and headers as
    /// consumed (dead letters carry them).
    Record {
        source: usize,
        msg: Msg,
        /// `None` once taken ([`Queued::take_raw`]).
        raw: Option<Raw>,
    },
    /// A record that was skipped when it was buffered (undecodable and handled, or a null key):
    /// it only moves the partition's position when its turn comes.
    Skipped,
}

/// A record's bytes and headers as consumed.
pub struct Raw {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Headers,
}

impl Queued {
    /// Takes the record's bytes and headers as consumed (to dead-letter it if it fails).
    pub fn take_raw(&mut self) -> Option<Raw> {
        match &mut self.entry {
            Entry::Record { raw, .. } => raw.take(),
            Entry::Skipped => None,
        }
    }
}

struct PartitionQueue {
    topic: Arc<str>,
    partition: i32,
    records: VecDeque<Queued>,
    /// The largest timestamp buffered so far (Kafka Streams' partition time); -1 before any.
    time: i64,
    /// The offset after the last record buffered, once one was.
    next_offset: Option<i64>,
}

/// The queues of one task, one per input partition.
pub struct PartitionQueues {
    parts: Vec<PartitionQueue>,
    max_idle_ms: i64,
    /// When the task started waiting for caught-up empty partitions (`max.task.idle.ms` > 0).
    idle_since: Option<i64>,
    buffered: usize,
}

/// What the caller knows of an input partition's lag: records on the broker after `next_offset`
/// (the offset after the last record fetched, or `None` when nothing was fetched yet); `None`
/// when not known yet.
pub type LagFn<'a> = dyn FnMut(&str, i32, Option<i64>) -> Option<i64> + 'a;

impl PartitionQueues {
    /// Queues for `partitions`, waiting per `max_idle_ms` (see the module doc).
    pub fn new(partitions: impl IntoIterator<Item = (Arc<str>, i32)>, max_idle_ms: i64) -> Self {
        PartitionQueues {
            parts: partitions
                .into_iter()
                .map(|(topic, partition)| PartitionQueue {
                    topic,
                    partition,
                    records: VecDeque::new(),
                    time: -1,
                    next_offset: None,
                })
                .collect(),
            max_idle_ms,
            idle_since: None,
            buffered: 0,
        }
    }

    fn part(&self, topic: &str, partition: i32) -> Option<&PartitionQueue> {
        self.parts
            .iter()
            .find(|p| p.partition == partition && &*p.topic == topic)
    }

    /// The largest timestamp buffered for a partition so far (-1 before any).
    pub fn partition_time(&self, topic: &str, partition: i32) -> i64 {
        self.part(topic, partition).map_or(-1, |p| p.time)
    }

    /// The topic name as the queues share it, to build a [`Queued`] without allocating.
    pub fn topic(&self, topic: &str) -> Option<Arc<str>> {
        self.parts
            .iter()
            .find(|p| &*p.topic == topic)
            .map(|p| p.topic.clone())
    }

    /// Buffers `q` behind the records of its partition; `false` when the task does not read
    /// that partition.
    pub fn push(&mut self, q: Queued) -> bool {
        let Some(part) = self
            .parts
            .iter_mut()
            .find(|p| p.partition == q.partition && p.topic == q.topic)
        else {
            return false;
        };
        if matches!(q.entry, Entry::Record { .. }) {
            part.time = part.time.max(q.timestamp);
        }
        part.next_offset = Some(q.offset.saturating_add(1));
        part.records.push_back(q);
        self.buffered += 1;
        true
    }

    /// Records buffered for one partition.
    pub fn len_of(&self, topic: &str, partition: i32) -> usize {
        self.part(topic, partition).map_or(0, |p| p.records.len())
    }

    /// Records buffered in all.
    pub fn len(&self) -> usize {
        self.buffered
    }

    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    /// Drops everything buffered (the task closes or rewinds).
    pub fn clear(&mut self) {
        for p in &mut self.parts {
            p.records.clear();
            p.next_offset = None;
        }
        self.idle_since = None;
        self.buffered = 0;
    }

    /// Whether the task may process now (see the module doc), at `wall_clock` ms.
    fn ready(&mut self, wall_clock: i64, lag: &mut LagFn<'_>) -> bool {
        if self.buffered == 0 {
            return false;
        }
        if self.parts.iter().all(|p| !p.records.is_empty()) || self.max_idle_ms < 0 {
            self.idle_since = None;
            return true;
        }
        for p in self.parts.iter().filter(|p| p.records.is_empty()) {
            match lag(&p.topic, p.partition, p.next_offset) {
                Some(0) => {}
                // Data is on the broker, or not known yet: it will be fetched, wait for it.
                _ => return false,
            }
        }
        if self.max_idle_ms == 0 {
            return true;
        }
        let since = *self.idle_since.get_or_insert(wall_clock);
        wall_clock.saturating_sub(since) >= self.max_idle_ms
    }

    /// The next record to process, if the task may process now: a skipped record at the head of
    /// a partition first (it costs nothing), else the head with the smallest timestamp (the
    /// first partition wins a tie).
    pub fn next(&mut self, wall_clock: i64, lag: &mut LagFn<'_>) -> Option<Queued> {
        if let Some(p) = self
            .parts
            .iter_mut()
            .find(|p| matches!(p.records.front(), Some(q) if matches!(q.entry, Entry::Skipped)))
        {
            self.buffered -= 1;
            return p.records.pop_front();
        }
        if !self.ready(wall_clock, lag) {
            return None;
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, p) in self.parts.iter().enumerate() {
            if let Some(q) = p.records.front()
                && best.is_none_or(|(_, t)| q.timestamp < t)
            {
                best = Some((i, q.timestamp));
            }
        }
        let (i, _) = best?;
        let q = self.parts[i].records.pop_front();
        if q.is_some() {
            self.buffered -= 1;
            if self.parts[i].records.is_empty() {
                // A partition ran dry: a new wait starts from here.
                self.idle_since = None;
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &Arc<str>, offset: i64, timestamp: i64) -> Queued {
        Queued {
            topic: topic.clone(),
            partition: 0,
            offset,
            timestamp,
            entry: Entry::Record {
                source: 0,
                msg: Msg {
                    key: Box::new(()),
                    value: None,
                    timestamp,
                    headers: Headers::default(),
                },
                raw: None,
            },
        }
    }

    fn order(q: &mut PartitionQueues, wall: i64, lag: &mut LagFn<'_>) -> Vec<(String, i64)> {
        std::iter::from_fn(|| q.next(wall, lag))
            .map(|r| (r.topic.to_string(), r.offset))
            .collect()
    }

    #[test]
    fn smallest_timestamp_first_once_every_partition_has_data() {
        let (a, b): (Arc<str>, Arc<str>) = ("stream".into(), "table".into());
        let mut q = PartitionQueues::new([(a.clone(), 0), (b.clone(), 0)], 0);
        q.push(record(&a, 0, 10));
        q.push(record(&a, 1, 30));
        // The table's partition is empty and has data on the broker: wait.
        assert!(q.next(0, &mut |_, _, _| Some(5)).is_none());
        // ... or its lag is not known yet: wait too.
        assert!(q.next(0, &mut |_, _, _| None).is_none());
        q.push(record(&b, 0, 20));
        q.push(record(&b, 1, 40));
        let mut caught_up = |_: &str, _: i32, _: Option<i64>| Some(0);
        assert_eq!(
            order(&mut q, 0, &mut caught_up),
            [("stream", 0), ("table", 0), ("stream", 1), ("table", 1)]
                .map(|(t, o)| (t.to_owned(), o))
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_caught_up_partition_is_waited_for_max_task_idle_ms() {
        let (a, b): (Arc<str>, Arc<str>) = ("stream".into(), "table".into());
        let mut q = PartitionQueues::new([(a.clone(), 0), (b.clone(), 0)], 100);
        q.push(record(&a, 0, 10));
        let mut caught_up = |_: &str, _: i32, _: Option<i64>| Some(0);
        assert!(q.next(1_000, &mut caught_up).is_none());
        assert!(q.next(1_099, &mut caught_up).is_none());
        assert_eq!(q.next(1_100, &mut caught_up).map(|r| r.offset), Some(0));
    }

    #[test]
    fn minus_one_never_waits_and_skips_go_first() {
        let (a, b): (Arc<str>, Arc<str>) = ("stream".into(), "table".into());
        let mut q = PartitionQueues::new([(a.clone(), 0), (b.clone(), 0)], -1);
        q.push(record(&a, 0, 10));
        q.push(Queued {
            entry: Entry::Skipped,
            ..record(&b, 7, 0)
        });
        assert_eq!(q.partition_time("table", 0), -1);
        let mut unknown = |_: &str, _: i32, _: Option<i64>| None;
        assert_eq!(
            order(&mut q, 0, &mut unknown),
            [("table", 7), ("stream", 0)].map(|(t, o)| (t.to_owned(), o))
        );
        assert!(!q.push(Queued {
            partition: 3,
            ..record(&a, 0, 0)
        }));
    }
}
