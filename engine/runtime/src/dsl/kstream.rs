//! [`KStream`]: an unbounded stream of independent records, and its operators.

use std::marker::PhantomData;
use std::sync::Arc;

use super::builder::Shared;
use super::{
    BranchedKStream, Datum, GlobalKTable, Grouped, KGroupedStream, KTable, Produced, Repartitioned,
};
use crate::ops::join::{StreamGlobalJoin, StreamJoiner, StreamTableJoin};
use crate::ops::source_sink::{PassThrough, Sink, Target};
use crate::ops::stateless::{FlatMap, FlatMapValues, Map, MapValues, Peek, SelectKey};
use crate::processor::{Processor, ProcessorNode};
use weir_core::serde::SerdeRef;
use weir_graph::{NodeKind, SinkTopic};

/// A stream of `(K, V)` records. Cheap to clone: clones are handles to the same graph node.
pub struct KStream<K, V> {
    pub b: Shared,
    pub node: usize,
    pub key_serde: Option<SerdeRef<K>>,
    pub value_serde: Option<SerdeRef<V>>,
    /// The key was changed since the source: joins and aggregations need a repartition first.
    pub key_changed: bool,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            b: self.b.clone(),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            key_changed: self.key_changed,
        }
    }
}

impl<K: Datum, V: Datum> KStream<K, V> {
    pub fn new(
        b: Shared,
        node: usize,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
        key_changed: bool,
    ) -> Self {
        KStream {
            b,
            node,
            key_serde,
            value_serde,
            key_changed,
        }
    }

    pub(super) fn child<K2: Datum, V2: Datum>(
        &self,
        node: usize,
        key_serde: Option<SerdeRef<K2>>,
        value_serde: Option<SerdeRef<V2>>,
        key_changed: bool,
    ) -> KStream<K2, V2> {
        KStream::new(self.b.clone(), node, key_serde, value_serde, key_changed)
    }

