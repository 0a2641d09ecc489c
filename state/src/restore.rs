//! Restore planning and restore batches: pure functions, no I/O.
//!
//! Owns the decision of *what* to read from a store's changelog to bring the store up to date,
//! and the conversion of changelog records into the [`WriteBatch`] that applies them together with
//! their offsets. Does not own reading from Kafka (the engine's restore consumer does) or wiping
//! (the engine closes the store and calls [`crate::RocksDbStore::destroy`]).
//!
//! # The restore algorithm
//!
//! 1. Read the store's checkpoint: [`crate::KeyValueStore::committed_offsets`] (the offset of the
//!    last changelog record contained in the store, per changelog partition).
//! 2. Fetch every changelog partition's extent from the broker: `low` = log start offset,
//!    `high` = log end offset, the next offset to be written (under exactly-once: the last
//!    stable offset).
//! 3. Plan with [`plan_restore`]. Per partition, with `c` the checkpoint:
//!    * no checkpoint: read `[low, high)` ([`RestoreReason::NoCheckpoint`]);
//!    * `low <= c + 1 <= high`: read `[c + 1, high)` ([`RestoreReason::Resume`]); nothing when
//!      `c + 1 == high`;
//!    * `c >= high`: the store is ahead of its changelog — the topic was deleted and recreated,
//!      or truncated ([`RestoreReason::CheckpointBeyondLogEnd`]);
//!    * `c + 1 < low`: records the store never saw were deleted from the changelog, so deletes
//!      among them would be missed ([`RestoreReason::CheckpointBelowLogStart`]).
//!
//!    The last two need a wipe. Since the store is one database, a wipe resets every partition:
//!    all of them then read `[low, high)` (the others with [`RestoreReason::StoreWiped`]).
//! 4. If [`wipe_needed`]: close the store, delete it, open it empty.
//! 5. For each plan, read the records `[start, end)` in chunks; turn each chunk into one batch
//!    with [`restore_batch`] and hand it to [`crate::KeyValueStore::restore`], which applies the
//!    writes and the chunk's last offsets atomically — a crash during restore resumes after the
//!    last applied chunk.
//! 6. When every partition has reached its `end`, the store is up to date and the task may
//!    process.

use crate::{Offsets, WriteBatch};

/// One record read from a changelog partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRecord {
    /// The changelog partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The store key.
    pub key: Vec<u8>,
    /// The store value; `None` is a tombstone (the key was deleted).
    pub value: Option<Vec<u8>>,
}

/// Turns records, in the order read, into one batch: their writes in order and, per partition,
/// the highest offset seen.
pub fn restore_batch(records: impl IntoIterator<Item = ChangelogRecord>) -> WriteBatch {
    let records = records.into_iter();
    let mut batch = WriteBatch {
        writes: Vec::with_capacity(records.size_hint().0),
        offsets: Offsets::new(),
    };
    for record in records {
        batch.writes.push((record.key, record.value));
        batch
            .offsets
            .entry(record.partition)
            .and_modify(|o| *o = (*o).max(record.offset))
            .or_insert(record.offset);
    }
    batch
}

/// The offsets a changelog partition currently holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionExtent {
    /// The changelog partition.
    pub partition: i32,
    /// The log start offset (first offset still held).
    pub low: i64,
    /// The log end offset: the next offset to be written.
    pub high: i64,
}

/// Why a partition is restored from where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreReason {
    /// Resuming after the checkpointed offset.
    Resume,
    /// The store has no checkpoint for the partition: the whole log.
    NoCheckpoint,
    /// The checkpoint is at or past the log end (the changelog was recreated): wipe first.
    CheckpointBeyondLogEnd,
    /// The checkpoint is before the log start (records were deleted): wipe first.
    CheckpointBelowLogStart,
    /// Another partition of the store forced a wipe: the whole log.
    StoreWiped,
}

impl RestoreReason {
    /// True when the store must be wiped before restoring.
    pub fn wipe_needed(self) -> bool {
        matches!(
            self,
            RestoreReason::CheckpointBeyondLogEnd | RestoreReason::CheckpointBelowLogStart
        )
    }
}

/// What to read from one changelog partition: the records `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorePlan {
    /// The changelog partition.
    pub partition: i32,
    /// First offset to read.
    pub start: i64,
    /// Offset to stop before (the partition's log end).
    pub end: i64,
    /// Why.
    pub reason: RestoreReason,
}

impl RestorePlan {
    /// True when the store must be wiped before restoring.
    pub fn wipe_needed(&self) -> bool {
        self.reason.wipe_needed()
    }

    /// Offsets in the range (an upper bound on the records to read: compaction leaves gaps).
    pub fn len(&self) -> u64 {
        u64::try_from(self.end.saturating_sub(self.start)).unwrap_or(0)
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// True when any plan needs the store wiped first (step 4 of the algorithm).
pub fn wipe_needed(plans: &[RestorePlan]) -> bool {
    plans.iter().any(RestorePlan::wipe_needed)
}

/// Plans the restore of a store from its `checkpoint` and its changelog `partitions` (step 3 of
/// the algorithm in the module doc). Partitions with nothing to read are left out, unless they
/// need a wipe; checkpoint entries of partitions not listed are ignored.
pub fn plan_restore(checkpoint: &Offsets, partitions: &[PartitionExtent]) -> Vec<RestorePlan> {
    let decide = |extent: &PartitionExtent| {
        let PartitionExtent {
            partition,
            low,
            high,
        } = *extent;
        let high = high.max(low);
        let (start, reason) = match checkpoint.get(&partition) {
            None => (low, RestoreReason::NoCheckpoint),
            Some(&c) if c >= high => (low, RestoreReason::CheckpointBeyondLogEnd),
            Some(&c) if c.saturating_add(1) < low => (low, RestoreReason::CheckpointBelowLogStart),
            Some(&c) => (c + 1, RestoreReason::Resume),
        };
        RestorePlan {
            partition,
            start,
            end: high,
            reason,
        }
    };
    let plans: Vec<RestorePlan> = partitions.iter().map(decide).collect();
    let wipe = wipe_needed(&plans);
    partitions
        .iter()
        .zip(plans)
        .map(|(extent, plan)| {
            if wipe && !plan.wipe_needed() {
                let start = extent.low.min(plan.end);
                RestorePlan {
                    start,
                    reason: RestoreReason::StoreWiped,
                    ..plan
                }
            } else {
                plan
            }
        })
        .filter(|plan| plan.wipe_needed() || !plan.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
