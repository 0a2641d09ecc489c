//! Aggregations of a grouped stream into a table: count, reduce and aggregate are all one node
//! with a different update function. Records with a null key or value are skipped (counted), as
//! in Kafka Streams.

use std::sync::Arc;

use super::table::Change;
use super::ttl::Ttl;
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::store;
use crate::time::PunctuationType;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;

/// `update(key, value, current aggregate or None) -> new aggregate`.
pub type Update<K, V, VA> = Arc<dyn Fn(&K, V, Option<VA>) -> VA + Send + Sync>;

pub struct Aggregate<K, V, VA> {
    pub store: String,
    pub index: usize,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<VA>,
    pub update: Update<K, V, VA>,
    /// Keys expire after a time to live (see [`Ttl`]).
    pub ttl: Option<Ttl>,
}

impl<K: Clone + Send + 'static, V: 'static, VA: Clone + Send + 'static> Node
    for Aggregate<K, V, VA>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
        if let Some(ttl) = &mut self.ttl {
            ttl.index = ctx.local_store(&ttl.index_store)?;
            let interval = ttl.interval_ms();
            ctx.punctuations.schedule(
                ctx.node,
                PunctuationType::StreamTime,
                interval,
                ctx.wall_clock,
            );
        }
        Ok(())
    }

    /// Stream-time punctuation: deletes the keys whose time to live ran out.
    fn punctuate(&mut self, ctx: &mut Ctx<'_>, _id: u32, ts: i64) -> Result<(), StreamsError> {
        let Some(ttl) = &self.ttl else {
            return Ok(());
        };
        for kb in ttl.expire(ctx.local(ttl.index), ts)? {
            let store = ctx.local(self.index);
            let old = store::get_raw(store, &*self.value, &kb)?;
            store.delete(&kb)?;
            let Some(old) = old else { continue };
            let key = self
                .key
                .deserialize(&self.store, &kb)
                .map_err(super::as_key)?;
            ctx.forward(Msg {
                key: Box::new(key),
                value: Some(Box::new(Change::<VA> {
                    new: None,
                    old: Some(old),
                })),
                timestamp: ts,
                headers: weir_core::record::Headers::new(),
            })?;
        }
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let key = peek::<K>(&msg.key)?;
        if self.key.is_null(key) {
            count_null_key(ctx);
            return Ok(());
        }
        let store = ctx.local(self.index);
        let old = store::get(store, &*self.key, &*self.value, key)?;
        let new = (self.update)(key, take::<V>(v)?, old.clone());
        store::put(store, &*self.key, &*self.value, key, Some(&new))?;
        if let Some(ttl) = &self.ttl {
            let kb = self
                .key
                .serialize(&self.store, key)
                .map_err(super::as_key)?;
            ttl.touch(ctx.local(ttl.index), &kb, msg.timestamp)?;
        }
        ctx.forward(Msg {
            value: Some(Box::new(Change {
                new: Some(new),
                old,
            })),
            ..msg
        })
    }
}
