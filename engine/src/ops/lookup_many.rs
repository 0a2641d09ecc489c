//! The node of `KStream::left_join_global_many`: one record, many keys, one global table.

use std::sync::Arc;

use super::count_skipped;
use crate::error::StreamsError;
use crate::ops::as_key;
use crate::runtime::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::serde::SerdeRef;

/// Looks every key selected from a stream record up in a global table.
pub(crate) struct StreamGlobalLookupMany<K, V, KT, VT, VR> {
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
        let mut keys = (self.keys)(peek::<K>(&msg.key)?, &v);
        let mut unique: Vec<KT> = Vec::with_capacity(keys.len());
        for k in keys.drain(..) {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        let mut found = Vec::new();
        let (store, serde) = (&self.store, &self.value);
        for kt in unique {
            let kb = self.key.serialize(store, &kt).map_err(as_key)?;
            let row = ctx.global(self.index).get_with(&kb, |raw| {
                raw.map(|b| serde.deserialize(store, b)).transpose()
            })??;
            if let Some(row) = row {
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
