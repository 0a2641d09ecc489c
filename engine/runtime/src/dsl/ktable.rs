//! [`KTable`] (a changelog stream: the latest value per key) and [`GlobalKTable`].

use std::marker::PhantomData;
use std::sync::Arc;

use super::builder::Shared;
use super::{Datum, KStream, Materialized};
use crate::ops::join::{TableJoiner, TableTableJoin};
use crate::ops::table::{Materialize, TableFilter, TableMapValues, TableMaterialize, ToStream};
use weir_core::serde::SerdeRef;

/// A table partitioned like its source topic. Materialized tables (`store` set) can be joined.
pub struct KTable<K, V> {
    pub b: Shared,
    pub node: usize,
    pub store: Option<String>,
    pub key_serde: Option<SerdeRef<K>>,
    pub value_serde: Option<SerdeRef<V>>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            b: self.b.clone(),
            node: self.node,
            store: self.store.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
        }
    }
}

impl<K: Datum, V: Datum> KTable<K, V> {
    pub fn new(
        b: Shared,
        node: usize,
        store: Option<String>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
    ) -> Self {
        KTable {
            b,
            node,
            store,
            key_serde,
            value_serde,
        }
    }

    /// The store the table is materialized in, if any.
    pub fn store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// Renames the node that produces this table.
    pub fn named(self, name: impl Into<String>) -> Self {
        self.b.borrow_mut().nodes[self.node].name = name.into();
        self
    }

