//! Windowed aggregations in the DSL: [`TimeWindowedKStream`] (time and sliding windows) and
//! [`SessionWindowedKStream`], from `KGroupedStream::windowed_by*`, aggregate into a
//! `KTable<Windowed<K>, VA>` kept in a window (or session) store; `KTable::suppress` and
//! [`EmitStrategy::OnWindowClose`] forward each window's final result only.

use std::sync::Arc;

use super::windows::{EmitStrategy, SessionWindows, SlidingWindows, Suppressed, TimeWindows};
use super::{Datum, KStream, KTable, Materialized};
use crate::ops::late::LateRecords;
use crate::ops::session_aggregate::SessionAggregate;
use crate::ops::sliding_aggregate::SlidingAggregate;
use crate::ops::suppress::Suppress;
use crate::ops::window_aggregate::{TimeWindowSpec, Update, WindowAggregate};
use weir_core::serde::{SerdeRef, Serdes};
use weir_core::window::{Windowed, WindowedFormat, WindowedSerde};
use weir_graph::{JsonView, StoreKind, StoreView};

/// What `suppress` needs to know about a windowed table.
#[derive(Debug, Clone, Copy)]
pub struct WindowedTable {
    pub grace_ms: i64,
    /// Added to a window's end to get the time it closes (sessions: the gap + 1).
    pub extra_ms: i64,
}

/// A stored window result's JSON: the value after its 8-byte timestamp.
struct TimestampedView<V>(SerdeRef<V>);

impl<V: 'static> JsonView for TimestampedView<V> {
    fn to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        match bytes.get(8..) {
            Some(value) => self.0.bytes_to_json(value),
            None => Some(Err("a window result shorter than its timestamp".into())),
        }
    }
    fn parse_text(&self, _text: &str) -> Option<Result<Vec<u8>, String>> {
        None
    }
    fn format(&self) -> &'static str {
        self.0.name()
    }
}

/// Which windows a [`TimeWindowedKStream`] aggregates over.
#[derive(Debug, Clone, Copy)]
enum Spec {
    Time(TimeWindows),
    Sliding(SlidingWindows),
}

/// A grouped stream cut into time or sliding windows (`KGroupedStream::windowed_by`).
pub struct TimeWindowedKStream<K, V> {
    input: KStream<K, V>,
    spec: Spec,
    emit: EmitStrategy,
}

impl<K: Datum, V: Datum> TimeWindowedKStream<K, V> {
    pub(super) fn time(input: KStream<K, V>, windows: TimeWindows) -> Self {
        TimeWindowedKStream {
            input,
            spec: Spec::Time(windows),
            emit: EmitStrategy::OnWindowUpdate,
        }
    }

    pub(super) fn sliding(input: KStream<K, V>, windows: SlidingWindows) -> Self {
        TimeWindowedKStream {
            input,
            spec: Spec::Sliding(windows),
            emit: EmitStrategy::OnWindowUpdate,
        }
    }

