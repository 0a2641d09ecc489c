//! weir-state: weir's local state stores.
//!
//! What it is: key-value stores over bytes and the layers stacked on them —
//! * [`KeyValueStore`], the contract every store and layer honours, and [`WriteBatch`], the unit
//!   of atomic change: data writes plus the changelog [`Offsets`] they reach;
//! * [`RocksDbStore`] (one RocksDB instance per store, the changelog offset written in the same
//!   RocksDB batch as the data) and [`InMemoryStore`];
//! * [`ChangeLoggingStore`], which sends every write to a [`ChangelogSink`], and
//!   [`CachingStore`], which holds an open transaction's writes until commit and caches reads;
//! * [`StoreBuilder`], the one place the layers are composed: Logging(Caching(backend));
//! * [`WindowStore`] and [`SessionStore`]: segmented key layouts with expiry laid over any
//!   key-value stack (not backends of their own; see the `window` module);
//! * restore planning ([`plan_restore`], [`restore_batch`]): pure functions; the algorithm is
//!   written down in the [`restore`] module.
//!
//! What it is not: it has no Kafka client and no async runtime — the engine reads and writes
//! changelog topics and implements [`ChangelogSink`]; it has no serdes — typed access to a store
//! is the engine's outermost layer; it has no metrics and no threads of its own beyond RocksDB's
//! background workers. Every error is a [`StateError`] whose [`StateError::kind`] tells the
//! runtime what to do.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod builder;
mod caching;
mod changelog;
mod changelogging;
mod error;
mod keys;
mod memory;
pub mod restore;
mod rocks;
mod store;
mod window;

pub use builder::StoreBuilder;
pub use caching::CachingStore;
pub use changelog::ChangelogSink;
pub use changelogging::ChangeLoggingStore;
pub use error::{ErrorKind, StateError};
pub use memory::InMemoryStore;
pub use restore::{
    ChangelogRecord, PartitionExtent, RestorePlan, RestoreReason, plan_restore, restore_batch,
    wipe_needed,
};
pub use rocks::{
    Compression, PRIVATE_BLOCK_CACHE_BYTES, RocksDbConfig, RocksDbStore, SharedBlockCache,
    SharedWriteBuffers,
};
pub use store::{KeyValueStore, KvIter, Offsets, Write, WriteBatch};
pub use window::{SessionStore, SessionStoreConfig, WindowStore, WindowStoreConfig};
