//! `KStream::left_join_window`: a stream record joined with the window of a co-partitioned
//! windowed table (time or sliding windows) that ended last, at most one window size before the
//! record (see `ops::window_lookup` for the exact rule and what the store still holds).
//!
//! Kafka Streams says this with a processor reading the aggregation's window store; weir has it
//! as an operator so a definition file's `lookup:` of a windowed table builds the same node.

use super::Datum;
use super::kstream::KStream;
use super::ktable::KTable;
use crate::ops::window_lookup::{StreamWindowLookup, left};
use weir_core::window::Windowed;
use weir_graph::StoreKind;
use weir_state::WindowStoreConfig;

impl<K: Datum, V: Datum> KStream<K, V> {
    /// Left join with a windowed table (from `windowed_by` or `windowed_by_sliding`, not
    /// sessions) on the record key: `joiner` gets the value of the key's window whose end is the
    /// latest at or before the record's time, among those ending at most one window size before
    /// it (`None` when there is none). The result keeps the record's key and timestamp.
    pub fn left_join_window<VT: Datum, VR: Datum>(
        &self,
        table: &KTable<Windowed<K>, VT>,
        joiner: impl Fn(V, Option<VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        const KIND: &str = "KSTREAM-LEFTJOIN-WINDOW";
        let unjoined = || self.child(self.node, self.key_serde.clone(), None, self.key_changed);
        let (Some(store), Some(key), Some(value)) = (
            table.store.clone(),
            table.key_serde.clone(),
            table.value_serde.clone(),
        ) else {
            self.b.borrow_mut().error(format!(
                "{KIND}: the windowed table is not materialized (a suppressed table has no store); join the table of the windowed aggregation itself"
            ));
            return unjoined();
        };
        let kind = {
            let g = self.b.borrow();
            let windowed = g.windowed.contains_key(&table.node);
            let kind = g.stores.iter().find(|s| s.name == store).map(|s| s.kind);
            windowed.then_some(kind).flatten()
        };
        let (retention_ms, size_ms) = match kind {
            Some(StoreKind::Window {
                retention_ms,
                size_ms,
                ..
            }) => (retention_ms, size_ms),
            Some(StoreKind::Session { .. }) => {
                self.b.borrow_mut().error(format!(
                    "{KIND}: table `{store}` holds sessions; left_join_window reads time or sliding windows"
                ));
                return unjoined();
            }
            _ => {
                self.b.borrow_mut().error(format!(
                    "{KIND}: table `{store}` is not the table of a windowed aggregation (count, reduce or aggregate after windowed_by or windowed_by_sliding)"
                ));
                return unjoined();
            }
        };
        self.check_join(KIND);
        let config = WindowStoreConfig::new(retention_ms, false);
        let joiner = left(joiner);
        let (s2, stream_key) = (store.clone(), self.key_serde.clone());
        let node = self.add(KIND, vec![store], move || StreamWindowLookup {
            store: s2.clone(),
            index: 0,
            key: key.clone(),
            stream_key: stream_key.clone(),
            value: value.clone(),
            config,
            size_ms,
            joiner: joiner.clone(),
        });
        self.child(node, self.key_serde.clone(), None, self.key_changed)
    }
}
