//! The session store contract suite: every case in `support/sessions.rs`, written once, run with
//! a [`weir_state::SessionStore`] laid over every key-value stack of `support/mod.rs`.
//!
//! Stacks: InMemoryStore, RocksDbStore, CachingStore over both (read before commit and after
//! commit), ChangeLoggingStore over RocksDB, and the builder's Logging(Caching(RocksDB)).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Built, CachingMemory, CachingRocks, LoggingRocks, Memory, Rocks, sessions};

macro_rules! contract {
    ($($module:ident => $fixture:ty),* $(,)?) => {$(
        mod $module {
            use super::*;
            contract!(@cases $fixture;
                sessions::put_fetch_remove,
                sessions::find_sessions_bounds,
                sessions::merge_sequences,
                sessions::expiry_by_session_end,
                sessions::reopen_and_restore,
                sessions::randomized_against_a_model,
            );
        }
    )*};
    (@cases $fixture:ty; $($module:ident :: $case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            $module::$case::<$fixture>();
        }
    )*};
}

contract! {
    in_memory => Memory,
    rocksdb => Rocks,
    caching_memory_uncommitted => CachingMemory<false>,
    caching_memory_committed => CachingMemory<true>,
    caching_rocksdb_uncommitted => CachingRocks<false>,
    caching_rocksdb_committed => CachingRocks<true>,
    logging_rocksdb => LoggingRocks,
    built_logging_caching_rocksdb => Built,
}
