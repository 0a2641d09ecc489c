//! Commit as plain decisions: when a commit is due, which steps it takes under a processing
//! guarantee, and what a failed step leads to. The stream thread carries them out against the
//! broker and the test driver against its in-memory changelog; both ask here.
//!
//! The steps (Kafka Streams' order):
//! 1. the stores' changelog records are already with the producer (change logging sends each
//!    write as it happens, inside the open transaction under exactly-once);
//! 2. at-least-once: flush the producer, so outputs and changelog records are written;
//! 3. at-least-once: commit the input offsets; exactly-once: add them to the transaction and
//!    commit it (which flushes too);
//! 4. release each store's buffered writes with the changelog offset they reached, in one
//!    WriteBatch. A crash before step 4 leaves a store at its previous checkpoint; restore
//!    replays the changelog from there.

use std::time::Duration;

use weir_core::config::ProcessingGuarantee;
use weir_core::error::ErrorKind;

/// One step of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStep {
    /// Step 2: wait until every sent record is acknowledged.
    FlushProducer,
    /// Step 3 (at-least-once): commit the input offsets to the group.
    CommitOffsets,
    /// Steps 2 and 3 (exactly-once): the input offsets join the transaction, which commits.
    CommitTransaction,
    /// Step 4: stores write their buffered data with the changelog offsets reached.
    CheckpointStores,
}

/// The steps of a commit under `guarantee`, in order.
pub fn commit_steps(guarantee: ProcessingGuarantee) -> &'static [CommitStep] {
    match guarantee {
        ProcessingGuarantee::AtLeastOnce => &[
            CommitStep::FlushProducer,
            CommitStep::CommitOffsets,
            CommitStep::CheckpointStores,
        ],
        ProcessingGuarantee::ExactlyOnceV2 => {
            &[CommitStep::CommitTransaction, CommitStep::CheckpointStores]
        }
    }
}

/// Whether to commit now, `since_last` after the last commit (or attempt): every `interval`
/// (`commit.interval.ms`; 0 commits after every poll). A commit with no records processed
/// since still runs: punctuations may have written to stores.
pub fn commit_due(since_last: Duration, interval: Duration) -> bool {
    since_last >= interval
}

/// What a failed commit step leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitFailure {
    /// Keep the positions dirty and the stores' writes buffered; try again at the next interval
    /// (at-least-once, a retriable error: the coordinator moved, a broker restarts).
    RetryNextInterval,
    /// Abort the transaction, drop the stores' buffered writes (they were never checkpointed),
    /// and stop the thread with the error: the records since the last commit are processed
    /// again by whoever gets the tasks.
    AbortAndFail,
    /// Abort the transaction (if the broker still lets this producer), close every task
    /// without committing (dropping the stores' buffered writes), re-create the producer and
    /// rewind the consumer to the committed offsets: the thread goes on, and the records since
    /// the last commit are processed again, inside a new transaction (exactly-once: a fenced
    /// producer or a timed-out transaction, as Kafka Streams' TaskMigrated handling).
    AbortAndRecover,
    /// Stop the thread with the error.
    Fail,
}

