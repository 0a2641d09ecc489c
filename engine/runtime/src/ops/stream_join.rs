//! Windowed stream–stream joins (inner, left, outer), as Kafka Streams 3.x has them
//! (`KStreamKStreamJoin`): each side keeps its records of the last `before + after + grace` in
//! a window store (duplicates kept); a record joins every record of the other side with the
//! same key whose timestamp is within `[ts - before, ts + after]` (mirrored for the right
//! side), and the result's timestamp is the larger of the two.
//!
//! Left and outer joins emit a record that found no partner only once its window has closed
//! (`ts + after + grace < stream time`, after for its own side) — no spurious early
//! `(v, null)` results: until then it waits in a shared "unmatched" store (changelogged), and a
//! partner that arrives in time removes it. Stream time is the task's (the largest timestamp
//! of either side, as Kafka Streams' shared time tracker). A record older than its window plus
//! grace is late (see `super::late`).
//!
//! The unmatched store's keys are the record's timestamp (8 bytes, order-preserving), its side
//! (0 left, 1 right) and its key's bytes; the value holds each waiting value (4-byte length,
//! bytes), so records of one key and timestamp wait together.

use std::ops::Bound;
use std::sync::Arc;

use super::late::LateRecords;
use super::time_key::{from_ordered, ordered};
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek};
use weir_core::error::StreamsError;
use weir_core::record::Headers;
use weir_core::serde::SerdeRef;
use weir_core::window::Window;
use weir_state::{WindowStore, WindowStoreConfig};

/// The joiner as a side's node calls it: `(key, this side's value, other side's value)`,
/// `None` for the missing side of a left or outer result; it answers `None` for a call its
/// join kind never makes (an inner join without a partner), and nothing is forwarded then.
pub type SideJoiner<K, V, VO, VR> =
    Arc<dyn Fn(&K, Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync>;

/// Which records of which side are emitted without a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Outer,
}

/// One side's node. `V` is this side's value type, `VO` the other side's; `left` says which
/// side this is, so the joiner gets its arguments in (left, right) order.
pub struct StreamJoinSide<K, V, VO, VR> {
    pub left: bool,
    pub kind: JoinKind,
    pub this_store: String,
    pub other_store: String,
    /// The shared store of records waiting for a partner (left and outer joins).
    pub unmatched_store: Option<String>,
    pub indexes: (usize, usize, usize),
    pub key: SerdeRef<K>,
    pub this_value: SerdeRef<V>,
    pub other_value: SerdeRef<VO>,
    pub joiner: SideJoiner<K, V, VO, VR>,
    /// Other-side records from `before` before to `after` after this side's record join it.
    pub before_ms: i64,
    pub after_ms: i64,
    /// The other side's `after` (for its waiting records' window close).
    pub other_after_ms: i64,
    pub grace_ms: i64,
    pub stores: Option<(WindowStore, WindowStore)>,
    pub late: LateRecords<K, V>,
}

impl<
    K: Clone + Send + 'static,
    V: Clone + Send + 'static,
    VO: Clone + Send + 'static,
    VR: Clone + Send + 'static,
> StreamJoinSide<K, V, VO, VR>
{
    /// How long each side's store keeps a record.
    pub fn retention_ms(before_ms: i64, after_ms: i64, grace_ms: i64) -> i64 {
        before_ms
            .saturating_add(after_ms)
            .saturating_add(grace_ms)
            .saturating_add(1)
    }

    fn emits_unmatched(&self, left: bool) -> bool {
        match self.kind {
            JoinKind::Inner => false,
            JoinKind::Left => left,
            JoinKind::Outer => true,
        }
    }

    fn side_byte(left: bool) -> u8 {
        if left { 0 } else { 1 }
    }

    fn unmatched_key(ts: i64, left: bool, kb: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + kb.len());
        k.extend_from_slice(&ordered(ts));
        k.push(Self::side_byte(left));
        k.extend_from_slice(kb);
        k
    }

    fn emit(
        &self,
        ctx: &mut Ctx<'_>,
        key: &K,
        this: Option<&V>,
        other: Option<&VO>,
        ts: i64,
        headers: &Headers,
    ) -> Result<(), StreamsError> {
        let Some(value) = (self.joiner)(key, this, other) else {
            return Ok(());
        };
        ctx.forward(Msg {
            key: Box::new(key.clone()),
            value: Some(Box::new(value)),
            timestamp: ts,
            headers: headers.clone(),
        })
    }

    /// Emits (and removes) every waiting record whose window closed by `stream_time`.
    fn emit_unmatched(&self, ctx: &mut Ctx<'_>, stream_time: i64) -> Result<(), StreamsError> {
        let Some(_) = &self.unmatched_store else {
            return Ok(());
        };
        let index = self.indexes.2;
        // The smallest `after` of both sides bounds what may be due.
        let min_after = self.after_ms.min(self.other_after_ms);
        let horizon = stream_time
            .saturating_sub(self.grace_ms)
            .saturating_sub(min_after);
        let to = ordered(horizon);
        let due: Vec<(Vec<u8>, Vec<u8>)> = ctx
            .local(index)
            .range(Bound::Unbounded, Bound::Excluded(to.as_slice()))?
            .collect::<Result<_, _>>()?;
        for (k, v) in due {
            if k.len() < 9 {
                continue;
            }
            let Some(ts) = from_ordered(&k) else { continue };
            let left = k[8] == 0;
            let after = if left == self.left {
                self.after_ms
            } else {
                self.other_after_ms
            };
            if ts.saturating_add(after).saturating_add(self.grace_ms) >= stream_time {
                continue;
            }
            ctx.local(index).delete(&k)?;
            let key = self.key.deserialize(&self.this_store, &k[9..])?;
            let mut rest = v.as_slice();
            while rest.len() >= 4 {
                let mut n = [0u8; 4];
                n.copy_from_slice(&rest[..4]);
                let n = u32::from_be_bytes(n) as usize;
                let Some(bytes) = rest.get(4..4 + n) else {
                    break;
                };
                rest = &rest[4 + n..];
                if left == self.left {
                    let v = self.this_value.deserialize(&self.this_store, bytes)?;
                    self.emit(ctx, &key, Some(&v), None, ts, &Headers::new())?;
                } else {
                    let v = self.other_value.deserialize(&self.other_store, bytes)?;
                    self.emit(ctx, &key, None, Some(&v), ts, &Headers::new())?;
                }
            }
        }
        Ok(())
    }
}