    /// Keeps rows for which `pred` holds (a row that stops matching is deleted downstream).
    pub fn filter(&self, pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KTable<K, V> {
        self.filter_impl(Arc::new(pred), true)
    }

    /// Drops rows for which `pred` holds.
    pub fn filter_not(
        &self,
        pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KTable<K, V> {
        self.filter_impl(Arc::new(pred), false)
    }

    fn filter_impl(
        &self,
        pred: Arc<dyn Fn(&K, &V) -> bool + Send + Sync>,
        keep: bool,
    ) -> KTable<K, V> {
        let mut g = self.b.borrow_mut();
        let name = g.name(None, "KTABLE-FILTER");
        let node = g.processor(name, vec![self.node], vec![], move || TableFilter {
            pred: pred.clone(),
            keep,
            store: None,
        });
        drop(g);
        KTable::new(
            self.b.clone(),
            node,
            None,
            self.key_serde.clone(),
            self.value_serde.clone(),
        )
    }

    /// Maps every row's value.
    pub fn map_values<V2: Datum>(
        &self,
        f: impl Fn(V) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2> {
        let f: Arc<dyn Fn(&K, V) -> V2 + Send + Sync> = Arc::new(move |_, v| f(v));
        let mut g = self.b.borrow_mut();
        let name = g.name(None, "KTABLE-MAPVALUES");
        let node = g.processor(name, vec![self.node], vec![], move || TableMapValues {
            f: f.clone(),
            store: None,
        });
        drop(g);
        KTable::new(
            self.b.clone(),
            node,
            None,
            self.key_serde.clone(),
            super::kstream::same_type(&self.value_serde),
        )
    }

    /// Materializes the table in a named store (so it can be joined and inspected).
    pub fn materialize(&self, materialized: Materialized<K, V>) -> KTable<K, V> {
        let mut g = self.b.borrow_mut();
        let name = g.name(None, "KTABLE-MATERIALIZE");
        let (Some(key), Some(value)) = (
            materialized.key.or(self.key_serde.clone()),
            materialized.value.or(self.value_serde.clone()),
        ) else {
            g.error(format!(
                "materialize `{}`: key or value serde unknown; give them with Materialized::with",
                materialized.name
            ));
            drop(g);
            return self.clone();
        };
        let store = materialized.name;
        g.add_store(&store, &key, &value, materialized.logging, None);
        let m = Materialize {
            store: store.clone(),
            key: key.clone(),
            value: value.clone(),
            index: 0,
        };
        let node = g.processor(name, vec![self.node], vec![store.clone()], move || {
            TableMaterialize {
                store: Some(m.clone()),
            }
        });
        drop(g);
        KTable::new(self.b.clone(), node, Some(store), Some(key), Some(value))
    }

    /// The table's updates as a stream (a deleted row becomes a record with a null value).
    pub fn to_stream(&self) -> KStream<K, V> {
        let mut g = self.b.borrow_mut();
        let name = g.name(None, "KTABLE-TOSTREAM");
        let node = g.processor(name, vec![self.node], vec![], || ToStream::<V> {
            _v: PhantomData,
        });
        drop(g);
        KStream::new(
            self.b.clone(),
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            false,
        )
    }

    fn table_join<VR: Datum, VO: Datum>(
        &self,
        other: &KTable<K, VR>,
        joiner: TableJoiner<V, VR, VO>,
        kind: &str,
    ) -> KTable<K, VO> {
        let (Some(ls), Some(rs), Some(key), Some(lv), Some(rv)) = (
            self.store.clone(),
            other.store.clone(),
            self.key_serde.clone().or(other.key_serde.clone()),
            self.value_serde.clone(),
            other.value_serde.clone(),
        ) else {
            self.b.borrow_mut().error(format!(
                "{kind}: both tables must be materialized (call .materialize(Materialized::as_(\"name\")))"
            ));
            return KTable::new(
                self.b.clone(),
                self.node,
                None,
                self.key_serde.clone(),
                None,
            );
        };
        let mut g = self.b.borrow_mut();
        let side = |g: &mut super::builder::Inner, parent, other_store: String, left: bool| {
            let name = g.name(
                None,
                if left {
                    "KTABLE-JOINTHIS"
                } else {
                    "KTABLE-JOINOTHER"
                },
            );
            let (key, lv, rv, j, os) = (
                key.clone(),
                lv.clone(),
                rv.clone(),
                joiner.clone(),
                other_store.clone(),
            );
            g.processor(name, vec![parent], vec![other_store], move || {
                TableTableJoin {
                    other_store: os.clone(),
                    index: 0,
                    key: key.clone(),
                    left_value: lv.clone(),
                    right_value: rv.clone(),
                    this_is_left: left,
                    joiner: j.clone(),
                }
            })
        };
        let l = side(&mut g, self.node, rs, true);
        let r = side(&mut g, other.node, ls, false);
        let name = g.name(None, kind);
        let node = g.processor(name, vec![l, r], vec![], || TableMaterialize::<K, VO> {
            store: None,
        });
        drop(g);
        KTable::new(self.b.clone(), node, None, Some(key), None)
    }

    /// Inner join with another co-partitioned, materialized table.
    pub fn join<VR: Datum, VO: Datum>(
        &self,
        other: &KTable<K, VR>,
        joiner: impl Fn(&V, &VR) -> VO + Send + Sync + 'static,
    ) -> KTable<K, VO> {
        let j: TableJoiner<V, VR, VO> = Arc::new(move |l, r| match (l, r) {
            (Some(l), Some(r)) => Some(joiner(l, r)),
            _ => None,
        });
        self.table_join(other, j, "KTABLE-MERGE")
    }

    /// Left join with another co-partitioned, materialized table.
    pub fn left_join<VR: Datum, VO: Datum>(
        &self,
        other: &KTable<K, VR>,
        joiner: impl Fn(&V, Option<&VR>) -> VO + Send + Sync + 'static,
    ) -> KTable<K, VO> {
        let j: TableJoiner<V, VR, VO> = Arc::new(move |l, r| l.map(|l| joiner(l, r)));
        self.table_join(other, j, "KTABLE-MERGE")
    }
}

/// A table replicated on every worker; joined from streams through a key selector.
pub struct GlobalKTable<K, V> {
    pub store: String,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<V>,
    pub _t: PhantomData<fn(K, V)>,
}

impl<K, V> GlobalKTable<K, V> {
    /// The store holding the table.
    pub fn store_name(&self) -> &str {
        &self.store
    }
}
