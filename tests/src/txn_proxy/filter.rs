//! The read-committed rewrite of one partition of a Fetch response, as a plain function of the
//! partition's data and its [`PartitionTxns`]: what a Kafka broker answers a `read_committed`
//! fetch with, and tansu 0.6 does not.
//!
//! 1. Records at or after the last stable offset (the first offset of the earliest open
//!    transaction) are cut, whole batches at a time; so are records the index has not read yet
//!    (at or after [`PartitionTxns::next`]), whose fate it cannot tell. A trailing partial
//!    batch (the broker's size limit) stays unless something before it is cut: clients never
//!    deliver a partial batch, they ask again with room for it.
//! 2. `aborted_transactions` lists (producer id, first offset) of every aborted transaction that
//!    overlaps the returned range — the client drops that producer's transactional batches from
//!    the first offset to the ABORT marker.
//! 3. `last_stable_offset` is the first offset of the earliest open transaction, else the high
//!    watermark (never above it, and lowered to `next` when the index is behind).
//!
//! A partition with an error code, or whose records cannot be split into batches, is left as
//! it came (the caller counts it).

use super::abort_index::PartitionTxns;
use super::fetch::{AbortedTransaction, PartitionData};
use crate::wire::batch_headers;

/// What a rewrite did to one partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// Aborted transactions listed.
    pub(crate) aborted_listed: usize,
    /// Complete batches cut at the last stable offset (or the index's end).
    pub(crate) batches_held_back: usize,
}

