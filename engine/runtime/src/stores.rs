//! The stores a task can reach: its own key-value stores and readers of the global stores.
//!
//! A global store ([`GlobalStore`]) is written by one thread (the global thread, or the test
//! driver) and read by every task. Each task reads through its own [`GlobalReader`], which keeps a
//! bounded cache of recent lookups (hits and misses). Every write to the global store bumps a
//! generation counter; a reader that sees a new generation drops its cache before the next
//! lookup, so a task never reads a value older than the last write it could have observed.

use foldhash::HashMap;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use weir_state::{KeyValueStore, StateError, WriteBatch};

use crate::node::StoreRef;
use crate::store::TypedStore;
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;

/// Bytes of a global table kept in memory by default (see [`GlobalStore`]).
pub const DEFAULT_MIRROR_BYTES: usize = 64 * 1024 * 1024;

/// A global store shared by all tasks of a worker.
///
/// While the table fits in `mirror_limit` bytes, it is also kept in memory (the mirror) and
/// every lookup — hit or miss — is one hash lookup under a read lock; RocksDB stays the durable
/// copy a restart resumes from. A table that outgrows the limit drops its mirror and is read from
/// RocksDB through each task's [`GlobalReader`] cache.
pub struct GlobalStore {
    name: String,
    store: Mutex<Box<dyn KeyValueStore>>,
    generation: AtomicU64,
    mirror: RwLock<Option<Mirror>>,
}

struct Mirror {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
    limit: usize,
}

impl Mirror {
    /// Applies one write; `false` once the table no longer fits.
    fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> bool {
        match value {
            Some(v) => {
                let old = self.map.insert(key.to_vec(), v.to_vec());
                self.bytes += key.len() + v.len();
                if let Some(old) = old {
                    self.bytes -= key.len() + old.len();
                }
            }
            None => {
                if let Some(old) = self.map.remove(key) {
                    self.bytes -= key.len() + old.len();
                }
            }
        }
        self.bytes <= self.limit
    }
}

