//! Sliding-window aggregations (Kafka Streams' `SlidingWindows`): windows of a fixed time
//! difference `d` whose ends are inclusive and that exist only where records are — a record at
//! `t` has its left window `[t - d, t]`, and its right window `[t + 1, t + 1 + d]` once a later
//! record falls in it. A record updates every window it falls in and creates its own.
//!
//! Unlike Kafka Streams, which derives new windows' aggregates incrementally from neighbouring
//! windows, weir keeps the records of the last `2d + grace` per key in a second window store
//! (`{store}-records`, changelogged like the first) and computes each window it touches from
//! the records in it, in timestamp order: the same results for commutative aggregations
//! (counts, sums, sets), and for order-sensitive ones the result of the records in time order
//! rather than in arrival order.
//!
//! A window is open while its (inclusive) end is at or after stream time minus grace. Late
//! records (even their right window closed: `t + 1 + d < stream time - grace`) are dropped as
//! in `super::late`; a window closed by then is left as it is.

use std::collections::BTreeMap;

use super::late::LateRecords;
use super::table::Change;
use super::window_aggregate::{Update, decode_timestamped, encode_timestamped};
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_core::window::{Window, Windowed};
use weir_state::{WindowStore, WindowStoreConfig};

pub struct SlidingAggregate<K, V, VA> {
    pub store: String,
    pub records_store: String,
    pub index: usize,
    pub records_index: usize,
    pub key: SerdeRef<K>,
    /// The records' value serde (the records store keeps them).
    pub input: SerdeRef<V>,
    pub value: SerdeRef<VA>,
    pub update: Update<K, V, VA>,
    pub difference_ms: i64,
    pub grace_ms: i64,
    pub windows: Option<(WindowStore, WindowStore)>,
    pub late: LateRecords<K, V>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static>
    SlidingAggregate<K, V, VA>
{
    /// Retention of the window store (a window's end plus grace) and of the records store
    /// (every record a window still open may contain).
    pub fn retentions(difference_ms: i64, grace_ms: i64) -> (i64, i64) {
        let d = difference_ms;
        (
            d.saturating_add(1).saturating_add(grace_ms),
            d.saturating_mul(2)
                .saturating_add(2)
                .saturating_add(grace_ms),
        )
    }

    fn open(&mut self, ctx: &mut Ctx<'_>) -> Result<(), StreamsError> {
        if self.windows.is_none() {
            let (w, r) = Self::retentions(self.difference_ms, self.grace_ms);
            let windows =
                WindowStore::open(WindowStoreConfig::new(w, false), ctx.local(self.index))?;
            let records = WindowStore::open(
                WindowStoreConfig::new(r, true),
                ctx.local(self.records_index),
            )?;
            self.windows = Some((windows, records));
        }
        Ok(())
    }

    fn run(&mut self, ctx: &mut Ctx<'_>, key: K, value: V, msg: &Msg) -> Result<(), StreamsError> {
        let d = self.difference_ms;
        let ts = msg.timestamp;
        let kb = self
            .key
            .serialize(&self.store, &key)
            .map_err(super::as_key)?;
        let vb = self.input.serialize(&self.records_store, &value)?;
        let Some((windows, records)) = &mut self.windows else {
            return Ok(());
        };
        windows.observe(ctx.local(self.index), ts)?;
        records.observe(ctx.local(self.records_index), ts)?;
        let close = windows.observed_stream_time().saturating_sub(self.grace_ms);
        if ts.saturating_add(1).saturating_add(d) < close {
            let window = Window {
                start: ts.saturating_add(1),
                end: ts.saturating_add(1).saturating_add(d),
            };
            return self.late.dropped(ctx, &key, &value, msg, window, close);
        }
        records.put(ctx.local(self.records_index), &kb, ts, Some(&vb))?;
        // Every record a touched window can hold, in time order (arrival order within a time).
        let near = records.fetch_range(
            ctx.local(self.records_index),
            &kb,
            ts.saturating_sub(2 * d + 1),
            ts.saturating_add(2 * d + 1),
        )?;
        let times: Vec<i64> = near.iter().map(|(t, _)| *t).collect();
        let any_in = |from: i64, to: i64| times.iter().any(|t| *t >= from && *t <= to);
        let mut starts: Vec<i64> = Vec::new();
        for &t in &times {
            // Left windows [t - d, t] that contain ts.
            if t >= ts && t <= ts.saturating_add(d) {
                starts.push(t - d);
            }
            // Right windows [t + 1, t + 1 + d] that contain ts.
            if t < ts && t.saturating_add(1).saturating_add(d) >= ts {
                starts.push(t + 1);
            }
        }
        // The record's own right window, when a later record is in it.
        if any_in(ts.saturating_add(1), ts.saturating_add(1).saturating_add(d)) {
            starts.push(ts + 1);
        }
        starts.sort_unstable();
        starts.dedup();
        let mut decoded: BTreeMap<usize, V> = BTreeMap::new();
        for start in starts {
            let window = Window {
                start,
                end: start.saturating_add(d),
            };
            if window.end < close {
                continue;
            }
            let mut agg: Option<VA> = None;
            let mut last_ts = i64::MIN;
            for (i, (t, bytes)) in near.iter().enumerate() {
                if *t < window.start || *t > window.end {
                    continue;
                }
                let v = match decoded.get(&i) {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.input.deserialize(&self.records_store, bytes)?;
                        decoded.insert(i, v.clone());
                        v
                    }
                };
                agg = Some((self.update)(&key, v, agg));
                last_ts = last_ts.max(*t);
            }
            let Some(new) = agg else { continue };
            let kv = ctx.local(self.index);
            let old = match windows.fetch(kv, &kb, start)? {
                Some(bytes) => {
                    let (_, ob) = decode_timestamped(&self.store, &bytes)?;
                    Some(self.value.deserialize(&self.store, ob)?)
                }
                None => None,
            };
            let nb = self.value.serialize(&self.store, &new)?;
            windows.put(kv, &kb, start, Some(&encode_timestamped(last_ts, &nb)))?;
            ctx.forward(Msg {
                key: Box::new(Windowed {
                    key: key.clone(),
                    window,
                }),
                value: Some(Box::new(Change {
                    new: Some(new),
                    old,
                })),
                timestamp: last_ts,
                headers: msg.headers.clone(),
            })?;
        }
        Ok(())
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static> Node
    for SlidingAggregate<K, V, VA>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
        self.records_index = ctx.local_store(&self.records_store)?;
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
        self.open(ctx)?;
        self.run(ctx, key, value, &msg)
    }
}