/// Rewrites `p` (fetched from `fetch_offset`, when the request said) for a read-committed
/// client; see the module doc.
pub(crate) fn read_committed(
    p: &mut PartitionData,
    fetch_offset: Option<i64>,
    txns: &PartitionTxns,
) -> Result<Rewrite, String> {
    if p.error_code != 0 {
        return Ok(Rewrite::default());
    }
    let first_open = txns.first_open();
    let bound = first_open.unwrap_or(i64::MAX).min(txns.next());
    let mut out = Rewrite::default();
    let mut aborted = Vec::new();
    if let Some(records) = &mut p.records {
        let batches = batch_headers(records)?;
        let kept = batches
            .iter()
            .position(|b| b.base_offset >= bound)
            .unwrap_or(batches.len());
        if kept < batches.len() {
            // Step 1: cut at the first batch not to be shown (a partial batch after it goes
            // too).
            let cut = kept
                .checked_sub(1)
                .and_then(|i| batches.get(i))
                .map_or(0, |b| b.end);
            records.truncate(cut);
            out.batches_held_back = batches.len() - kept;
        }
        // Step 2: the aborted transactions over what is returned.
        if let (Some(first), Some(last)) = (batches.first(), kept.checked_sub(1)) {
            let from = fetch_offset.map_or(first.base_offset, |o| o.max(first.base_offset));
            let to = batches.get(last).map_or(from, |b| b.last_offset);
            aborted = txns
                .aborted_overlapping(from, to)
                .into_iter()
                .map(|a| AbortedTransaction::new(a.producer_id, a.first_offset))
                .collect();
        }
    }
    out.aborted_listed = aborted.len();
    p.aborted_transactions = Some(aborted);
    // Step 3 (never above the high watermark the broker answered with: a transaction the
    // index saw open may have begun after the broker's answer).
    let mut lso = first_open.map_or(p.high_watermark, |f| f.min(p.high_watermark));
    if txns.next() < p.high_watermark {
        lso = lso.min(txns.next());
    }
    p.last_stable_offset = lso;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::{batch, marker};

    const T: i16 = 0x10;

    fn index(log: &[u8]) -> PartitionTxns {
        let mut t = PartitionTxns::default();
        t.apply(&batch_headers(log).unwrap());
        t
    }

    fn partition(records: &[u8], hw: i64) -> PartitionData {
        PartitionData {
            high_watermark: hw,
            last_stable_offset: hw,
            aborted_transactions: Some(Vec::new()),
            records: Some(records.to_vec()),
            ..PartitionData::default()
        }
    }

    fn listed(p: &PartitionData) -> Vec<(i64, i64)> {
        p.aborted_transactions
            .iter()
            .flatten()
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    }

    /// committed (pid 1) 0-1, commit 2; aborted (pid 2) 3-4, plain 5, abort 6; committed
    /// (pid 2) 7, commit 8; open (pid 3) 9, plain 10.
    fn log() -> Vec<u8> {
        let mut log = Vec::new();
        log.extend(batch(0, 1, T, &[(None, Some(b"c0")), (None, Some(b"c1"))]));
        log.extend(marker(2, 1, true));
        log.extend(batch(3, 2, T, &[(None, Some(b"a3")), (None, Some(b"a4"))]));
        log.extend(batch(5, -1, 0, &[(None, Some(b"p5"))]));
        log.extend(marker(6, 2, false));
        log.extend(batch(7, 2, T, &[(None, Some(b"c7"))]));
        log.extend(marker(8, 2, true));
        log.extend(batch(9, 3, T, &[(None, Some(b"o9"))]));
        log.extend(batch(10, -1, 0, &[(None, Some(b"p10"))]));
        log
    }

    #[test]
    fn lists_aborted_transactions_and_cuts_at_the_last_stable_offset() {
        let log = log();
        let txns = index(&log);
        let mut p = partition(&log, 11);
        let r = read_committed(&mut p, Some(0), &txns).unwrap();
        assert_eq!(listed(&p), vec![(2, 3)]);
        assert_eq!(p.last_stable_offset, 9);
        assert_eq!(
            r,
            Rewrite {
                aborted_listed: 1,
                batches_held_back: 2
            }
        );
        let kept = batch_headers(p.records.as_deref().unwrap()).unwrap();
        assert_eq!(kept.last().unwrap().last_offset, 8);
        assert_eq!(kept.len(), 7);
    }

    #[test]
    fn a_fetch_after_the_abort_marker_lists_nothing() {
        let log = log();
        let txns = index(&log);
        // The same bytes, as if fetched from offset 7: producer 2's abort ended at 6.
        let from7 = batch_headers(&log).unwrap()[4].end;
        let mut p = partition(&log[from7..], 11);
        read_committed(&mut p, Some(7), &txns).unwrap();
        assert_eq!(listed(&p), vec![]);
        assert_eq!(p.last_stable_offset, 9);
        // From the plain record at 5: the abort marker at 6 is in range.
        let from5 = batch_headers(&log).unwrap()[2].end;
        let mut p = partition(&log[from5..], 11);
        read_committed(&mut p, Some(5), &txns).unwrap();
        assert_eq!(listed(&p), vec![(2, 3)]);
    }

    #[test]
    fn no_open_transaction_means_the_high_watermark_and_nothing_cut() {
        let mut log = log();
        log.extend(marker(11, 3, false));
        let txns = index(&log);
        let mut p = partition(&log, 12);
        let r = read_committed(&mut p, Some(0), &txns).unwrap();
        assert_eq!(r.batches_held_back, 0);
        assert_eq!(p.records.as_deref(), Some(&log[..]));
        assert_eq!(p.last_stable_offset, 12);
        assert_eq!(listed(&p), vec![(2, 3), (3, 9)]);
    }

    #[test]
    fn records_beyond_the_index_are_withheld() {
        let log = log();
        // The index has read up to offset 2 only.
        let upto2 = batch_headers(&log).unwrap()[1].end;
        let txns = index(&log[..upto2]);
        let mut p = partition(&log, 11);
        let r = read_committed(&mut p, Some(0), &txns).unwrap();
        assert_eq!(p.records.as_deref(), Some(&log[..upto2]));
        assert_eq!(r.batches_held_back, 7);
        assert_eq!(p.last_stable_offset, 3);
        // Nothing known at all: everything withheld, empty (not null) records.
        let mut p = partition(&log, 11);
        read_committed(&mut p, Some(0), &PartitionTxns::default()).unwrap();
        assert_eq!(p.records.as_deref(), Some(&[][..]));
        assert_eq!(p.last_stable_offset, 0);
    }

    #[test]
    fn errors_and_empty_partitions() {
        let txns = index(&log());
        let mut p = PartitionData {
            error_code: 1,
            records: Some(vec![1, 2, 3]),
            ..PartitionData::default()
        };
        let before = p.clone();
        read_committed(&mut p, None, &txns).unwrap();
        assert_eq!(p, before);
        let mut p = PartitionData {
            high_watermark: 11,
            records: None,
            ..PartitionData::default()
        };
        read_committed(&mut p, None, &txns).unwrap();
        assert_eq!((p.records, p.last_stable_offset), (None, 9));
        assert_eq!(p.aborted_transactions, Some(Vec::new()));
    }
}