    /// Forward every update (default) or each window's final result when it closes.
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    /// Counts records per key and window.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let update: Update<K, V, i64> = Arc::new(|_, _, n| n.unwrap_or(0) + 1);
        self.aggregate_impl(
            update,
            materialized,
            Some(Serdes::i64()),
            "KSTREAM-WINDOWED-COUNT",
        )
    }

    /// Combines the values of a key and window with `reducer(aggregate, value)`.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let update: Update<K, V, V> = Arc::new(move |_, v, agg| match agg {
            Some(agg) => reducer(agg, v),
            None => v,
        });
        let value = self.input.value_serde.clone();
        self.aggregate_impl(update, materialized, value, "KSTREAM-WINDOWED-REDUCE")
    }

    /// Folds the values of a key and window into an aggregate starting from `initializer()`.
    pub fn aggregate<VA: Datum>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let update: Update<K, V, VA> =
            Arc::new(move |k, v, agg| aggregator(k, v, agg.unwrap_or_else(&initializer)));
        self.aggregate_impl(update, materialized, None, "KSTREAM-WINDOWED-AGGREGATE")
    }

    fn aggregate_impl<VA: Datum>(
        &self,
        update: Update<K, V, VA>,
        materialized: Materialized<K, VA>,
        default_value: Option<SerdeRef<VA>>,
        kind: &str,
    ) -> KTable<Windowed<K>, VA> {
        let input = &self.input;
        let mut g = input.b.borrow_mut();
        let name = g.name(None, kind);
        let (Some(key), Some(value)) = (
            materialized.key.or(input.key_serde.clone()),
            materialized.value.or(default_value),
        ) else {
            g.error(format!(
                "windowed {kind} into store `{}`: key or value serde unknown; give them with Materialized::with",
                materialized.name
            ));
            drop(g);
            return KTable::new(input.b.clone(), input.node, None, None, None);
        };
        let store = materialized.name;
        let view = StoreView {
            key: Arc::new(key.clone()),
            value: Arc::new(TimestampedView(value.clone())),
        };
        let late = {
            let (k, v) = (key.clone(), input.value_serde.clone());
            move || LateRecords::new(k.clone(), v.clone())
        };
        let (node, grace_ms, format) = match self.spec {
            Spec::Time(w) => {
                let retention_ms = w.size_ms.saturating_add(w.grace_ms);
                let kind = StoreKind::Window {
                    retention_ms,
                    retain_duplicates: false,
                    size_ms: w.size_ms,
                };
                g.add_store_viewed(&store, &key, &value, materialized.logging, None, kind, view);
                let (s2, k2, v2) = (store.clone(), key.clone(), value.clone());
                let spec = TimeWindowSpec {
                    size_ms: w.size_ms,
                    advance_ms: w.advance_ms,
                };
                let node = g.processor(name, vec![input.node], vec![store.clone()], move || {
                    WindowAggregate {
                        store: s2.clone(),
                        index: 0,
                        key: k2.clone(),
                        value: v2.clone(),
                        update: update.clone(),
                        windows_spec: spec,
                        grace_ms: w.grace_ms,
                        windows: None,
                        late: late(),
                    }
                });
                (
                    node,
                    w.grace_ms,
                    WindowedFormat::Time { size_ms: w.size_ms },
                )
            }
            Spec::Sliding(w) => {
                let Some(input_serde) = input.value_serde.clone() else {
                    g.error(format!(
                        "sliding-window {kind} into store `{store}`: the stream's value serde is unknown (the records store keeps the values); give it with Grouped::with"
                    ));
                    drop(g);
                    return KTable::new(input.b.clone(), input.node, None, None, None);
                };
                let (retention_ms, records_retention_ms) =
                    SlidingAggregate::<K, V, VA>::retentions(w.difference_ms, w.grace_ms);
                let records = format!("{store}-records");
                g.add_store_viewed(
                    &store,
                    &key,
                    &value,
                    materialized.logging,
                    None,
                    StoreKind::Window {
                        retention_ms,
                        retain_duplicates: false,
                        size_ms: w.difference_ms,
                    },
                    view,
                );
                g.add_store_of(
                    &records,
                    &key,
                    &input_serde,
                    materialized.logging,
                    None,
                    StoreKind::Window {
                        retention_ms: records_retention_ms,
                        retain_duplicates: true,
                        size_ms: 0,
                    },
                );
                let (s2, r2, k2, i2, v2) = (
                    store.clone(),
                    records.clone(),
                    key.clone(),
                    input_serde,
                    value.clone(),
                );
                let node = g.processor(
                    name,
                    vec![input.node],
                    vec![store.clone(), records],
                    move || SlidingAggregate {
                        store: s2.clone(),
                        records_store: r2.clone(),
                        index: 0,
                        records_index: 0,
                        key: k2.clone(),
                        input: i2.clone(),
                        value: v2.clone(),
                        update: update.clone(),
                        difference_ms: w.difference_ms,
                        grace_ms: w.grace_ms,
                        windows: None,
                        late: late(),
                    },
                );
                (
                    node,
                    w.grace_ms,
                    WindowedFormat::Sliding {
                        difference_ms: w.difference_ms,
                    },
                )
            }
        };
        // Time windows end before `end`; sliding windows at it (inclusive): they close 1 ms
        // later.
        let extra_ms = match self.spec {
            Spec::Time(_) => 0,
            Spec::Sliding(_) => 1,
        };
        g.windowed
            .insert(node, WindowedTable { grace_ms, extra_ms });
        drop(g);
        let table = KTable::new(
            input.b.clone(),
            node,
            Some(store),
            Some(WindowedSerde::of(key, format)),
            Some(value),
        );
        match self.emit {
            EmitStrategy::OnWindowUpdate => table,
            EmitStrategy::OnWindowClose => table.suppress(Suppressed::UntilWindowCloses),
        }
    }
}

/// A grouped stream cut into sessions (`KGroupedStream::windowed_by_session`).
pub struct SessionWindowedKStream<K, V> {
    input: KStream<K, V>,
    windows: SessionWindows,
    emit: EmitStrategy,
}

impl<K: Datum, V: Datum> SessionWindowedKStream<K, V> {
    pub(super) fn new(input: KStream<K, V>, windows: SessionWindows) -> Self {
        SessionWindowedKStream {
            input,
            windows,
            emit: EmitStrategy::OnWindowUpdate,
        }
    }

