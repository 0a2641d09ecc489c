//! The abort index: per topic-partition, what the log says about transactions — which are still
//! open (and where each began), which aborted (first offset and marker offset) — built by
//! reading the partition's log itself (read-uncommitted, control batches included) from offset
//! 0 up to its current end, incrementally: each catch-up reads only what was appended since.
//!
//! It is the source of truth for the proxy's `aborted_transactions` and `last_stable_offset`.
//! Invariants: everything below [`PartitionTxns::next`] has been applied, in offset order; a
//! producer has at most one open transaction per partition (Kafka's rule), closed by its next
//! COMMIT or ABORT marker. It does not read committed transactions' records, nor keep them.
//!
//! Limits: the log must start at offset 0 (no deleted records; the tests' topics never delete)
//! and be a v2 log (tansu writes nothing else).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::wire::{BatchHeader, batch_headers, fetch_v4};

/// How long a catch-up fetch lets the broker wait for data: tansu answers a fetch with
/// `max_wait_ms = 0` without reading anything, so not zero.
const CATCH_UP_WAIT: Duration = Duration::from_millis(1);
/// Fetch rounds per partition and catch-up, so a log that grows as fast as it is read cannot
/// hold a response back for ever (what was not read is then withheld, see `filter`).
const MAX_ROUNDS: usize = 64;
/// Connect and read timeout for the index's own connection to the broker.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One aborted transaction of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    pub(crate) producer_id: i64,
    /// The offset of its first record in the partition.
    pub(crate) first_offset: i64,
    /// The offset of its ABORT marker.
    pub(crate) marker_offset: i64,
}

/// What one partition's log says about transactions, up to [`PartitionTxns::next`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartitionTxns {
    next: i64,
    /// Open transactions: producer id → the offset of its first record.
    open: HashMap<i64, i64>,
    /// Aborted transactions in marker order (so sorted by `marker_offset`).
    aborted: Vec<AbortedTxn>,
    committed: u64,
}

impl PartitionTxns {
    /// The next offset to read: every batch below it has been applied.
    pub(crate) fn next(&self) -> i64 {
        self.next
    }

    /// The first offset of the earliest transaction still open: the last stable offset.
    pub(crate) fn first_open(&self) -> Option<i64> {
        self.open.values().copied().min()
    }

    /// How many transactions committed and aborted so far.
    pub(crate) fn decided(&self) -> (u64, usize) {
        (self.committed, self.aborted.len())
    }

    /// Applies batches read from the log (in offset order; those wholly below `next`, read
    /// again, are skipped). Returns whether `next` moved.
    pub(crate) fn apply(&mut self, batches: &[BatchHeader]) -> bool {
        let before = self.next;
        for b in batches {
            if b.last_offset < self.next {
                continue;
            }
            match b.control {
                Some(commit) => {
                    // A marker without an open transaction here (nothing was written to this
                    // partition in it) decides nothing here.
                    if let Some(first) = self.open.remove(&b.producer_id) {
                        if commit {
                            self.committed += 1;
                        } else {
                            self.aborted.push(AbortedTxn {
                                producer_id: b.producer_id,
                                first_offset: first,
                                marker_offset: b.base_offset,
                            });
                        }
                    }
                }
                None if b.transactional => {
                    self.open.entry(b.producer_id).or_insert(b.base_offset);
                }
                None => {}
            }
            self.next = b.last_offset.saturating_add(1);
        }
        self.next != before
    }

    /// The aborted transactions that overlap offsets `from..=to`: begun at or before `to`,
    /// ended (marker) at or after `from` — what a Kafka broker lists for a fetch of that range.
    /// One whose marker lies before `from` must not be listed: the consumer would not see the
    /// marker that ends it and would drop that producer's next, committed, transaction.
    pub(crate) fn aborted_overlapping(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|a| a.marker_offset < from);
        self.aborted
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter(|a| a.first_offset <= to)
            .copied()
            .collect()
    }
}

/// The index over every partition the proxy has seen a read-committed fetch of, with its own
/// connection to the broker.
#[derive(Debug)]
pub(crate) struct AbortIndex {
    broker: SocketAddr,
    conn: Option<TcpStream>,
    correlation: i32,
    partitions: HashMap<(String, i32), PartitionTxns>,
}

impl AbortIndex {
    pub(crate) fn new(broker: SocketAddr) -> Self {
        AbortIndex {
            broker,
            conn: None,
            correlation: 0,
            partitions: HashMap::new(),
        }
    }

    /// The index of `topic`'s `partition`, when it has been read.
    pub(crate) fn get(&self, topic: &str, partition: i32) -> Option<&PartitionTxns> {
        self.partitions.get(&(topic.to_owned(), partition))
    }