impl GlobalStore {
    /// Wraps `store`, mirroring it in memory while it fits in `mirror_limit` bytes.
    pub fn new(
        store: Box<dyn KeyValueStore>,
        mirror_limit: usize,
    ) -> Result<Arc<Self>, StreamsError> {
        let mut mirror = Some(Mirror {
            map: HashMap::default(),
            bytes: 0,
            limit: mirror_limit,
        });
        for kv in store.all()? {
            let (k, v) = kv?;
            if let Some(m) = &mut mirror
                && !m.write(&k, Some(&v))
            {
                mirror = None;
                break;
            }
        }
        Ok(Arc::new(GlobalStore {
            name: store.name().to_owned(),
            store: Mutex::new(store),
            generation: AtomicU64::new(0),
            mirror: RwLock::new(mirror),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn KeyValueStore>>, StreamsError> {
        self.store.lock().map_err(|_| {
            StreamsError::Internal(format!("global store `{}` lock poisoned", self.name))
        })
    }

    /// Applies writes (and the source-topic offsets they reach) from the global topic.
    pub fn apply(&self, batch: WriteBatch) -> Result<(), StreamsError> {
        let mut store = self.lock()?;
        let mut mirror = self.mirror.write().map_err(|_| {
            StreamsError::Internal(format!("global store `{}` mirror poisoned", self.name))
        })?;
        if let Some(m) = mirror.as_mut() {
            let fits = batch.writes.iter().all(|(k, v)| m.write(k, v.as_deref()));
            if !fits {
                tracing::info!(store = %self.name, "global table outgrew its in-memory mirror");
                *mirror = None;
            }
        }
        store.apply(batch)?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Wipes the store: closes it, lets `reopen` delete and re-create it empty, and empties the
    /// mirror (tasks' readers drop their caches at the new generation). For a checkpoint the
    /// global topic no longer holds (see `GlobalUpdater::step`).
    pub fn wipe(
        &self,
        reopen: impl FnOnce() -> Result<Box<dyn KeyValueStore>, StreamsError>,
    ) -> Result<(), StreamsError> {
        let mut store = self.lock()?;
        let mut mirror = self.mirror.write().map_err(|_| {
            StreamsError::Internal(format!("global store `{}` mirror poisoned", self.name))
        })?;
        store.close()?;
        *store = reopen()?;
        let limit = mirror.as_ref().map_or(DEFAULT_MIRROR_BYTES, |m| m.limit);
        *mirror = Some(Mirror {
            map: HashMap::default(),
            bytes: 0,
            limit,
        });
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Runs `f` with the store locked (reads for inspection, restore bookkeeping).
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn KeyValueStore) -> Result<R, StateError>,
    ) -> Result<R, StreamsError> {
        let mut store = self.lock()?;
        Ok(f(store.as_mut())?)
    }
}

/// A task's view of one global store, with a read cache.
pub struct GlobalReader {
    shared: Arc<GlobalStore>,
    cache: HashMap<Vec<u8>, Option<Vec<u8>>>,
    seen_generation: u64,
    capacity: usize,
}

impl GlobalReader {
    pub fn new(shared: Arc<GlobalStore>, capacity: usize) -> Self {
        GlobalReader {
            shared,
            cache: HashMap::default(),
            seen_generation: 0,
            capacity,
        }
    }

    /// Looks `key` up and hands the value (or `None`) to `f` without copying it on a cache hit.
    pub fn get_with<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StreamsError> {
        if let Ok(mirror) = self.shared.mirror.read()
            && let Some(m) = mirror.as_ref()
        {
            return Ok(f(m.map.get(key).map(Vec::as_slice)));
        }
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.seen_generation {
            self.cache.clear();
            self.seen_generation = generation;
        }
        if let Some(v) = self.cache.get(key) {
            return Ok(f(v.as_deref()));
        }
        let value = self.shared.lock()?.get(key)?;
        let out = f(value.as_deref());
        if self.cache.len() >= self.capacity {
            self.cache.clear();
        }
        self.cache.insert(key.to_vec(), value);
        Ok(out)
    }
}

/// The stores of one task, by name and by index.
#[derive(Default)]
pub struct TaskStores {
    local: Vec<Box<dyn KeyValueStore>>,
    /// `(SerdeRef<K>, SerdeRef<V>)` of each local store, erased, for typed access by name.
    serdes: Vec<Arc<dyn Any + Send + Sync>>,
    global: Vec<GlobalReader>,
    index: HashMap<String, StoreRef>,
}

impl TaskStores {
    pub fn add_local(&mut self, store: Box<dyn KeyValueStore>, serdes: Arc<dyn Any + Send + Sync>) {
        self.index
            .insert(store.name().to_owned(), StoreRef::Local(self.local.len()));
        self.local.push(store);
        self.serdes.push(serdes);
    }

    /// The local store `name` seen through its serdes; `UnknownStore` when absent or when `K`/`V`
    /// are not the store's types.
    pub fn typed<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<TypedStore<'_, K, V>, StreamsError> {
        let unknown = || StreamsError::UnknownStore(name.to_owned());
        let Some(StoreRef::Local(i)) = self.resolve(name) else {
            return Err(unknown());
        };
        let (ks, vs) = self.serdes[i]
            .downcast_ref::<(SerdeRef<K>, SerdeRef<V>)>()
            .cloned()
            .ok_or_else(|| StreamsError::UnknownStore(format!("{name} (other key/value types)")))?;
        Ok(TypedStore::new(self.local[i].as_mut(), ks, vs))
    }

    pub fn add_global(&mut self, reader: GlobalReader) {
        self.index.insert(
            reader.shared.name().to_owned(),
            StoreRef::Global(self.global.len()),
        );
        self.global.push(reader);
    }

    pub fn resolve(&self, name: &str) -> Option<StoreRef> {
        self.index.get(name).copied()
    }

    pub fn local_mut(&mut self, index: usize) -> &mut dyn KeyValueStore {
        self.local[index].as_mut()
    }

    pub fn global_mut(&mut self, index: usize) -> &mut GlobalReader {
        &mut self.global[index]
    }

    pub fn local_by_name(&self, name: &str) -> Option<&dyn KeyValueStore> {
        match self.resolve(name)? {
            StoreRef::Local(i) => self.local.get(i).map(|s| s.as_ref()),
            StoreRef::Global(_) => None,
        }
    }

    pub fn local_names(&self) -> impl Iterator<Item = &str> {
        self.local.iter().map(|s| s.name())
    }

    pub fn locals_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn KeyValueStore>> {
        self.local.iter_mut()
    }

    /// The local store named `name`.
    pub fn local_named_mut(&mut self, name: &str) -> Option<&mut Box<dyn KeyValueStore>> {
        self.locals_mut().find(|s| s.name() == name)
    }
}
