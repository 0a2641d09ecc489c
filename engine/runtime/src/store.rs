//! Typed access to a byte-level store: the outermost store layer, where serdes apply.
//!
//! Keys and values are encoded with the store's serdes; the "topic" a store's serdes see is the
//! store's name. Processors get a [`TypedStore`] from their context; the test driver hands one
//! out for assertions.

use std::ops::Bound;

use weir_state::KeyValueStore;

use crate::ops::as_key;
use weir_core::error::StreamsError;
use weir_core::serde::{Serde, SerdeRef};

/// Reads and decodes `key` from `store`.
pub fn get<K: 'static, V: 'static>(
    store: &dyn KeyValueStore,
    ks: &dyn Serde<K>,
    vs: &dyn Serde<V>,
    key: &K,
) -> Result<Option<V>, StreamsError> {
    let kb = ks.serialize(store.name(), key).map_err(as_key)?;
    get_raw(store, vs, &kb)
}

/// Reads `kb` from `store` and decodes the value.
pub fn get_raw<V: 'static>(
    store: &dyn KeyValueStore,
    vs: &dyn Serde<V>,
    kb: &[u8],
) -> Result<Option<V>, StreamsError> {
    match store.get(kb)? {
        Some(vb) => Ok(Some(vs.deserialize(store.name(), &vb)?)),
        None => Ok(None),
    }
}

/// Encodes and writes (or, for `None` or the value serde's null, deletes) `key`.
pub fn put<K: 'static, V: 'static>(
    store: &mut dyn KeyValueStore,
    ks: &dyn Serde<K>,
    vs: &dyn Serde<V>,
    key: &K,
    value: Option<&V>,
) -> Result<(), StreamsError> {
    let kb = ks.serialize(store.name(), key).map_err(as_key)?;
    match value.filter(|v| !vs.is_null(v)) {
        Some(v) => {
            let vb = vs.serialize(store.name(), v)?;
            store.put(&kb, &vb)?;
        }
        None => store.delete(&kb)?,
    }
    Ok(())
}

/// A key-value store seen through its key and value serdes.
pub struct TypedStore<'a, K, V> {
    store: &'a mut dyn KeyValueStore,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
}

impl<'a, K: 'static, V: 'static> TypedStore<'a, K, V> {
    pub fn new(
        store: &'a mut dyn KeyValueStore,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        TypedStore {
            store,
            key_serde,
            value_serde,
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        self.store.name()
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StreamsError> {
        get(&*self.store, &*self.key_serde, &*self.value_serde, key)
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), StreamsError> {
        put(
            &mut *self.store,
            &*self.key_serde,
            &*self.value_serde,
            key,
            Some(value),
        )
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: &K) -> Result<(), StreamsError> {
        put(
            &mut *self.store,
            &*self.key_serde,
            &*self.value_serde,
            key,
            None,
        )
    }

    /// Every entry, in key-byte order, decoded.
    pub fn all(&self) -> Result<Vec<(K, V)>, StreamsError> {
        self.decode(self.store.all()?)
    }

    /// Entries with `from <= key <= to` (in encoded-key order), decoded.
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>, StreamsError> {
        let name = self.store.name();
        let f = self.key_serde.serialize(name, from).map_err(as_key)?;
        let t = self.key_serde.serialize(name, to).map_err(as_key)?;
        self.decode(self.store.range(Bound::Included(&f), Bound::Included(&t))?)
    }

    /// Approximate number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64, StreamsError> {
        Ok(self.store.approximate_num_entries()?)
    }

    fn decode(&self, iter: weir_state::KvIter<'_>) -> Result<Vec<(K, V)>, StreamsError> {
        let name = self.store.name();
        iter.map(|kv| {
            let (k, v) = kv?;
            Ok((
                self.key_serde.deserialize(name, &k).map_err(as_key)?,
                self.value_serde.deserialize(name, &v)?,
            ))
        })
        .collect()
    }
}
