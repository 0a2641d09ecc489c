//! Time-to-live for a key-value store an aggregation writes (`Materialized::with_ttl`): a key
//! not updated for `ttl` of stream time is deleted, and the deletion is forwarded downstream
//! as a tombstone (`Change { new: None, old }`), so a table built on the aggregation forgets it
//! too. Built on stream-time punctuation: the aggregation schedules one every `ttl / 10`
//! (at least 1 ms) of stream time, so the test driver expires keys as records move time on.
//!
//! When a key was last updated lives in an index store `{store}-ttl` (changelogged like the
//! store): `[0][key]` → the update's timestamp (8 bytes), and `[1][timestamp][key]` → nothing,
//! ordered by time so expiry reads only what is due. Timestamps are order-preserving 8 bytes.

use std::ops::Bound;

use super::time_key::{from_ordered, ordered};
use weir_core::error::StreamsError;
use weir_state::KeyValueStore;

/// The TTL of one store: its index store and the time to live.
#[derive(Debug, Clone)]
pub struct Ttl {
    pub index_store: String,
    pub ttl_ms: i64,
    pub index: usize,
}

impl Ttl {
    /// How often expiry runs, in stream time.
    pub fn interval_ms(&self) -> i64 {
        (self.ttl_ms / 10).max(1)
    }

    /// Records that `key` was updated at `ts`.
    pub fn touch(
        &self,
        idx: &mut dyn KeyValueStore,
        key: &[u8],
        ts: i64,
    ) -> Result<(), StreamsError> {
        let mut by_key = Vec::with_capacity(1 + key.len());
        by_key.push(0);
        by_key.extend_from_slice(key);
        if let Some(old) = idx.get(&by_key)?.as_deref().and_then(from_ordered) {
            if old >= ts {
                return Ok(());
            }
            idx.delete(&Self::by_time(old, key))?;
        }
        idx.put(&by_key, &ordered(ts))?;
        idx.put(&Self::by_time(ts, key), &[])?;
        Ok(())
    }

    fn by_time(ts: i64, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + key.len());
        k.push(1);
        k.extend_from_slice(&ordered(ts));
        k.extend_from_slice(key);
        k
    }

    /// The keys last updated before `stream_time - ttl`, removed from the index.
    pub fn expire(
        &self,
        idx: &mut dyn KeyValueStore,
        stream_time: i64,
    ) -> Result<Vec<Vec<u8>>, StreamsError> {
        let horizon = stream_time.saturating_sub(self.ttl_ms);
        let mut to = vec![1u8];
        to.extend_from_slice(&ordered(horizon));
        let due: Vec<Vec<u8>> = idx
            .range(
                Bound::Included([1u8].as_slice()),
                Bound::Excluded(to.as_slice()),
            )?
            .map(|e| e.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        let mut keys = Vec::with_capacity(due.len());
        for k in due {
            idx.delete(&k)?;
            if let Some(key) = k.get(9..) {
                let mut by_key = Vec::with_capacity(1 + key.len());
                by_key.push(0);
                by_key.extend_from_slice(key);
                idx.delete(&by_key)?;
                keys.push(key.to_vec());
            }
        }
        Ok(keys)
    }
}
