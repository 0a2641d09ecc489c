//! Session-window aggregations (Kafka Streams' `KStreamSessionWindowAggregate`): a session is
//! a run of records of one key with no gap larger than `gap` between them, `[first, last]`
//! (both inclusive). A record starts a new session `[t, t]` or joins, and merges, every
//! session within `gap` of it: the merged session replaces them, each replaced one is
//! forwarded as a tombstone (`Change { new: None, old }`) and the merged one as the new value,
//! with the merged session's end as timestamp. A record whose merged session ends before
//! stream time minus grace is late (see `super::late`).

use std::sync::Arc;

use super::late::LateRecords;
use super::table::Change;
use super::window_aggregate::Update;
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_core::window::{Window, Windowed};
use weir_state::{SessionStore, SessionStoreConfig};

/// `merge(key, left aggregate, right aggregate) -> merged`, for two sessions that merge.
pub type Merger<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;

pub struct SessionAggregate<K, V, VA> {
    pub store: String,
    pub index: usize,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<VA>,
    /// Where a session's aggregate starts (`aggregate`); `None`: from its first record
    /// (`reduce`, `update` then gets `None`).
    pub initializer: Option<Arc<dyn Fn() -> VA + Send + Sync>>,
    pub update: Update<K, V, VA>,
    pub merger: Merger<K, VA>,
    pub gap_ms: i64,
    pub grace_ms: i64,
    pub sessions: Option<SessionStore>,
    pub late: LateRecords<K, V>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static>
    SessionAggregate<K, V, VA>
{
    /// How long the store keeps a session after its end.
    pub fn retention_ms(gap_ms: i64, grace_ms: i64) -> i64 {
        gap_ms.saturating_add(grace_ms)
    }

    fn forward(
        ctx: &mut Ctx<'_>,
        key: &K,
        window: Window,
        change: Change<VA>,
        msg: &Msg,
    ) -> Result<(), StreamsError> {
        ctx.forward(Msg {
            key: Box::new(Windowed {
                key: key.clone(),
                window,
            }),
            value: Some(Box::new(change)),
            timestamp: window.end,
            headers: msg.headers.clone(),
        })
    }

    fn run(&mut self, ctx: &mut Ctx<'_>, key: K, value: V, msg: &Msg) -> Result<(), StreamsError> {
        let ts = msg.timestamp;
        let kb = self
            .key
            .serialize(&self.store, &key)
            .map_err(super::as_key)?;
        if self.sessions.is_none() {
            let config = SessionStoreConfig::new(Self::retention_ms(self.gap_ms, self.grace_ms));
            self.sessions = Some(SessionStore::open(config, ctx.local(self.index))?);
        }
        let Some(sessions) = &mut self.sessions else {
            return Ok(());
        };
        let kv = ctx.local(self.index);
        sessions.observe(kv, ts)?;
        let close = sessions
            .observed_stream_time()
            .saturating_sub(self.grace_ms);
        let overlapping = sessions.find_sessions(
            kv,
            &kb,
            ts.saturating_sub(self.gap_ms),
            ts.saturating_add(self.gap_ms),
        )?;
        let mut merged = Window { start: ts, end: ts };
        let mut agg = self.initializer.as_ref().map(|init| init());
        let mut replaced = Vec::with_capacity(overlapping.len());
        for ((start, end), bytes) in overlapping {
            let old = self.value.deserialize(&self.store, &bytes)?;
            merged.start = merged.start.min(start);
            merged.end = merged.end.max(end);
            agg = Some(match agg {
                Some(a) => (self.merger)(&key, a, old.clone()),
                None => old.clone(),
            });
            replaced.push((Window { start, end }, old));
        }
        if merged.end < close {
            return self.late.dropped(ctx, &key, &value, msg, merged, close);
        }
        let agg = (self.update)(&key, value, agg);
        for (window, old) in replaced {
            if window != merged {
                sessions.put(ctx.local(self.index), &kb, window.start, window.end, None)?;
                Self::forward(
                    ctx,
                    &key,
                    window,
                    Change {
                        new: None,
                        old: Some(old),
                    },
                    msg,
                )?;
            }
        }
        let vb = self.value.serialize(&self.store, &agg)?;
        sessions.put(
            ctx.local(self.index),
            &kb,
            merged.start,
            merged.end,
            Some(&vb),
        )?;
        Self::forward(
            ctx,
            &key,
            merged,
            Change {
                new: Some(agg),
                old: None,
            },
            msg,
        )
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, VA: Clone + Send + 'static> Node
    for SessionAggregate<K, V, VA>
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
        self.run(ctx, key, value, &msg)
    }
}
