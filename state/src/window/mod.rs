//! Window and session stores: key layouts and expiry laid over any [`crate::KeyValueStore`].
//!
//! What it is: [`WindowStore`] and [`SessionStore`] are **not** backends. Each one is a key
//! layout plus expiry logic over a key-value store stack the runtime builds and owns (RocksDB,
//! in-memory, Logging(Caching(...)) from [`crate::StoreBuilder`]) and passes to every call, so
//! change logging, caching (the exactly-once write buffer), checkpoints and restore work for
//! windows exactly as for tables.
//!
//! Time is split into **segments**; every stored key starts with its segment id, so when stream
//! time moves on, the expired segments go with one [`crate::KeyValueStore::delete_range`] (a
//! single RocksDB range tombstone), not one delete per window. That range delete is local: it is
//! not logged, and the changelog topic's own retention removes old windows in Kafka, as in Kafka
//! Streams: `cleanup.policy=compact,delete`, `retention.ms` = the store's retention + a margin
//! (Kafka Streams: `windowstore.changelog.additional.retention.ms`, one day). A restore may so
//! bring back expired windows; [`WindowStore::open`] drops them.
//!
//! Files: `layout.rs` (stored key bytes), `segments.rs` (segment arithmetic, observed stream
//! time, expiry), `key_range.rs` (the scan bound of key-range queries), `window_store.rs`,
//! `session_store.rs`.
//!
//! How the runtime drives a store: build the key-value stack, restore it from the changelog,
//! then [`WindowStore::open`] (recovers the observed stream time from the contents and drops
//! what it expires); during processing `put`/`fetch*` with that same stack, and
//! [`WindowStore::observe`] with the task's stream time so windows expire even without writes.
//! The recovered time is the largest *stored* window start (session end); it can lag the time
//! the store had seen (observed stream times and deleted windows are not stored), and until it
//! catches up, windows that had expired but whose segment had not been dropped are visible
//! again. A task that knows its stream time (committed offset metadata) observes it right after
//! open. After an aborted transaction (the caching layer dropped uncommitted writes), open the
//! store again: its observed time may count writes that are gone. Expired segments dropped
//! during the aborted transaction stay dropped (the range delete is not transactional).

mod key_range;
mod layout;
mod segments;
mod session_store;
mod window_store;

pub use session_store::{SessionStore, SessionStoreConfig};
pub use window_store::{WindowStore, WindowStoreConfig};
