//! The store contract suite: every case in `support/cases.rs` and `support/scans.rs`, written
//! once, run against every store stack in `support/mod.rs`.
//!
//! Stacks: InMemoryStore, RocksDbStore, CachingStore over both (read before commit and after
//! commit), ChangeLoggingStore over RocksDB, and the builder's Logging(Caching(RocksDB)).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Built, CachingMemory, CachingRocks, LoggingRocks, Memory, Rocks, cases, scans};

macro_rules! contract {
    ($($module:ident => $fixture:ty),* $(,)?) => {$(
        mod $module {
            use super::*;
            contract!(@cases $fixture;
                cases::get_put_delete_overwrite,
                cases::empty_and_large_values,
                cases::binary_keys,
                cases::put_all_with_deletes_and_duplicates,
                cases::approximate_count,
                cases::apply_with_offsets,
                cases::restore_applies_directly,
                cases::closed_store_refuses_everything,
                cases::reopen_keeps_data_and_offsets,
                cases::delete_range_bounds_and_empty_ranges,
                cases::delete_range_covers_uncommitted_writes,
                scans::range_all_bound_combinations,
                scans::reverse_range_all_bound_combinations,
                scans::prefix_scans,
                scans::randomized_against_a_model,
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
