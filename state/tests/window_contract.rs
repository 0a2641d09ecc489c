//! The window store contract suite: every case in `support/windows.rs` and
//! `support/windows_model.rs`, written once, run with a [`weir_state::WindowStore`] laid over
//! every key-value stack of `support/mod.rs`.
//!
//! Stacks: InMemoryStore, RocksDbStore, CachingStore over both (read before commit and after
//! commit), ChangeLoggingStore over RocksDB, and the builder's Logging(Caching(RocksDB)).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{
    Built, CachingMemory, CachingRocks, LoggingRocks, Memory, Rocks, windows, windows_model,
};

macro_rules! contract {
    ($($module:ident => $fixture:ty),* $(,)?) => {$(
        mod $module {
            use super::*;
            contract!(@cases $fixture;
                windows::put_fetch_overwrite_delete,
                windows::range_bounds,
                windows::prefix_and_binary_keys,
                windows::negative_and_zero_timestamps,
                windows::duplicates_retained_in_order,
                windows::expiry_drops_whole_segments,
                windows::reopen_recovers_observed_time,
                windows::restore_then_open_drops_expired,
                windows_model::randomized_against_a_model,
                windows_model::randomized_duplicates_against_a_model,
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
