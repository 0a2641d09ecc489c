//! `KStream::left_join_global_many`: a stream record looked up in a global table under every
//! key selected from it (the products a user searched, the words of a message).
//!
//! Kafka Streams says this with a value transformer reading the global store; weir has it as an
//! operator so a definition file can say it too, and both describe as one node.

use std::sync::Arc;

use super::Datum;
use super::kstream::KStream;
use super::ktable::GlobalKTable;
use crate::ops::lookup_many::StreamGlobalLookupMany;

impl<K: Datum, V: Datum> KStream<K, V> {
    /// Looks every key `keys` selects from a record up in the global table; `joiner` gets the
    /// record value and the rows found, `(key, value)` in the order of the selected keys (keys
    /// without a row are left out, repeated keys looked up once). Every record is forwarded
    /// (a left join); a record with a null value is skipped (counted).
    pub fn left_join_global_many<KT: Datum + PartialEq, VT: Datum, VR: Datum>(
        &self,
        table: &GlobalKTable<KT, VT>,
        keys: impl Fn(&K, &V) -> Vec<KT> + Send + Sync + 'static,
        joiner: impl Fn(V, Vec<(KT, VT)>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let keys: Arc<dyn Fn(&K, &V) -> Vec<KT> + Send + Sync> = Arc::new(keys);
        let joiner: Arc<dyn Fn(V, Vec<(KT, VT)>) -> VR + Send + Sync> = Arc::new(joiner);
        let (store, key, value) = (table.store.clone(), table.key.clone(), table.value.clone());
        let node = self.add(
            "KSTREAM-LEFTJOIN-MANY",
            vec![table.store.clone()],
            move || StreamGlobalLookupMany {
                store: store.clone(),
                index: 0,
                keys: keys.clone(),
                key: key.clone(),
                value: value.clone(),
                joiner: joiner.clone(),
            },
        );
        self.child(node, self.key_serde.clone(), None, self.key_changed)
    }
}