/// The decision for a failure of kind `kind` in `step` under `guarantee`.
pub fn on_commit_failure(
    guarantee: ProcessingGuarantee,
    step: CommitStep,
    kind: ErrorKind,
) -> CommitFailure {
    match (guarantee, step) {
        (ProcessingGuarantee::ExactlyOnceV2, CommitStep::CommitTransaction) => match kind {
            ErrorKind::Fenced | ErrorKind::Retriable => CommitFailure::AbortAndRecover,
            _ => CommitFailure::AbortAndFail,
        },
        (ProcessingGuarantee::AtLeastOnce, CommitStep::CommitOffsets)
            if kind == ErrorKind::Retriable =>
        {
            CommitFailure::RetryNextInterval
        }
        // The member lost its partitions (session expired): its tasks are someone else's or
        // will be again after the rejoin; close them without committing and go on.
        (ProcessingGuarantee::AtLeastOnce, CommitStep::CommitOffsets)
            if kind == ErrorKind::Fenced =>
        {
            CommitFailure::AbortAndRecover
        }
        _ => CommitFailure::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_once_flushes_before_committing_offsets_and_checkpoints_last() {
        assert_eq!(
            commit_steps(ProcessingGuarantee::AtLeastOnce),
            [
                CommitStep::FlushProducer,
                CommitStep::CommitOffsets,
                CommitStep::CheckpointStores
            ]
        );
    }

    #[test]
    fn exactly_once_commits_offsets_inside_the_transaction_then_checkpoints() {
        let steps = commit_steps(ProcessingGuarantee::ExactlyOnceV2);
        assert_eq!(
            steps,
            [CommitStep::CommitTransaction, CommitStep::CheckpointStores]
        );
        assert!(!steps.contains(&CommitStep::CommitOffsets));
    }

    #[test]
    fn stores_checkpoint_only_after_the_offsets_are_committed() {
        for g in [
            ProcessingGuarantee::AtLeastOnce,
            ProcessingGuarantee::ExactlyOnceV2,
        ] {
            let steps = commit_steps(g);
            assert_eq!(steps.last(), Some(&CommitStep::CheckpointStores), "{g:?}");
        }
    }

    #[test]
    fn a_fenced_or_timed_out_transaction_is_recovered_not_fatal() {
        let eos = ProcessingGuarantee::ExactlyOnceV2;
        for kind in [ErrorKind::Fenced, ErrorKind::Retriable] {
            assert_eq!(
                on_commit_failure(eos, CommitStep::CommitTransaction, kind),
                CommitFailure::AbortAndRecover,
                "{kind:?}"
            );
        }
        assert_eq!(
            on_commit_failure(eos, CommitStep::CommitTransaction, ErrorKind::Fatal),
            CommitFailure::AbortAndFail
        );
        assert_eq!(
            on_commit_failure(
                ProcessingGuarantee::AtLeastOnce,
                CommitStep::CommitOffsets,
                ErrorKind::Fenced
            ),
            CommitFailure::AbortAndRecover,
            "a member whose session expired"
        );
    }

    #[test]
    fn a_commit_is_due_once_the_interval_has_passed() {
        let i = Duration::from_millis(100);
        assert!(!commit_due(Duration::from_millis(99), i));
        assert!(commit_due(Duration::from_millis(100), i));
        assert!(commit_due(Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn a_retriable_offset_commit_is_retried_at_the_next_interval() {
        assert_eq!(
            on_commit_failure(
                ProcessingGuarantee::AtLeastOnce,
                CommitStep::CommitOffsets,
                ErrorKind::Retriable
            ),
            CommitFailure::RetryNextInterval
        );
    }

    #[test]
    fn other_failures_stop_the_thread() {
        for kind in [ErrorKind::Fatal, ErrorKind::Corrupted, ErrorKind::Record] {
            assert_eq!(
                on_commit_failure(
                    ProcessingGuarantee::AtLeastOnce,
                    CommitStep::CommitOffsets,
                    kind
                ),
                CommitFailure::Fail,
                "{kind:?}"
            );
        }
        // A flush that fails lost records: retrying the offsets alone would skip them.
        assert_eq!(
            on_commit_failure(
                ProcessingGuarantee::AtLeastOnce,
                CommitStep::FlushProducer,
                ErrorKind::Retriable
            ),
            CommitFailure::Fail
        );
    }

    #[test]
    fn a_fatally_failed_transaction_is_aborted_and_stops_the_thread() {
        for kind in [ErrorKind::Fatal, ErrorKind::Corrupted] {
            assert_eq!(
                on_commit_failure(
                    ProcessingGuarantee::ExactlyOnceV2,
                    CommitStep::CommitTransaction,
                    kind
                ),
                CommitFailure::AbortAndFail,
                "{kind:?}"
            );
        }
    }
}