    pub(super) fn add<N: crate::node::Node + 'static>(
        &self,
        kind: &str,
        stores: Vec<String>,
        make: impl Fn() -> N + Send + Sync + 'static,
    ) -> usize {
        let mut g = self.b.borrow_mut();
        let name = g.name(None, kind);
        g.processor(name, vec![self.node], stores, make)
    }

    /// Renames the node that produces this stream (names appear in `describe()` and metrics).
    pub fn named(self, name: impl Into<String>) -> Self {
        self.b.borrow_mut().nodes[self.node].name = name.into();
        self
    }

    /// Replaces each value.
    pub fn map_values<V2: Datum>(
        &self,
        f: impl Fn(V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.map_values_with_key(move |_, v| f(v))
    }

    /// Replaces each value, seeing the key.
    pub fn map_values_with_key<V2: Datum>(
        &self,
        f: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.try_map_values_with_key(move |k, v| Ok(f(k, v)))
    }

    /// Like [`KStream::map_values`] with a function that can fail: a failure is a processing
    /// error of that record, which the configured handler takes (fail, skip and count, or
    /// dead-letter with the record's original bytes); nothing is forwarded for it.
    pub fn try_map_values<V2: Datum>(
        &self,
        f: impl Fn(V) -> Result<V2, weir_core::error::BoxError> + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.try_map_values_with_key(move |_, v| f(v))
    }

    /// Like [`KStream::map_values_with_key`] with a function that can fail (see
    /// [`KStream::try_map_values`]).
    pub fn try_map_values_with_key<V2: Datum>(
        &self,
        f: impl Fn(&K, V) -> Result<V2, weir_core::error::BoxError> + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        let f: Arc<dyn Fn(&K, V) -> Result<V2, weir_core::error::BoxError> + Send + Sync> =
            Arc::new(f);
        let node = self.add("KSTREAM-MAPVALUES", vec![], move || MapValues {
            f: f.clone(),
        });
        self.child(
            node,
            self.key_serde.clone(),
            same_type(&self.value_serde),
            self.key_changed,
        )
    }

    /// Replaces key and value (marks the stream for repartitioning before joins/aggregations).
    pub fn map<K2: Datum, V2: Datum>(
        &self,
        f: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        self.try_map(move |k, v| Ok(f(k, v)))
    }

    /// Like [`KStream::map`] with a function that can fail (see [`KStream::try_map_values`]).
    pub fn try_map<K2: Datum, V2: Datum>(
        &self,
        f: impl Fn(K, V) -> Result<(K2, V2), weir_core::error::BoxError> + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        let f: Arc<dyn Fn(K, V) -> Result<(K2, V2), weir_core::error::BoxError> + Send + Sync> =
            Arc::new(f);
        let node = self.add("KSTREAM-MAP", vec![], move || Map { f: f.clone() });
        self.child(node, None, None, true)
    }

    /// Replaces the key (marks the stream for repartitioning).
    pub fn select_key<K2: Datum>(
        &self,
        f: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KStream<K2, V> {
        let f: Arc<dyn Fn(&K, &V) -> K2 + Send + Sync> = Arc::new(f);
        let node = self.add("KSTREAM-KEY-SELECT", vec![], move || SelectKey {
            f: f.clone(),
        });
        self.child(node, None, self.value_serde.clone(), true)
    }

    /// Zero or more records per record (marks the stream for repartitioning).
    pub fn flat_map<K2: Datum, V2: Datum, I>(
        &self,
        f: impl Fn(K, V) -> I + Send + Sync + 'static,
    ) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
    {
        let f: Arc<dyn Fn(K, V) -> Vec<(K2, V2)> + Send + Sync> =
            Arc::new(move |k, v| f(k, v).into_iter().collect());
        let node = self.add("KSTREAM-FLATMAP", vec![], move || FlatMap { f: f.clone() });
        self.child(node, None, None, true)
    }

    /// Zero or more values per record, same key.
    pub fn flat_map_values<V2: Datum, I>(
        &self,
        f: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2>,
    {
        let f: Arc<dyn Fn(&K, V) -> Vec<V2> + Send + Sync> =
            Arc::new(move |_, v| f(v).into_iter().collect());
        let node = self.add("KSTREAM-FLATMAPVALUES", vec![], move || FlatMapValues {
            f: f.clone(),
        });
        self.child(
            node,
            self.key_serde.clone(),
            same_type(&self.value_serde),
            self.key_changed,
        )
    }

    /// Calls `f` on each record and passes it on.
    pub fn peek(&self, f: impl Fn(&K, &V) + Send + Sync + 'static) -> KStream<K, V> {
        let f: Arc<dyn Fn(&K, &V) + Send + Sync> = Arc::new(f);
        let node = self.add("KSTREAM-PEEK", vec![], move || Peek { f: f.clone() });
        self.child(
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.key_changed,
        )
    }

    /// Calls `f` on each record (terminal).
    pub fn foreach(&self, f: impl Fn(&K, &V) + Send + Sync + 'static) {
        let f: Arc<dyn Fn(&K, &V) + Send + Sync> = Arc::new(f);
        self.add("KSTREAM-FOREACH", vec![], move || Peek { f: f.clone() });
    }

    /// Splits the stream into named branches: each record goes to the first branch whose
    /// predicate holds.
    pub fn split(&self, name: impl Into<String>) -> BranchedKStream<K, V> {
        BranchedKStream::new(self.clone(), name.into())
    }

    /// Records of both streams, interleaved as they arrive.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        let mut g = self.b.borrow_mut();
        let name = g.name(None, "KSTREAM-MERGE");
        let node = g.processor(name, vec![self.node, other.node], vec![], || PassThrough);
        drop(g);
        let key_serde = self.key_serde.clone().or_else(|| other.key_serde.clone());
        let value_serde = self
            .value_serde
            .clone()
            .or_else(|| other.value_serde.clone());
        self.child(
            node,
            key_serde,
            value_serde,
            self.key_changed || other.key_changed,
        )
    }

    /// Writes every record to `topic`.
    pub fn to(&self, topic: &str, produced: Produced<K, V>) {
        self.sink(
            Target::Fixed(topic.to_owned()),
            SinkTopic::Fixed(topic.to_owned()),
            produced,
        );
    }

    /// Writes each record to the topic `extractor` picks for it (`None`: a tombstone).
    pub fn to_dynamic(
        &self,
        extractor: impl Fn(&K, Option<&V>) -> String + Send + Sync + 'static,
        produced: Produced<K, V>,
    ) {
        self.sink(
            Target::Dynamic(Arc::new(extractor)),
            SinkTopic::Dynamic,
            produced,
        );
    }

    fn sink(&self, target: Target<K, V>, topic: SinkTopic, produced: Produced<K, V>) {
        let mut g = self.b.borrow_mut();
        let name = g.name(produced.name, "KSTREAM-SINK");
        let (Some(key), Some(value)) = (
            produced.key.or(self.key_serde.clone()),
            produced.value.or(self.value_serde.clone()),
        ) else {
            g.error(format!(
                "sink `{name}`: key or value serde unknown after a map; give them with Produced::with"
            ));
            return;
        };
        if let Target::Fixed(t) = &target {
            let p = weir_graph::prepare::SinkPrepare::of(&name, t, &key, &value);
            g.sink_prepares.push(p);
        }
        let factory: crate::node::NodeFactory = Arc::new(move || {
            Box::new(Sink {
                target: target.clone(),
                key: key.clone(),
                value: value.clone(),
                _t: PhantomData,
            })
        });
        g.add(
            name,
            NodeKind::Sink { topic },
            vec![self.node],
            vec![],
            factory,
        );
    }

    /// Sends the stream through the repartition topic `{application}-{name}-repartition`, so that
    /// records are partitioned by their current key.
    pub fn repartition(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let key = repartitioned.key.or(self.key_serde.clone());
        let value = repartitioned.value.or(self.value_serde.clone());
        self.through_repartition(&repartitioned.name, key, value)
    }

    pub fn through_repartition(
        &self,
        name: &str,
        key: Option<SerdeRef<K>>,
        value: Option<SerdeRef<V>>,
    ) -> KStream<K, V> {
        let mut g = self.b.borrow_mut();
        let topic = format!("{}-{name}-repartition", g.application_id);
        let (Some(key), Some(value)) = (key, value) else {
            g.error(format!(
                "repartition `{name}`: key or value serde unknown; give them explicitly"
            ));
            drop(g);
            return self.clone();
        };
        if !g.repartitions.insert(topic.clone()) {
            g.error(format!("two repartition steps are named `{name}`"));
        }
        let sink_name = g.name(Some(format!("{name}-repartition-sink")), "KSTREAM-SINK");
        let p = weir_graph::prepare::SinkPrepare::of(&sink_name, &topic, &key, &value);
        g.sink_prepares.push(p);
        let (k2, v2, t2) = (key.clone(), value.clone(), topic.clone());
        let factory: crate::node::NodeFactory = Arc::new(move || {
            Box::new(Sink {
                target: Target::<K, V>::Fixed(t2.clone()),
                key: k2.clone(),
                value: v2.clone(),
                _t: PhantomData,
            })
        });
        g.add(
            sink_name,
            NodeKind::Sink {
                topic: SinkTopic::Fixed(topic.clone()),
            },
            vec![self.node],
            vec![],
            factory,
        );
        let src_name = g.name(Some(format!("{name}-repartition-source")), "KSTREAM-SOURCE");
        let node = g.source(src_name, &topic, key.clone(), value.clone());
        drop(g);
        self.child(node, Some(key), Some(value), false)
    }

    /// Runs a user [`Processor`] (connected to the named stores) on every record.
    pub fn process<K2: Datum, V2: Datum, P>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K2, V2>
    where
        P: Processor<K, V, K2, V2>,
    {
        let stores = stores.iter().map(|s| (*s).to_owned()).collect();
        let node = self.add("KSTREAM-PROCESSOR", stores, move || ProcessorNode {
            processor: supplier(),
            _t: PhantomData::<fn(K, V, K2, V2)>,
        });
        self.child(node, None, None, true)
    }

    pub(super) fn check_join(&self, what: &str) -> bool {
        if self.key_changed {
            self.b.borrow_mut().error(format!(
                "{what}: the stream's key was changed (map/select_key/flat_map) and is not partitioned by it; call .repartition(Repartitioned::as_(\"name\")) before joining"
            ));
            return false;
        }
        true
    }

    fn table_join<VT: Datum, VR: Datum>(
        &self,
        table: &KTable<K, VT>,
        joiner: StreamJoiner<V, VT, VR>,
        kind: &str,
    ) -> KStream<K, VR> {
        let (Some(store), Some(key), Some(value)) = (
            table.store.clone(),
            table.key_serde.clone(),
            table.value_serde.clone(),
        ) else {
            self.b.borrow_mut().error(format!(
                "{kind}: the table is not materialized; call .materialize(Materialized::as_(\"name\")) on it first"
            ));
            return self.child(self.node, self.key_serde.clone(), None, self.key_changed);
        };
        self.check_join(kind);
        let s2 = store.clone();
        let node = self.add(kind, vec![store], move || StreamTableJoin {
            store: s2.clone(),
            index: 0,
            key: key.clone(),
            value: value.clone(),
            joiner: joiner.clone(),
        });
        self.child(node, self.key_serde.clone(), None, self.key_changed)
    }

    /// Inner join with a co-partitioned table on the record key.
    pub fn join<VT: Datum, VR: Datum>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(V, VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let j: StreamJoiner<V, VT, VR> = Arc::new(move |v, t| t.map(|t| joiner(v, t)));
        self.table_join(table, j, "KSTREAM-JOIN")
    }

    /// Left join with a co-partitioned table on the record key (`None` when no row).
    pub fn left_join<VT: Datum, VR: Datum>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(V, Option<VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let j: StreamJoiner<V, VT, VR> = Arc::new(move |v, t| Some(joiner(v, t)));
        self.table_join(table, j, "KSTREAM-LEFTJOIN")
    }

    fn global_join<KT: Datum, VT: Datum, VR: Datum>(
        &self,
        table: &GlobalKTable<KT, VT>,
        selector: impl Fn(&K, &V) -> KT + Send + Sync + 'static,
        joiner: StreamJoiner<V, VT, VR>,
        kind: &str,
    ) -> KStream<K, VR> {
        let selector: Arc<dyn Fn(&K, &V) -> KT + Send + Sync> = Arc::new(selector);
        let (store, key, value) = (table.store.clone(), table.key.clone(), table.value.clone());
        let node = self.add(kind, vec![table.store.clone()], move || StreamGlobalJoin {
            store: store.clone(),
            index: 0,
            selector: selector.clone(),
            key: key.clone(),
            value: value.clone(),
            joiner: joiner.clone(),
        });
        self.child(node, self.key_serde.clone(), None, self.key_changed)
    }

    /// Inner join with a global table on a key selected from each record.
    pub fn join_global<KT: Datum, VT: Datum, VR: Datum>(
        &self,
        table: &GlobalKTable<KT, VT>,
        key_selector: impl Fn(&K, &V) -> KT + Send + Sync + 'static,
        joiner: impl Fn(V, VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let j: StreamJoiner<V, VT, VR> = Arc::new(move |v, t| t.map(|t| joiner(v, t)));
        self.global_join(table, key_selector, j, "KSTREAM-JOIN")
    }

    /// Left join with a global table on a key selected from each record.
    pub fn left_join_global<KT: Datum, VT: Datum, VR: Datum>(
        &self,
        table: &GlobalKTable<KT, VT>,
        key_selector: impl Fn(&K, &V) -> KT + Send + Sync + 'static,
        joiner: impl Fn(V, Option<VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let j: StreamJoiner<V, VT, VR> = Arc::new(move |v, t| Some(joiner(v, t)));
        self.global_join(table, key_selector, j, "KSTREAM-LEFTJOIN")
    }

    /// Groups by the current key (repartitioning first, through the named topic, if the key
    /// was changed).
    pub fn group_by_key(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream::new(self.clone(), grouped)
    }

    /// Groups by a new key: always repartitions, through `{application}-{name}-repartition`.
    pub fn group_by<K2: Datum>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
        grouped: Grouped<K2, V>,
    ) -> KGroupedStream<K2, V> {
        KGroupedStream::new(self.select_key(selector), grouped)
    }
}

/// `serde` as a serde of `T2` when `T2` is `T` (a map that keeps the type keeps the serde).
pub fn same_type<T: 'static, T2: 'static>(serde: &Option<SerdeRef<T>>) -> Option<SerdeRef<T2>> {
    let any: Box<dyn std::any::Any> = Box::new(serde.clone()?);
    any.downcast::<SerdeRef<T2>>().ok().map(|s| *s)
}
