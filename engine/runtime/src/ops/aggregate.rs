//! Aggregations of a grouped stream into a table: count, reduce and aggregate are all one node
//! with a different update function. Records with a null key or value are skipped (counted), as
//! in Kafka Streams.

use std::sync::Arc;

use super::table::Change;
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::store;
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
}

impl<K: 'static, V: 'static, VA: Clone + Send + 'static> Node for Aggregate<K, V, VA> {
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
        if self.key.is_null(key) {
            count_null_key(ctx);
            return Ok(());
        }
        let store = ctx.local(self.index);
        let old = store::get(store, &*self.key, &*self.value, key)?;
        let new = (self.update)(key, take::<V>(v)?, old.clone());
        store::put(store, &*self.key, &*self.value, key, Some(&new))?;
        ctx.forward(Msg {
            value: Some(Box::new(Change {
                new: Some(new),
                old,
            })),
            ..msg
        })
    }
}
