//! Windowed aggregations of a grouped stream into a window store over time windows (tumbling
//! and hopping) with a grace period, as Kafka Streams' `KStreamWindowAggregate` has them.
//! Sliding windows are `super::sliding_aggregate`, session windows `super::session_aggregate`.
//!
//! Each node tracks its observed stream time (the largest record timestamp it saw) and drops a
//! record for a window that is closed (`window end <= stream time - grace`), counting it in
//! `weir_skipped_records_total{reason="late"}` and, when the task has a dead-letter topic,
//! sending it there with the reason. Every window a record updates is forwarded as a
//! [`Change`] of `Windowed<K>` (emit on update); `emit on window close` is a
//! [`Suppress`](super::suppress::Suppress) node after this one.
//!
//! Store values carry the timestamp of the window's result (the largest record timestamp in
//! it so far: 8 bytes big-endian, then the value), which is the timestamp of every update the
//! node forwards.

use std::sync::Arc;

use super::late::LateRecords;
use super::table::Change;
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_core::window::{Window, Windowed};
use weir_state::{KeyValueStore, WindowStore, WindowStoreConfig};

/// `update(key, value, current aggregate or None) -> new aggregate`.
pub type Update<K, V, VA> = Arc<dyn Fn(&K, V, Option<VA>) -> VA + Send + Sync>;

/// Time windows: `[start, start + size)`, a new one every `advance` (tumbling when
/// `advance == size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindowSpec {
    pub size_ms: i64,
    pub advance_ms: i64,
}

/// Every time window `[start, start + size)` that contains `ts` (hopping windows overlap),
/// ascending; windows start at multiples of `advance` and never before 0.
pub fn time_windows_for(ts: i64, size_ms: i64, advance_ms: i64) -> Vec<Window> {
    let advance = advance_ms.max(1);
    let mut start = (ts - ts.rem_euclid(advance)).max(0);
    let mut out = Vec::new();
    loop {
        if start.saturating_add(size_ms) <= ts {
            break;
        }
        out.push(Window {
            start,
            end: start.saturating_add(size_ms),
        });
        if start < advance {
            break;
        }
        start -= advance;
    }
    out.reverse();
    out
}

/// A value with the timestamp of the result it belongs to, as the window store keeps it.
pub(crate) fn encode_timestamped(ts: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The timestamp and value bytes of a stored result.
pub(crate) fn decode_timestamped<'a>(
    store: &str,
    bytes: &'a [u8],
) -> Result<(i64, &'a [u8]), StreamsError> {
    if bytes.len() < 8 {
        return Err(StreamsError::Internal(format!(
            "store `{store}`: a stored window result has {} bytes, fewer than its 8-byte timestamp",
            bytes.len()
        )));
    }
    let (ts, value) = bytes.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(ts);
    Ok((i64::from_be_bytes(b), value))
}

pub struct WindowAggregate<K, V, VA> {
    pub store: String,
    pub index: usize,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<VA>,
    pub update: Update<K, V, VA>,
    pub windows_spec: TimeWindowSpec,
    pub grace_ms: i64,
    /// Opened on the first record (opening drops expired segments, which needs the store).
    pub windows: Option<WindowStore>,
    pub late: LateRecords<K, V>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static>
    WindowAggregate<K, V, VA>
{
    fn open(&mut self, ctx: &mut Ctx<'_>) -> Result<(), StreamsError> {
        if self.windows.is_none() {
            let retention = self.windows_spec.size_ms.saturating_add(self.grace_ms);
            let config = WindowStoreConfig::new(retention, false);
            self.windows = Some(WindowStore::open(config, ctx.local(self.index))?);
        }
        Ok(())
    }

    fn get(
        &self,
        kv: &dyn KeyValueStore,
        kb: &[u8],
        start: i64,
    ) -> Result<Option<(i64, VA)>, StreamsError> {
        let Some(w) = &self.windows else {
            return Ok(None);
        };
        match w.fetch(kv, kb, start)? {
            Some(bytes) => {
                let (ts, vb) = decode_timestamped(&self.store, &bytes)?;
                Ok(Some((ts, self.value.deserialize(&self.store, vb)?)))
            }
            None => Ok(None),
        }
    }

    /// Folds `value` into window `window` of `key` and forwards the change.
    #[allow(clippy::too_many_arguments)]
    fn update_window(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &K,
        kb: &[u8],
        window: Window,
        value: V,
        ts: i64,
        headers: &weir_core::record::Headers,
    ) -> Result<(), StreamsError> {
        let kv = ctx.local(self.index);
        let old = self.get(kv, kb, window.start)?;
        let out_ts = old.as_ref().map_or(ts, |(t, _)| (*t).max(ts));
        let old = old.map(|(_, v)| v);
        let new = (self.update)(key, value, old.clone());
        self.write(ctx, kb, window, out_ts, &new)?;
        self.forward(ctx, key, window, Some(new), old, out_ts, headers)
    }

    fn write(
        &mut self,
        ctx: &mut Ctx<'_>,
        kb: &[u8],
        window: Window,
        ts: i64,
        value: &VA,
    ) -> Result<(), StreamsError> {
        let vb = self.value.serialize(&self.store, value)?;
        let kv = ctx.local(self.index);
        if let Some(w) = &mut self.windows {
            w.put(kv, kb, window.start, Some(&encode_timestamped(ts, &vb)))?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        ctx: &mut Ctx<'_>,
        key: &K,
        window: Window,
        new: Option<VA>,
        old: Option<VA>,
        ts: i64,
        headers: &weir_core::record::Headers,
    ) -> Result<(), StreamsError> {
        ctx.forward(Msg {
            key: Box::new(Windowed {
                key: key.clone(),
                window,
            }),
            value: Some(Box::new(Change { new, old })),
            timestamp: ts,
            headers: headers.clone(),
        })
    }

    fn process_time(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &K,
        kb: &[u8],
        value: V,
        msg: &Msg,
        close: i64,
    ) -> Result<(), StreamsError> {
        let ts = msg.timestamp;
        let TimeWindowSpec {
            size_ms,
            advance_ms,
        } = self.windows_spec;
        let mut late = None;
        for window in time_windows_for(ts, size_ms, advance_ms) {
            if window.end <= close {
                late.get_or_insert(window);
                continue;
            }
            self.update_window(ctx, key, kb, window, value.clone(), ts, &msg.headers)?;
        }
        if let Some(window) = late {
            self.late.dropped(ctx, key, &value, msg, window, close)?;
        }
        Ok(())
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static> Node
    for WindowAggregate<K, V, VA>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
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
        let kb = self
            .key
            .serialize(&self.store, &key)
            .map_err(super::as_key)?;
        let observed = match &mut self.windows {
            Some(w) => {
                w.observe(ctx.local(self.index), msg.timestamp)?;
                w.observed_stream_time()
            }
            None => msg.timestamp,
        };
        let close = observed.saturating_sub(self.grace_ms);
        self.process_time(ctx, &key, &kb, value, &msg, close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_and_hopping_windows_of_a_timestamp() {
        let w = |s: i64, e: i64| Window { start: s, end: e };
        assert_eq!(time_windows_for(0, 10, 10), [w(0, 10)]);
        assert_eq!(time_windows_for(19, 10, 10), [w(10, 20)]);
        assert_eq!(time_windows_for(12, 10, 5), [w(5, 15), w(10, 20)]);
        assert_eq!(time_windows_for(3, 10, 5), [w(0, 10)]);
        assert_eq!(time_windows_for(15, 10, 5), [w(10, 20), w(15, 25)]);
    }
}
