//! Unit tests of restore planning and restore batches.

use super::*;

fn extent(partition: i32, low: i64, high: i64) -> PartitionExtent {
    PartitionExtent {
        partition,
        low,
        high,
    }
}

fn plan(partition: i32, start: i64, end: i64, reason: RestoreReason) -> RestorePlan {
    RestorePlan {
        partition,
        start,
        end,
        reason,
    }
}

fn record(partition: i32, offset: i64, key: &str, value: Option<&str>) -> ChangelogRecord {
    ChangelogRecord {
        partition,
        offset,
        key: key.as_bytes().to_vec(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

#[test]
fn batch_keeps_write_order_and_the_highest_offset_per_partition() {
    let batch = restore_batch(vec![
        record(0, 10, "a", Some("1")),
        record(1, 3, "b", Some("2")),
        record(0, 12, "a", None),
        record(0, 11, "c", Some("3")), // out of order offsets: the maximum wins
    ]);
    assert_eq!(
        batch.writes,
        vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
            (b"a".to_vec(), None),
            (b"c".to_vec(), Some(b"3".to_vec())),
        ]
    );
    assert_eq!(batch.offsets, Offsets::from([(0, 12), (1, 3)]));
    assert!(restore_batch(Vec::new()).is_empty());
}

#[test]
fn resumes_after_the_checkpoint() {
    let plans = plan_restore(&Offsets::from([(0, 41)]), &[extent(0, 0, 100)]);
    assert_eq!(plans, vec![plan(0, 42, 100, RestoreReason::Resume)]);
    assert_eq!(plans[0].len(), 58);
    assert!(!wipe_needed(&plans));
}

#[test]
fn no_checkpoint_reads_from_the_log_start() {
    let plans = plan_restore(&Offsets::new(), &[extent(0, 5, 9), extent(1, 0, 0)]);
    assert_eq!(plans, vec![plan(0, 5, 9, RestoreReason::NoCheckpoint)]);
}

#[test]
fn nothing_to_do_when_up_to_date() {
    assert!(plan_restore(&Offsets::from([(0, 99)]), &[extent(0, 0, 100)]).is_empty());
    // Resuming exactly at the log start is no data loss.
    let plans = plan_restore(&Offsets::from([(0, 9)]), &[extent(0, 10, 20)]);
    assert_eq!(plans, vec![plan(0, 10, 20, RestoreReason::Resume)]);
}

#[test]
fn checkpoint_beyond_the_log_end_wipes_and_restores_from_low() {
    // Recreated changelog: checkpoint 500, log holds [0, 20).
    let plans = plan_restore(&Offsets::from([(0, 500)]), &[extent(0, 0, 20)]);
    assert_eq!(
        plans,
        vec![plan(0, 0, 20, RestoreReason::CheckpointBeyondLogEnd)]
    );
    assert!(wipe_needed(&plans));
    // Checkpoint == high is already beyond: offset `high` does not exist yet.
    let plans = plan_restore(&Offsets::from([(0, 20)]), &[extent(0, 0, 20)]);
    assert!(plans[0].wipe_needed());
}

#[test]
fn a_wipe_is_reported_even_with_an_empty_log() {
    let plans = plan_restore(&Offsets::from([(0, 7)]), &[extent(0, 0, 0)]);
    assert_eq!(
        plans,
        vec![plan(0, 0, 0, RestoreReason::CheckpointBeyondLogEnd)]
    );
    assert!(plans[0].is_empty() && wipe_needed(&plans));
}

#[test]
fn checkpoint_below_the_log_start_wipes() {
    let plans = plan_restore(&Offsets::from([(0, 3)]), &[extent(0, 10, 20)]);
    assert_eq!(
        plans,
        vec![plan(0, 10, 20, RestoreReason::CheckpointBelowLogStart)]
    );
}

#[test]
fn a_wipe_resets_every_partition_of_the_store() {
    let checkpoint = Offsets::from([(0, 50), (1, 900), (2, 9)]);
    let plans = plan_restore(
        &checkpoint,
        &[extent(0, 0, 60), extent(1, 0, 100), extent(2, 0, 10)],
    );
    assert_eq!(
        plans,
        vec![
            plan(0, 0, 60, RestoreReason::StoreWiped),
            plan(1, 0, 100, RestoreReason::CheckpointBeyondLogEnd),
            plan(2, 0, 10, RestoreReason::StoreWiped),
        ]
    );
}

#[test]
fn unlisted_partitions_and_odd_extents_are_harmless() {
    let checkpoint = Offsets::from([(7, 3), (0, i64::MAX)]);
    // Partition 7 is not listed; an inverted extent counts as empty.
    let plans = plan_restore(&checkpoint, &[extent(0, 5, 2)]);
    assert_eq!(
        plans,
        vec![plan(0, 5, 5, RestoreReason::CheckpointBeyondLogEnd)]
    );
    assert!(plan_restore(&Offsets::new(), &[]).is_empty());
}
