//! Joins: stream–table, stream–global-table and table–table (inner and left).
//!
//! Stream-side records with a null value are dropped (counted), as in Kafka Streams. A joiner is
//! stored as `Fn(.., Option<other>) -> Option<out>`: inner joins return `None` for a missing
//! match, left joins never do.

use std::sync::Arc;

use super::table::Change;
use super::{count_null_key, count_skipped};
use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::ops::as_key;
use crate::store;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;

pub type StreamJoiner<V, VT, VR> = Arc<dyn Fn(V, Option<VT>) -> Option<VR> + Send + Sync>;

/// Looks each stream record's key up in a co-partitioned table's store.
pub struct StreamTableJoin<K, V, VT, VR> {
    pub store: String,
    pub index: usize,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<VT>,
    pub joiner: StreamJoiner<V, VT, VR>,
}

impl<K: 'static, V: 'static, VT: 'static, VR: Clone + Send + 'static> Node
    for StreamTableJoin<K, V, VT, VR>
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
        // A record without a key matches no row: a left join still emits it (Kafka Streams
        // 3.7+), an inner join skips it (counted).
        let null_key = self.key.is_null(key);
        let other = if null_key {
            None
        } else {
            store::get(ctx.local(self.index), &*self.key, &*self.value, key)?
        };
        let out = (self.joiner)(take::<V>(v)?, other);
        emit(ctx, Msg { value: None, ..msg }, out, null_key)
    }
}

/// Looks a key selected from each stream record up in a global table.
pub struct StreamGlobalJoin<K, V, KT, VT, VR> {
    pub store: String,
    pub index: usize,
    pub selector: Arc<dyn Fn(&K, &V) -> KT + Send + Sync>,
    pub key: SerdeRef<KT>,
    pub value: SerdeRef<VT>,
    pub joiner: StreamJoiner<V, VT, VR>,
}

impl<K: 'static, V: 'static, KT: 'static, VT: 'static, VR: Clone + Send + 'static> Node
    for StreamGlobalJoin<K, V, KT, VT, VR>
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
        let kt = (self.selector)(peek::<K>(&msg.key)?, &v);
        // A null lookup key matches no row (left joins emit, inner joins skip, counted).
        let null_key = self.key.is_null(&kt);
        let other = if null_key {
            None
        } else {
            global_row(ctx, self.index, &self.store, &self.key, &self.value, &kt)?
        };
        let out = (self.joiner)(v, other);
        emit(ctx, Msg { value: None, ..msg }, out, null_key)
    }
}

/// Forwards a stream join's result with `msg`'s key, timestamp and headers; no result (an
/// inner join without a row) is dropped, and counted as a skip when the lookup key was null.
fn emit<VR: Clone + Send + 'static>(
    ctx: &mut Ctx<'_>,
    msg: Msg,
    out: Option<VR>,
    null_key: bool,
) -> Result<(), StreamsError> {
    match out {
        Some(out) => ctx.forward(Msg {
            value: Some(Box::new(out)),
            ..msg
        }),
        None => {
            if null_key {
                count_null_key(ctx);
            }
            Ok(())
        }
    }
}

/// The row of global store `store` (reader `index`) under `key`, decoded.
pub fn global_row<KT: 'static, VT: 'static>(
    ctx: &mut Ctx<'_>,
    index: usize,
    store: &str,
    key_serde: &SerdeRef<KT>,
    value_serde: &SerdeRef<VT>,
    key: &KT,
) -> Result<Option<VT>, StreamsError> {
    let kb = key_serde.serialize(store, key).map_err(as_key)?;
    ctx.global(index).get_with(&kb, |raw| {
        raw.map(|b| value_serde.deserialize(store, b)).transpose()
    })?
}

pub type TableJoiner<VL, VR, VO> =
    Arc<dyn Fn(Option<&VL>, Option<&VR>) -> Option<VO> + Send + Sync>;

/// One side of a table–table join: a change on this side is joined with the other side's current
/// row. `this_is_left` tells which argument of the joiner this side's value is.
pub struct TableTableJoin<K, VL, VR, VO> {
    pub other_store: String,
    pub index: usize,
    pub key: SerdeRef<K>,
    pub left_value: SerdeRef<VL>,
    pub right_value: SerdeRef<VR>,
    pub this_is_left: bool,
    pub joiner: TableJoiner<VL, VR, VO>,
}

impl<K, VL, VR, VO> Node for TableTableJoin<K, VL, VR, VO>
where
    K: 'static,
    VL: Clone + Send + 'static,
    VR: Clone + Send + 'static,
    VO: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.other_store)?;
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else { return Ok(()) };
        let key = peek::<K>(&msg.key)?;
        let out = if self.this_is_left {
            let change = take::<Change<VL>>(v)?;
            let right = store::get(ctx.local(self.index), &*self.key, &*self.right_value, key)?;
            Change {
                new: (self.joiner)(change.new.as_ref(), right.as_ref()),
                old: (self.joiner)(change.old.as_ref(), right.as_ref()),
            }
        } else {
            let change = take::<Change<VR>>(v)?;
            let left = store::get(ctx.local(self.index), &*self.key, &*self.left_value, key)?;
            Change {
                new: (self.joiner)(left.as_ref(), change.new.as_ref()),
                old: (self.joiner)(left.as_ref(), change.old.as_ref()),
            }
        };
        if out.new.is_none() && out.old.is_none() {
            return Ok(());
        }
        ctx.forward(Msg {
            value: Some(Box::new(out)),
            ..msg
        })
    }
}
