//! Table operators. A table's records carry a [`Change`] (new and old value) so downstream
//! operators (joins, filters, materializations) can tell an update from an insert or delete.

use std::sync::Arc;

use crate::node::{Ctx, InitCtx, Msg, Node, peek, take};
use crate::store;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;

/// The change of one table row: `new == None` deletes, `old == None` inserts.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<V> {
    pub new: Option<V>,
    pub old: Option<V>,
}

/// A store a table operator writes its result into.
pub struct Materialize<K, V> {
    pub store: String,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<V>,
    pub index: usize,
}

impl<K, V> Clone for Materialize<K, V> {
    fn clone(&self) -> Self {
        Materialize {
            store: self.store.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
            index: self.index,
        }
    }
}

impl<K: 'static, V: 'static> Materialize<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.index = ctx.local_store(&self.store)?;
        Ok(())
    }

    fn old(&self, ctx: &mut Ctx<'_>, key: &K) -> Result<Option<V>, StreamsError> {
        store::get(ctx.local(self.index), &*self.key, &*self.value, key)
    }

    fn write(&self, ctx: &mut Ctx<'_>, key: &K, value: Option<&V>) -> Result<(), StreamsError> {
        store::put(ctx.local(self.index), &*self.key, &*self.value, key, value)
    }
}

/// Turns a table topic's records (value or tombstone) into rows of a materialized table.
pub struct TableSource<K, V> {
    pub store: Materialize<K, V>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Node for TableSource<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.store.init(ctx)
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let key = peek::<K>(&msg.key)?;
        // A table has no row without a key (its source skips them; this guards other parents).
        if self.store.key.is_null(key) {
            super::count_null_key(ctx);
            return Ok(());
        }
        let new = match msg.value {
            Some(v) => Some(take::<V>(v)?),
            None => None,
        };
        let old = self.store.old(ctx, key)?;
        if old.is_none() && new.is_none() {
            return Ok(());
        }
        self.store.write(ctx, key, new.as_ref())?;
        ctx.forward(Msg {
            value: Some(Box::new(Change { new, old })),
            ..msg
        })
    }
}

/// Keeps rows whose predicate equals `keep`; a row that stops passing becomes a delete.
pub struct TableFilter<K, V> {
    pub pred: Arc<dyn Fn(&K, &V) -> bool + Send + Sync>,
    pub keep: bool,
    pub store: Option<Materialize<K, V>>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Node for TableFilter<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else { return Ok(()) };
        let change = take::<Change<V>>(v)?;
        let key = peek::<K>(&msg.key)?;
        let keep = |v: Option<V>| v.filter(|v| (self.pred)(key, v) == self.keep);
        let out = Change {
            new: keep(change.new),
            old: keep(change.old),
        };
        if out.new.is_none() && out.old.is_none() {
            return Ok(());
        }
        if let Some(s) = &self.store {
            s.write(ctx, key, out.new.as_ref())?;
        }
        ctx.forward(Msg {
            value: Some(Box::new(out)),
            ..msg
        })
    }
}

/// Maps every row's value.
pub struct TableMapValues<K, V, V2> {
    pub f: Arc<dyn Fn(&K, V) -> V2 + Send + Sync>,
    pub store: Option<Materialize<K, V2>>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static, V2: Clone + Send + 'static> Node
    for TableMapValues<K, V, V2>
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else { return Ok(()) };
        let change = take::<Change<V>>(v)?;
        let key = peek::<K>(&msg.key)?;
        let out = Change {
            new: change.new.map(|v| (self.f)(key, v)),
            old: change.old.map(|v| (self.f)(key, v)),
        };
        if let Some(s) = &self.store {
            s.write(ctx, key, out.new.as_ref())?;
        }
        ctx.forward(Msg {
            value: Some(Box::new(out)),
            ..msg
        })
    }
}

/// Materializes a table result (the merge point of a table–table join) and forwards it.
pub struct TableMaterialize<K, V> {
    pub store: Option<Materialize<K, V>>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Node for TableMaterialize<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        if let (Some(s), Some(v)) = (&self.store, &msg.value) {
            let change = peek::<Change<V>>(v)?;
            s.write(ctx, peek::<K>(&msg.key)?, change.new.as_ref())?;
        }
        ctx.forward(msg)
    }
}

/// A table's changes as a stream of new values (deletes become null values, i.e. tombstones).
pub struct ToStream<V> {
    pub _v: std::marker::PhantomData<fn(V)>,
}

impl<V: Clone + Send + 'static> Node for ToStream<V> {
    fn process(&mut self, ctx: &mut Ctx<'_>, mut msg: Msg) -> Result<(), StreamsError> {
        if let Some(v) = msg.value.take() {
            let change = take::<Change<V>>(v)?;
            msg.value = change.new.map(|v| Box::new(v) as _);
        }
        ctx.forward(msg)
    }
}