    /// Every partition read so far.
    pub(crate) fn partitions(&self) -> impl Iterator<Item = (&(String, i32), &PartitionTxns)> {
        self.partitions.iter()
    }

    /// Reads `topic`'s `partition` from where the index stopped to the log's current end (a
    /// fetch that brings nothing new). On an error the connection is dropped (the next
    /// catch-up opens a new one) and what was read stays applied.
    pub(crate) fn catch_up(&mut self, topic: &str, partition: i32) -> Result<(), String> {
        let key = (topic.to_owned(), partition);
        for _ in 0..MAX_ROUNDS {
            let next = self.partitions.get(&key).map_or(0, PartitionTxns::next);
            let fetched = match self.fetch(topic, partition, next) {
                Ok(f) => f,
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            };
            let mut progress = false;
            for f in fetched {
                if f.topic != topic || f.partition != partition {
                    continue;
                }
                if f.error != 0 {
                    return Err(format!(
                        "reading {topic}/{partition} from {next}: error code {}",
                        f.error
                    ));
                }
                let batches = batch_headers(&f.records)
                    .map_err(|e| format!("reading {topic}/{partition} from {next}: {e}"))?;
                progress |= self
                    .partitions
                    .entry(key.clone())
                    .or_default()
                    .apply(&batches);
            }
            if !progress {
                return Ok(());
            }
        }
        Ok(())
    }

    fn fetch(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<Vec<crate::wire::FetchedPartition>, String> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let c = TcpStream::connect_timeout(&self.broker, IO_TIMEOUT)
                    .map_err(|e| format!("abort index: connect {}: {e}", self.broker))?;
                c.set_read_timeout(Some(IO_TIMEOUT))
                    .and_then(|()| c.set_nodelay(true))
                    .map_err(|e| format!("abort index: {e}"))?;
                self.conn.insert(c)
            }
        };
        self.correlation = self.correlation.wrapping_add(1);
        fetch_v4(
            conn,
            self.correlation,
            &[(topic, partition, offset)],
            CATCH_UP_WAIT,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(base: i64, last: i64, pid: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            last_offset: last,
            producer_id: pid,
            transactional: true,
            control: None,
            end: 0,
        }
    }
    fn plain(base: i64, last: i64) -> BatchHeader {
        BatchHeader {
            transactional: false,
            ..data(base, last, -1)
        }
    }
    fn marker(at: i64, pid: i64, commit: bool) -> BatchHeader {
        BatchHeader {
            control: Some(commit),
            ..data(at, at, pid)
        }
    }

    #[test]
    fn tracks_open_committed_and_aborted_transactions() {
        let mut t = PartitionTxns::default();
        assert!(t.apply(&[data(0, 1, 7), plain(2, 2), data(3, 4, 8)]));
        assert_eq!(t.first_open(), Some(0));
        assert!(t.apply(&[marker(5, 7, false), data(6, 6, 7)]));
        assert_eq!(t.first_open(), Some(3));
        assert!(t.apply(&[marker(7, 8, true), marker(8, 7, true), marker(9, 9, false)]));
        assert_eq!(t.first_open(), None);
        assert_eq!(t.next(), 10);
        assert_eq!(t.decided(), (2, 1));
        assert_eq!(
            t.aborted_overlapping(0, 100),
            vec![AbortedTxn {
                producer_id: 7,
                first_offset: 0,
                marker_offset: 5
            }]
        );
        // Read again from an earlier offset: nothing changes.
        let before = t.clone();
        assert!(!t.apply(&[data(3, 4, 8), marker(9, 9, false)]));
        assert_eq!(t, before);
    }

    #[test]
    fn overlap_is_by_first_offset_and_marker() {
        let mut t = PartitionTxns::default();
        t.apply(&[
            data(0, 0, 1),
            data(1, 1, 2),
            marker(2, 1, false),
            data(3, 3, 1),
            marker(4, 2, false),
            marker(5, 1, false),
        ]);
        let pids = |from, to| -> Vec<(i64, i64)> {
            t.aborted_overlapping(from, to)
                .iter()
                .map(|a| (a.producer_id, a.first_offset))
                .collect()
        };
        assert_eq!(pids(0, 5), vec![(1, 0), (2, 1), (1, 3)]);
        assert_eq!(pids(0, 0), vec![(1, 0)]);
        // Producer 1's first abort ended at 2: not listed for a fetch from 3.
        assert_eq!(pids(3, 5), vec![(2, 1), (1, 3)]);
        assert_eq!(pids(5, 9), vec![(1, 3)]);
        assert_eq!(pids(6, 9), vec![]);
    }
}
