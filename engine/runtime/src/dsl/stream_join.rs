//! Windowed stream–stream joins in the DSL: `KStream::join_stream`, `left_join_stream`,
//! `outer_join_stream` with [`JoinWindows`] and [`StreamJoined`] (store names and serdes).
//! Both streams must be partitioned by the join key (co-partitioned topics): the two sides
//! and their stores form one task.

use std::sync::Arc;

use super::windows::JoinWindows;
use super::{Datum, KStream};
use crate::ops::late::LateRecords;
use crate::ops::source_sink::PassThrough;
use crate::ops::stream_join::{JoinKind, SideJoiner, StreamJoinSide};
use weir_core::serde::{SerdeRef, Serdes};
use weir_graph::StoreKind;

/// Names and serdes of a stream–stream join's stores (Kafka Streams' `StreamJoined`).
pub struct StreamJoined<K, V, VO> {
    /// Prefix of the store names (`{name}-this-join-store`, `{name}-other-join-store`,
    /// `{name}-unmatched-join-store`); default: the join's node names.
    pub name: Option<String>,
    pub key: Option<SerdeRef<K>>,
    pub value: Option<SerdeRef<V>>,
    pub other_value: Option<SerdeRef<VO>>,
}

impl<K, V, VO> Default for StreamJoined<K, V, VO> {
    fn default() -> Self {
        StreamJoined {
            name: None,
            key: None,
            value: None,
            other_value: None,
        }
    }
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    pub fn with(key: SerdeRef<K>, value: SerdeRef<V>, other_value: SerdeRef<VO>) -> Self {
        StreamJoined {
            name: None,
            key: Some(key),
            value: Some(value),
            other_value: Some(other_value),
        }
    }
    /// Names the join's stores (and so their changelog topics).
    pub fn with_store_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

type Joiner<K, V, VO, VR> = Arc<dyn Fn(&K, Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync>;

impl<K: Datum, V: Datum> KStream<K, V> {
    /// Inner join with `other`: each pair of records with the same key within `windows`.
    pub fn join_stream<VO: Datum, VR: Datum>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        // Inner joins call the joiner with both sides only.
        let j: Joiner<K, V, VO, VR> = Arc::new(move |_, a, b| match (a, b) {
            (Some(a), Some(b)) => Some(joiner(a, b)),
            _ => None,
        });
        self.stream_join(other, j, windows, joined, JoinKind::Inner)
    }

    /// Left join with `other`: every record of this stream, with each partner within
    /// `windows` or, once its window closed without one, with `None`.
    pub fn left_join_stream<VO: Datum, VR: Datum>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        let j: Joiner<K, V, VO, VR> = Arc::new(move |_, a, b| a.map(|a| joiner(a, b)));
        self.stream_join(other, j, windows, joined, JoinKind::Left)
    }