impl<
    K: Clone + Send + 'static,
    V: Clone + Send + 'static,
    VO: Clone + Send + 'static,
    VR: Clone + Send + 'static,
> Node for StreamJoinSide<K, V, VO, VR>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        let unmatched = match &self.unmatched_store {
            Some(s) => ctx.local_store(s)?,
            None => 0,
        };
        self.indexes = (
            ctx.local_store(&self.this_store)?,
            ctx.local_store(&self.other_store)?,
            unmatched,
        );
        self.late.init(ctx);
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = &msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let key = peek::<K>(&msg.key)?.clone();
        if self.key.is_null(&key) {
            count_null_key(ctx);
            return Ok(());
        }
        let value = peek::<V>(v)?.clone();
        let ts = msg.timestamp;
        let stream_time = ctx.stream_time.max(ts);
        let (this_i, other_i, unmatched_i) = self.indexes;
        if self.stores.is_none() {
            let retention = Self::retention_ms(self.before_ms, self.after_ms, self.grace_ms);
            let this =
                WindowStore::open(WindowStoreConfig::new(retention, true), ctx.local(this_i))?;
            let other =
                WindowStore::open(WindowStoreConfig::new(retention, true), ctx.local(other_i))?;
            self.stores = Some((this, other));
        }
        if ts
            .saturating_add(self.after_ms)
            .saturating_add(self.grace_ms)
            < stream_time
        {
            let window = Window {
                start: ts.saturating_sub(self.before_ms),
                end: ts.saturating_add(self.after_ms),
            };
            let close = stream_time.saturating_sub(self.grace_ms);
            return self.late.dropped(ctx, &key, &value, &msg, window, close);
        }
        let kb = self
            .key
            .serialize(&self.this_store, &key)
            .map_err(super::as_key)?;
        let vb = self.this_value.serialize(&self.this_store, &value)?;
        let matches = {
            let Some((this, other)) = &mut self.stores else {
                return Ok(());
            };
            this.put(ctx.local(this_i), &kb, ts, Some(&vb))?;
            other.observe(ctx.local(other_i), stream_time)?;
            other.fetch_range(
                ctx.local(other_i),
                &kb,
                ts.saturating_sub(self.before_ms),
                ts.saturating_add(self.after_ms),
            )?
        };
        let other_side = !self.left;
        for (ots, ob) in &matches {
            let o = self.other_value.deserialize(&self.other_store, ob)?;
            self.emit(
                ctx,
                &key,
                Some(&value),
                Some(&o),
                ts.max(*ots),
                &msg.headers,
            )?;
            if self.unmatched_store.is_some() && self.emits_unmatched(other_side) {
                ctx.local(unmatched_i)
                    .delete(&Self::unmatched_key(*ots, other_side, &kb))?;
            }
        }
        if matches.is_empty() && self.unmatched_store.is_some() && self.emits_unmatched(self.left) {
            let uk = Self::unmatched_key(ts, self.left, &kb);
            let store = ctx.local(unmatched_i);
            let mut waiting = store.get(&uk)?.unwrap_or_default();
            waiting.extend_from_slice(&(vb.len() as u32).to_be_bytes());
            waiting.extend_from_slice(&vb);
            store.put(&uk, &waiting)?;
        }
        self.emit_unmatched(ctx, stream_time)
    }
}
