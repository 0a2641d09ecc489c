//! The node of `KStream::left_join_window`: each stream record looked up in the window store of
//! a co-partitioned windowed table (time or sliding windows), by its key and time.
//!
//! For a record at `ts` it takes, of the key's windows whose end lies in `[ts - size, ts]`,
//! the one that ends last (`size`: the window size, for sliding windows the time difference):
//! the latest window over at `ts`, unless it ended more than one window size before. The store
//! is read, never written: a [`WindowStore::view_at`] view at the task's stream time is taken per record (no scan), so it sees
//! the windows the aggregation keeps at that moment (those it expired, with an end before its
//! stream time minus grace, are gone — a table read this way wants a grace of at least `size`).
//! Stored values carry the 8-byte timestamp of their result before the value's bytes.

use super::count_skipped;
use super::window_aggregate::decode_timestamped;
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::ops::join::StreamJoiner;
use std::sync::Arc;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_core::window::{Window, Windowed};
use weir_state::{WindowStore, WindowStoreConfig};

/// Looks each stream record up in a windowed table's window store.
pub struct StreamWindowLookup<K, V, VT, VR> {
    pub store: String,
    pub index: usize,
    /// The windowed table's key serde (the grouping key's bytes, then the window start).
    pub key: SerdeRef<Windowed<K>>,
    /// The stream's key serde, if known: it tells a null key (which matches no window).
    pub stream_key: Option<SerdeRef<K>>,
    pub value: SerdeRef<VT>,
    /// The store's config (as its aggregation opens it) and window size.
    pub config: WindowStoreConfig,
    pub size_ms: i64,
    pub joiner: StreamJoiner<V, VT, VR>,
}

impl<K: Clone + 'static, V: 'static, VT: 'static, VR: Clone + Send + 'static>
    StreamWindowLookup<K, V, VT, VR>
{
    /// The value of the window of `key` that ends last in `[ts - size, ts]`, if any.
    fn window_at(&self, ctx: &mut Ctx<'_>, key: &K, ts: i64) -> Result<Option<VT>, StreamsError> {
        // The grouping key's bytes as the aggregation stores them: the windowed key without
        // its 8-byte window start.
        let probe = Windowed {
            key: key.clone(),
            window: Window { start: 0, end: 0 },
        };
        let mut kb = self
            .key
            .serialize(&self.store, &probe)
            .map_err(super::as_key)?;
        kb.truncate(kb.len().saturating_sub(8));
        // A view at the task's stream time: no scan of the store per record.
        let stream_time = ctx.stream_time;
        let kv = ctx.local(self.index);
        let windows = WindowStore::view_at(self.config, &self.store, stream_time)?;
        let from = ts.saturating_sub(self.size_ms.saturating_mul(2));
        let to = ts.saturating_sub(self.size_ms);
        let found = windows.backward_fetch_range(kv, &kb, from, to)?;
        let Some((_, bytes)) = found.into_iter().next() else {
            return Ok(None);
        };
        let (_, value) = decode_timestamped(&self.store, &bytes)?;
        Ok(Some(self.value.deserialize(&self.store, value)?))
    }
}

impl<K: Clone + 'static, V: 'static, VT: 'static, VR: Clone + Send + 'static> Node
    for StreamWindowLookup<K, V, VT, VR>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let key = peek::<K>(&msg.key)?;
        // A record without a key matches no window; the (left) join still emits it.
        let null_key = self.stream_key.as_ref().is_some_and(|s| s.is_null(key));
        let other = if null_key {
            None
        } else {
            let key = key.clone();
            self.window_at(ctx, &key, msg.timestamp)?
        };
        let out = (self.joiner)(take::<V>(v)?, other);
        match out {
            Some(out) => ctx.forward(Msg {
                value: Some(Box::new(out)),
                ..msg
            }),
            None => Ok(()),
        }
    }
}

/// The joiner of a left join as a [`StreamJoiner`].
pub fn left<V, VT, VR>(
    joiner: impl Fn(V, Option<VT>) -> VR + Send + Sync + 'static,
) -> StreamJoiner<V, VT, VR> {
    Arc::new(move |v, t| Some(joiner(v, t)))
}
