//! [`KGroupedStream`]: a stream grouped by key, aggregated into a materialized [`KTable`].

use std::sync::Arc;

use super::windowed::{SessionWindowedKStream, TimeWindowedKStream};
use super::windows::{SessionWindows, SlidingWindows, TimeWindows};
use super::{Datum, Grouped, KStream, KTable, Materialized};
use crate::ops::aggregate::{Aggregate, Update};
use crate::ops::ttl::Ttl;
use weir_core::serde::{SerdeRef, Serdes};

/// A grouped stream, ready to count, reduce or aggregate (several aggregations of one grouped
/// stream share its repartition topic).
pub struct KGroupedStream<K, V> {
    /// The stream to aggregate, already partitioned by its key.
    input: KStream<K, V>,
}

impl<K: Datum, V: Datum> KGroupedStream<K, V> {
    pub fn new(stream: KStream<K, V>, grouped: Grouped<K, V>) -> Self {
        KGroupedStream {
            input: Self::partitioned(&stream, &grouped),
        }
    }

    /// The stream repartitioned by key first when the key was changed.
    fn partitioned(s: &KStream<K, V>, grouped: &Grouped<K, V>) -> KStream<K, V> {
        let key = grouped.key.clone().or(s.key_serde.clone());
        let value = grouped.value.clone().or(s.value_serde.clone());
        if !s.key_changed {
            return KStream::new(s.b.clone(), s.node, key, value, false);
        }
        match &grouped.name {
            Some(name) => s.through_repartition(name, key, value),
            None => {
                s.b.borrow_mut().error(
                    "group_by (or group_by_key after a key change) needs Grouped::as_(\"name\") to name its repartition topic"
                        .into(),
                );
                s.clone()
            }
        }
    }

    fn aggregate_impl<VA: Datum>(
        &self,
        update: Update<K, V, VA>,
        materialized: Materialized<K, VA>,
        default_value: Option<SerdeRef<VA>>,
        kind: &str,
    ) -> KTable<K, VA> {
        let input = &self.input;
        let mut g = input.b.borrow_mut();
        let name = g.name(None, kind);
        let (Some(key), Some(value)) = (
            materialized.key.or(input.key_serde.clone()),
            materialized.value.or(default_value),
        ) else {
            g.error(format!(
                "{kind} into store `{}`: key or value serde unknown; give them with Materialized::with",
                materialized.name
            ));
            drop(g);
            return KTable::new(input.b.clone(), input.node, None, None, None);
        };
        let store = materialized.name;
        g.add_store(&store, &key, &value, materialized.logging, None);
        let mut stores = vec![store.clone()];
        let ttl = materialized.ttl.map(|ttl| {
            let index_store = format!("{store}-ttl");
            g.add_store(
                &index_store,
                &weir_core::serde::Serdes::bytes(),
                &weir_core::serde::Serdes::bytes(),
                materialized.logging,
                None,
            );
            stores.push(index_store.clone());
            Ttl {
                index_store,
                ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1),
                index: 0,
            }
        });
        let (s2, k2, v2) = (store.clone(), key.clone(), value.clone());
        let node = g.processor(name, vec![input.node], stores, move || Aggregate {
            store: s2.clone(),
            index: 0,
            key: k2.clone(),
            value: v2.clone(),
            update: update.clone(),
            ttl: ttl.clone(),
        });
        drop(g);
        KTable::new(input.b.clone(), node, Some(store), Some(key), Some(value))
    }

    /// Counts records per key.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        let update: Update<K, V, i64> = Arc::new(|_, _, n| n.unwrap_or(0) + 1);
        self.aggregate_impl(
            update,
            materialized,
            Some(Serdes::i64()),
            "KSTREAM-AGGREGATE",
        )
    }

    /// Combines the values of a key with `reducer(aggregate, value)`.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let update: Update<K, V, V> = Arc::new(move |_, v, agg| match agg {
            Some(agg) => reducer(agg, v),
            None => v,
        });
        let default_value = self.input.value_serde.clone();
        self.aggregate_impl(update, materialized, default_value, "KSTREAM-REDUCE")
    }

    /// Folds the values of a key into an aggregate starting from `initializer()`.
    pub fn aggregate<VA: Datum>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        let update: Update<K, V, VA> =
            Arc::new(move |k, v, agg| aggregator(k, v, agg.unwrap_or_else(&initializer)));
        self.aggregate_impl(update, materialized, None, "KSTREAM-AGGREGATE")
    }

    /// Cuts the grouped stream into time windows (tumbling, or hopping with `advance_by`).
    pub fn windowed_by(&self, windows: TimeWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream::time(self.input.clone(), windows)
    }

    /// Cuts the grouped stream into sliding windows around each record.
    pub fn windowed_by_sliding(&self, windows: SlidingWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream::sliding(self.input.clone(), windows)
    }

    /// Cuts the grouped stream into sessions of activity.
    pub fn windowed_by_session(&self, windows: SessionWindows) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream::new(self.input.clone(), windows)
    }
}
