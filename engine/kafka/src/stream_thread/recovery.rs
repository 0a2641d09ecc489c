//! Recovery of a stream thread whose transactional producer was fenced (a newer producer with
//! the same transactional id), whose transaction the broker timed out, or (at-least-once)
//! whose group membership expired while the broker was unreachable — Kafka Streams'
//! `TaskMigratedException` handling: the thread does not stop. It aborts what it can, closes
//! every task without committing (their stores drop the uncommitted writes and reopen from
//! their checkpoints), re-creates the producer (`init_transactions` fences any older epoch and
//! aborts the open transaction), rewinds the consumer to the committed offsets and re-creates
//! the tasks from there. The records since the last commit are processed again inside a new
//! transaction; read-committed consumers never saw the aborted ones.

use weir_core::error::StreamsError;

use super::{PRODUCER_TIMEOUT, ThreadCore};
use crate::active_task::TaskEvent;
use crate::consumer::{GroupHandle, TopicPartition};
use crate::producer::Producer;

impl ThreadCore {
    /// See the module doc; `cause` is the failed commit's error.
    pub(super) fn recover(
        &mut self,
        group: &dyn GroupHandle,
        cause: &StreamsError,
    ) -> Result<(), StreamsError> {
        tracing::warn!(
            thread = %self.name,
            error = %cause,
            "cannot commit (producer fenced, transaction timed out or group membership lost): \
             closing every task without committing, re-creating the producer, rewinding to the \
             last commit"
        );
        // No abort here: a fenced producer can abort nothing (the broker refuses it, after the
        // whole timeout), and the new producer's init_transactions aborts the open transaction.
        let mut partitions: Vec<TopicPartition> = Vec::new();
        for (id, mut t) in std::mem::take(&mut self.tasks) {
            if let Some(sub) = self.topology.subtopologies.get(id.subtopology) {
                partitions.extend(
                    sub.sources
                        .keys()
                        .map(|topic| (topic.clone(), id.partition)),
                );
            }
            if let Err(e) = t.abort_stores() {
                tracing::warn!(thread = %self.name, task = %id, error = %e, "dropping uncommitted store writes failed");
            }
            let _ = t.advance(TaskEvent::Suspend);
            if let Err(e) = t.task.close() {
                tracing::warn!(thread = %self.name, task = %id, error = %e, "closing a task dirty failed");
            }
            let _ = t.advance(TaskEvent::Close);
            tracing::info!(thread = %self.name, task = %id, "task closed dirty (fenced)");
        }
        if self.producer.is_transactional() {
            self.producer = Producer::new(
                &self.producer_config,
                true,
                self.tracked.clone(),
                PRODUCER_TIMEOUT,
                self.status.clone(),
            )?;
            tracing::info!(thread = %self.name, "producer re-created; tasks resume from the last commit");
        }
        // Partitions the group took away meanwhile cannot be rewound; their revocation drops
        // them from `pending` and their next owner starts at the committed offsets.
        if let Err(e) = group.rewind(&partitions) {
            tracing::warn!(thread = %self.name, error = %e, "rewinding to the committed offsets failed; the rebalance that follows reassigns them");
        }
        self.pending.extend(partitions);
        self.status_changed = true;
        Ok(())
    }
}
