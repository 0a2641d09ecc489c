//! Stateless operators: filter, map, map_values, flat_map, flat_map_values, select_key, peek,
//! branch. Null values (tombstones) pass through operators that keep the key without calling
//! user code; operators that need the value to compute a key drop them and count the drop.

use std::sync::Arc;

use super::count_skipped;
use crate::node::{Boxed, Ctx, InitCtx, Msg, Node, peek, take};
use weir_core::error::StreamsError;

pub type Pred<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// A predicate that can fail on a record (definition-file expressions); a failure is a
/// processing error of the record, handed to the configured handler.
pub type TryPred<K, V> =
    Arc<dyn Fn(&K, &V) -> Result<bool, weir_core::error::BoxError> + Send + Sync>;

/// Keeps records whose predicate equals `keep`; counts the others in
/// `weir_dropped_records_total{processor}` (the handle registered at init, labelled with the
/// node's name and the application).
pub struct Filter<K, V> {
    pub pred: TryPred<K, V>,
    pub keep: bool,
    pub dropped: metrics::Counter,
}

impl<K: 'static, V: 'static> Node for Filter<K, V> {
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        self.dropped = weir_core::metrics::dropped_counter(ctx.application_id, ctx.name);
        Ok(())
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let pass = match &msg.value {
            Some(v) => match (self.pred)(peek::<K>(&msg.key)?, peek::<V>(v)?) {
                Ok(b) => b == self.keep,
                Err(source) => {
                    let processor = ctx.node_name().to_owned();
                    return Err(StreamsError::Process { processor, source });
                }
            },
            None => true,
        };
        if pass {
            ctx.forward(msg)
        } else {
            self.dropped.increment(1);
            Ok(())
        }
    }
}

/// Replaces the value.
pub struct MapValues<K, V, V2> {
    /// Fallible: a failure is a processing error of the record (`try_map_values`).
    pub f: Arc<dyn Fn(&K, V) -> Result<V2, weir_core::error::BoxError> + Send + Sync>,
}

impl<K: 'static, V: 'static, V2: Clone + Send + 'static> Node for MapValues<K, V, V2> {
    fn process(&mut self, ctx: &mut Ctx<'_>, mut msg: Msg) -> Result<(), StreamsError> {
        if let Some(v) = msg.value.take() {
            let v2 = (self.f)(peek::<K>(&msg.key)?, take::<V>(v)?).map_err(|source| {
                StreamsError::Process {
                    processor: ctx.node_name().to_owned(),
                    source,
                }
            })?;
            msg.value = Some(Box::new(v2));
        }
        ctx.forward(msg)
    }
}

/// Replaces key and value.
pub struct Map<K, V, K2, V2> {
    /// Fallible: a failure is a processing error of the record (`try_map`).
    pub f: Arc<dyn Fn(K, V) -> Result<(K2, V2), weir_core::error::BoxError> + Send + Sync>,
}

impl<K: 'static, V: 'static, K2: Clone + Send + 'static, V2: Clone + Send + 'static> Node
    for Map<K, V, K2, V2>
{
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let (k2, v2) = (self.f)(take::<K>(msg.key)?, take::<V>(v)?).map_err(|source| {
            StreamsError::Process {
                processor: ctx.node_name().to_owned(),
                source,
            }
        })?;
        ctx.forward(Msg {
            key: Box::new(k2),
            value: Some(Box::new(v2)),
            ..msg
        })
    }
}

/// Replaces the key, computed from key and value.
pub struct SelectKey<K, V, K2> {
    pub f: Arc<dyn Fn(&K, &V) -> K2 + Send + Sync>,
}

impl<K: 'static, V: 'static, K2: Clone + Send + 'static> Node for SelectKey<K, V, K2> {
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = &msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        let k2 = (self.f)(peek::<K>(&msg.key)?, peek::<V>(v)?);
        ctx.forward(Msg {
            key: Box::new(k2),
            ..msg
        })
    }
}

/// Zero or more records per record.
pub struct FlatMap<K, V, K2, V2> {
    pub f: Arc<dyn Fn(K, V) -> Vec<(K2, V2)> + Send + Sync>,
}

impl<K: 'static, V: 'static, K2: Clone + Send + 'static, V2: Clone + Send + 'static> Node
    for FlatMap<K, V, K2, V2>
{
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            count_skipped(ctx);
            return Ok(());
        };
        for (k2, v2) in (self.f)(take::<K>(msg.key)?, take::<V>(v)?) {
            let out = Msg {
                key: Box::new(k2),
                value: Some(Box::new(v2)),
                timestamp: msg.timestamp,
                headers: msg.headers.clone(),
            };
            ctx.forward(out)?;
        }
        Ok(())
    }
}

/// Zero or more values per record, same key.
pub struct FlatMapValues<K, V, V2> {
    pub f: Arc<dyn Fn(&K, V) -> Vec<V2> + Send + Sync>,
}

impl<K: Clone + Send + 'static, V: 'static, V2: Clone + Send + 'static> Node
    for FlatMapValues<K, V, V2>
{
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            return ctx.forward(Msg { value: None, ..msg });
        };
        let key = take::<K>(msg.key)?;
        for v2 in (self.f)(&key, take::<V>(v)?) {
            let out = Msg {
                key: Box::new(key.clone()) as Boxed,
                value: Some(Box::new(v2)),
                timestamp: msg.timestamp,
                headers: msg.headers.clone(),
            };
            ctx.forward(out)?;
        }
        Ok(())
    }
}

/// Calls an action on every record, then forwards it (peek) or not (foreach, no children).
pub struct Peek<K, V> {
    pub f: Arc<dyn Fn(&K, &V) + Send + Sync>,
}

impl<K: 'static, V: 'static> Node for Peek<K, V> {
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        if let Some(v) = &msg.value {
            (self.f)(peek::<K>(&msg.key)?, peek::<V>(v)?);
        }
        ctx.forward(msg)
    }
}

/// Sends each record to the first branch whose predicate holds (child `i` for predicate `i`), or
/// to the default branch (the child after the last predicate) when there is one. Null values
/// (tombstones) are tested by no predicate: they go to child `tombstones` when set, else to the
/// default branch.
pub struct Branch<K, V> {
    pub preds: Vec<Pred<K, V>>,
    pub has_default: bool,
    /// The predicate branch that takes tombstones, if any.
    pub tombstones: Option<usize>,
}

impl<K: 'static, V: 'static> Node for Branch<K, V> {
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let chosen = match &msg.value {
            Some(v) => {
                let (k, v) = (peek::<K>(&msg.key)?, peek::<V>(v)?);
                self.preds.iter().position(|p| p(k, v))
            }
            None => self.tombstones,
        };
        match chosen {
            Some(i) => ctx.forward_to(i, msg),
            None if self.has_default => ctx.forward_to(self.preds.len(), msg),
            None => Ok(()),
        }
    }
}
