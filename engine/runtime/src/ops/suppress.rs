//! `suppress(untilWindowCloses)` / `emit on window close`: holds back the updates of a
//! windowed table and forwards each window's final result once, when the window closes
//! (`window end + extra <= stream time - grace`; `extra` is 0 for time windows, whose end is
//! exclusive, 1 for sliding windows, whose end is inclusive, and `gap + 1` for sessions, which
//! a record within the gap could still extend).
//!
//! The buffer is a key-value store (`{store}-suppress-buffer`, changelogged): key = the
//! window's close time (8 bytes, order-preserving) then the windowed key's bytes; value = the
//! update's timestamp (8 bytes), a flag (1: a value, 0: a tombstone) and the value's bytes.
//! Its writes and deletes go to its changelog in the same transaction as the results it
//! forwards, so under exactly-once a crash neither loses a final result nor emits one twice.
//! Tombstones (a session merged into a larger one) are dropped at emission, as Kafka Streams
//! does for final results. Stream time is the largest timestamp the node saw, recovered after
//! a restart from the next record.

use std::ops::Bound;

use super::table::Change;
use super::time_key::ordered;
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use weir_core::error::StreamsError;
use weir_core::record::Headers;
use weir_core::serde::SerdeRef;
use weir_core::window::Windowed;

pub struct Suppress<K, V> {
    pub store: String,
    pub index: usize,
    /// The windowed key's serde (the buffer's keys).
    pub key: SerdeRef<Windowed<K>>,
    pub value: SerdeRef<V>,
    pub grace_ms: i64,
    pub extra_ms: i64,
    pub observed: i64,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Suppress<K, V> {
    fn buffer(
        &self,
        ctx: &mut Ctx<'_>,
        key: &Windowed<K>,
        ts: i64,
        value: Option<&V>,
    ) -> Result<(), StreamsError> {
        let close_at = key.window.end.saturating_add(self.extra_ms);
        let mut kb = ordered(close_at).to_vec();
        kb.extend(
            self.key
                .serialize(&self.store, key)
                .map_err(super::as_key)?,
        );
        let mut vb = ts.to_be_bytes().to_vec();
        match value {
            Some(v) => {
                vb.push(1);
                vb.extend(self.value.serialize(&self.store, v)?);
            }
            None => vb.push(0),
        }
        ctx.local(self.index).put(&kb, &vb)?;
        Ok(())
    }

    /// Forwards and removes every buffered result whose window closed.
    fn evict(&self, ctx: &mut Ctx<'_>) -> Result<(), StreamsError> {
        let close = self.observed.saturating_sub(self.grace_ms);
        let to = ordered(close.saturating_add(1));
        let due: Vec<(Vec<u8>, Vec<u8>)> = ctx
            .local(self.index)
            .range(Bound::Unbounded, Bound::Excluded(to.as_slice()))?
            .collect::<Result<_, _>>()?;
        for (kb, vb) in due {
            ctx.local(self.index).delete(&kb)?;
            if vb.len() < 9 || kb.len() < 8 {
                return Err(StreamsError::Internal(format!(
                    "store `{}`: a malformed suppression buffer entry",
                    self.store
                )));
            }
            if vb[8] == 0 {
                continue;
            }
            let mut tsb = [0u8; 8];
            tsb.copy_from_slice(&vb[..8]);
            let key = self.key.deserialize(&self.store, &kb[8..])?;
            let value = self.value.deserialize(&self.store, &vb[9..])?;
            ctx.forward(Msg {
                key: Box::new(key),
                value: Some(Box::new(Change {
                    new: Some(value),
                    old: None,
                })),
                timestamp: i64::from_be_bytes(tsb),
                headers: Headers::new(),
            })?;
        }
        Ok(())
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Node for Suppress<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let key = peek::<Windowed<K>>(&msg.key)?.clone();
        let change = match msg.value {
            Some(v) => take::<Change<V>>(v)?,
            None => Change {
                new: None,
                old: None,
            },
        };
        self.observed = self.observed.max(msg.timestamp);
        self.buffer(ctx, &key, msg.timestamp, change.new.as_ref())?;
        self.evict(ctx)
    }
}
