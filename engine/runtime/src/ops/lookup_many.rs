//! The node of `KStream::left_join_global_many`: one record, many keys, one global table.

use std::sync::Arc;

use super::count_skipped;
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::ops::join::global_row;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;

/// Looks every key selected from a stream record up in a global table.
pub struct StreamGlobalLookupMany<K, V, KT, VT, VR> {
    pub store: String,
    pub index: usize,
    pub keys: Arc<dyn Fn(&K, &V) -> Vec<KT> + Send + Sync>,
    pub key: SerdeRef<KT>,
    pub value: SerdeRef<VT>,
    pub joiner: Arc<dyn Fn(V, Vec<(KT, VT)>) -> VR + Send + Sync>,
}

impl<K: 'static, V: 'static, KT: PartialEq + 'static, VT: 'static, VR: Clone + Send + 'static> Node
    for StreamGlobalLookupMany<K, V, KT, VT, VR>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.global_store(&self.store)?;
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let v = take::<V>(v)?;
        let keys = (self.keys)(peek::<K>(&msg.key)?, &v);
        let mut unique: Vec<KT> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        let mut found = Vec::new();
        for kt in unique {
            // A null lookup key matches no row.
            if self.key.is_null(&kt) {
                continue;
            }
            if let Some(row) =
                global_row(ctx, self.index, &self.store, &self.key, &self.value, &kt)?
            {
                found.push((kt, row));
            }
        }
        let out = (self.joiner)(v, found);
        ctx.forward(Msg {
            value: Some(Box::new(out)),
            ..msg
        })
    }
}