    /// Outer join with `other`: every record of both streams, with each partner within
    /// `windows` or, once its window closed without one, with `None` on the other side.
    pub fn outer_join_stream<VO: Datum, VR: Datum>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        let j: Joiner<K, V, VO, VR> = Arc::new(move |_, a, b| Some(joiner(a, b)));
        self.stream_join(other, j, windows, joined, JoinKind::Outer)
    }

    fn stream_join<VO: Datum, VR: Datum>(
        &self,
        other: &KStream<K, VO>,
        joiner: Joiner<K, V, VO, VR>,
        w: JoinWindows,
        joined: StreamJoined<K, V, VO>,
        kind: JoinKind,
    ) -> KStream<K, VR> {
        let what = match kind {
            JoinKind::Inner => "KSTREAM-JOIN",
            JoinKind::Left => "KSTREAM-LEFTJOIN",
            JoinKind::Outer => "KSTREAM-OUTERJOIN",
        };
        if !self.check_join(what) || !other.check_join(what) {
            return self.child(self.node, self.key_serde.clone(), None, false);
        }
        let mut g = self.b.borrow_mut();
        let (Some(key), Some(value), Some(other_value)) = (
            joined.key.or(self.key_serde.clone()),
            joined.value.or(self.value_serde.clone()),
            joined.other_value.or(other.value_serde.clone()),
        ) else {
            g.error(format!(
                "{what}: the key or a value serde of the joined streams is unknown (the join stores keep both sides); give them with StreamJoined::with"
            ));
            drop(g);
            return self.child(self.node, self.key_serde.clone(), None, false);
        };
        let this_name = g.name(None, &format!("{what}-THIS"));
        let other_name = g.name(None, &format!("{what}-OTHER"));
        let prefix = joined.name.unwrap_or_else(|| this_name.clone());
        let this_store = format!("{prefix}-this-join-store");
        let other_store = format!("{prefix}-other-join-store");
        let unmatched = (kind != JoinKind::Inner).then(|| format!("{prefix}-unmatched-join-store"));
        let retention_ms =
            StreamJoinSide::<K, V, VO, VR>::retention_ms(w.before_ms, w.after_ms, w.grace_ms);
        let window = StoreKind::Window {
            retention_ms,
            retain_duplicates: true,
            size_ms: 0,
        };
        g.add_store_of(&this_store, &key, &value, true, None, window);
        g.add_store_of(&other_store, &key, &other_value, true, None, window);
        let mut stores = vec![this_store.clone(), other_store.clone()];
        if let Some(u) = &unmatched {
            g.add_store_of(
                u,
                &Serdes::bytes(),
                &Serdes::bytes(),
                true,
                None,
                StoreKind::KeyValue,
            );
            stores.push(u.clone());
        }
        let this_node = {
            let (ts, os, un) = (this_store.clone(), other_store.clone(), unmatched.clone());
            let (k, v, vo, j) = (
                key.clone(),
                value.clone(),
                other_value.clone(),
                joiner.clone(),
            );
            let late_value = self.value_serde.clone();
            g.processor(this_name, vec![self.node], stores.clone(), move || {
                StreamJoinSide {
                    left: true,
                    kind,
                    this_store: ts.clone(),
                    other_store: os.clone(),
                    unmatched_store: un.clone(),
                    indexes: (0, 0, 0),
                    key: k.clone(),
                    this_value: v.clone(),
                    other_value: vo.clone(),
                    joiner: j.clone() as SideJoiner<K, V, VO, VR>,
                    before_ms: w.before_ms,
                    after_ms: w.after_ms,
                    other_after_ms: w.before_ms,
                    grace_ms: w.grace_ms,
                    stores: None,
                    late: LateRecords::new(k.clone(), late_value.clone()),
                }
            })
        };
        let other_node = {
            let (ts, os, un) = (other_store.clone(), this_store.clone(), unmatched.clone());
            let (k, v, vo) = (key.clone(), other_value.clone(), value.clone());
            // The other side calls the joiner with its own value first: swap back.
            let j = joiner.clone();
            let swapped: SideJoiner<K, VO, V, VR> = Arc::new(move |k, o, t| j(k, t, o));
            let late_value = other.value_serde.clone();
            g.processor(other_name, vec![other.node], stores, move || {
                StreamJoinSide {
                    left: false,
                    kind,
                    this_store: ts.clone(),
                    other_store: os.clone(),
                    unmatched_store: un.clone(),
                    indexes: (0, 0, 0),
                    key: k.clone(),
                    this_value: v.clone(),
                    other_value: vo.clone(),
                    joiner: swapped.clone(),
                    before_ms: w.after_ms,
                    after_ms: w.before_ms,
                    other_after_ms: w.after_ms,
                    grace_ms: w.grace_ms,
                    stores: None,
                    late: LateRecords::new(k.clone(), late_value.clone()),
                }
            })
        };
        let merge_name = g.name(None, "KSTREAM-MERGE");
        let node = g.processor(merge_name, vec![this_node, other_node], vec![], || {
            PassThrough
        });
        drop(g);
        self.child(node, Some(key), None, false)
    }
}