    /// Forward every update (default) or each session's final result when it closes.
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    /// Counts records per key and session.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.aggregate_impl(
            None,
            Arc::new(|_, _, n: Option<i64>| n.unwrap_or(0) + 1),
            Arc::new(|_, a, b| a + b),
            materialized,
            Some(Serdes::i64()),
            "KSTREAM-SESSION-COUNT",
        )
    }

    /// Combines the values of a session with `reducer`, which also merges two sessions.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let reducer = Arc::new(reducer);
        let r2 = reducer.clone();
        let value = self.input.value_serde.clone();
        self.aggregate_impl(
            None,
            Arc::new(move |_, v, agg: Option<V>| match agg {
                Some(a) => reducer(a, v),
                None => v,
            }),
            Arc::new(move |_, a, b| r2(a, b)),
            materialized,
            value,
            "KSTREAM-SESSION-REDUCE",
        )
    }

    /// Folds a session's values into an aggregate from `initializer()`; `merger` combines the
    /// aggregates of two sessions a record joins.
    pub fn aggregate<VA: Datum>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let initializer: Arc<dyn Fn() -> VA + Send + Sync> = Arc::new(initializer);
        let init = initializer.clone();
        self.aggregate_impl(
            Some(initializer),
            Arc::new(move |k, v, agg: Option<VA>| aggregator(k, v, agg.unwrap_or_else(|| init()))),
            Arc::new(merger),
            materialized,
            None,
            "KSTREAM-SESSION-AGGREGATE",
        )
    }

    #[allow(clippy::type_complexity)]
    fn aggregate_impl<VA: Datum>(
        &self,
        initializer: Option<Arc<dyn Fn() -> VA + Send + Sync>>,
        update: Update<K, V, VA>,
        merger: Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>,
        materialized: Materialized<K, VA>,
        default_value: Option<SerdeRef<VA>>,
        kind: &str,
    ) -> KTable<Windowed<K>, VA> {
        let input = &self.input;
        let w = self.windows;
        let mut g = input.b.borrow_mut();
        let name = g.name(None, kind);
        let (Some(key), Some(value)) = (
            materialized.key.or(input.key_serde.clone()),
            materialized.value.or(default_value),
        ) else {
            g.error(format!(
                "session {kind} into store `{}`: key or value serde unknown; give them with Materialized::with",
                materialized.name
            ));
            drop(g);
            return KTable::new(input.b.clone(), input.node, None, None, None);
        };
        let store = materialized.name;
        let retention_ms = SessionAggregate::<K, V, VA>::retention_ms(w.gap_ms, w.grace_ms);
        g.add_store_of(
            &store,
            &key,
            &value,
            materialized.logging,
            None,
            StoreKind::Session { retention_ms },
        );
        let (s2, k2, v2, input_value) = (
            store.clone(),
            key.clone(),
            value.clone(),
            input.value_serde.clone(),
        );
        let node = g.processor(name, vec![input.node], vec![store.clone()], move || {
            SessionAggregate {
                store: s2.clone(),
                index: 0,
                key: k2.clone(),
                value: v2.clone(),
                initializer: initializer.clone(),
                update: update.clone(),
                merger: merger.clone(),
                gap_ms: w.gap_ms,
                grace_ms: w.grace_ms,
                sessions: None,
                late: LateRecords::new(k2.clone(), input_value.clone()),
            }
        });
        g.windowed.insert(
            node,
            WindowedTable {
                grace_ms: w.grace_ms,
                extra_ms: w.gap_ms.saturating_add(1),
            },
        );
        drop(g);
        let table = KTable::new(
            input.b.clone(),
            node,
            Some(store),
            Some(WindowedSerde::of(key, WindowedFormat::Session)),
            Some(value),
        );
        match self.emit {
            EmitStrategy::OnWindowUpdate => table,
            EmitStrategy::OnWindowClose => table.suppress(Suppressed::UntilWindowCloses),
        }
    }
}

impl<K: Datum, V: Datum> KTable<Windowed<K>, V> {
    /// Holds back a windowed table's updates and forwards each window's final result once,
    /// when the window closes (Kafka Streams' `suppress(untilWindowCloses(unbounded()))`). The
    /// buffer is a changelogged store, so a restart neither loses nor repeats final results.
    pub fn suppress(&self, suppressed: Suppressed) -> KTable<Windowed<K>, V> {
        let Suppressed::UntilWindowCloses = suppressed;
        let mut g = self.b.borrow_mut();
        let Some(info) = g.windowed.get(&self.node).copied() else {
            g.error(
                "suppress(until_window_closes) applies to the table of a windowed aggregation (count, reduce or aggregate after windowed_by)".into(),
            );
            drop(g);
            return self.clone();
        };
        let (Some(key), Some(value)) = (self.key_serde.clone(), self.value_serde.clone()) else {
            g.error("suppress: the windowed table's serdes are unknown".into());
            drop(g);
            return self.clone();
        };
        let name = g.name(None, "KTABLE-SUPPRESS");
        let store = format!(
            "{}-suppress-buffer",
            self.store.clone().unwrap_or_else(|| name.clone())
        );
        g.add_store_of(
            &store,
            &Serdes::bytes(),
            &Serdes::bytes(),
            true,
            None,
            StoreKind::KeyValue,
        );
        let (s2, k2, v2) = (store.clone(), key.clone(), value.clone());
        let node = g.processor(name, vec![self.node], vec![store], move || Suppress {
            store: s2.clone(),
            index: 0,
            key: k2.clone(),
            value: v2.clone(),
            grace_ms: info.grace_ms,
            extra_ms: info.extra_ms,
            observed: i64::MIN,
        });
        drop(g);
        KTable::new(self.b.clone(), node, None, Some(key), Some(value))
    }
}
