//! RocksDB tuning: [`RocksDbConfig`], the [`SharedBlockCache`] and [`Compression`].
//!
//! Owns: turning the config into RocksDB `Options` for the data column family, the checkpoint
//! column family and the database. The defaults are tuned for what weir's stores mostly do —
//! point lookups, many of them for absent keys (a lookup in a table of forbidden products misses
//! for nearly every product): a whole-key bloom filter on every level and in the memtable, index
//! and filter blocks charged to (and pinned in) the block cache, a hash index inside data blocks.
//! No prefix extractor is set, so prefix scans over arbitrary prefixes stay correct.

use std::fmt;

use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, DataBlockIndexType, Options, WriteBufferManager,
};

/// Bytes of the block cache a store gets when [`RocksDbConfig::block_cache`] is `None`.
pub const PRIVATE_BLOCK_CACHE_BYTES: usize = 8 << 20;

/// An LRU block cache shared by every RocksDB store it is given to, so a worker's memory for
/// cached blocks is bounded once, not per store. Cloning shares the same cache.
#[derive(Clone)]
pub struct SharedBlockCache {
    cache: Cache,
    capacity: usize,
}

impl SharedBlockCache {
    /// An LRU cache holding up to `bytes` of blocks (index and filter blocks included).
    pub fn new(bytes: usize) -> Self {
        Self {
            cache: Cache::new_lru_cache(bytes),
            capacity: bytes,
        }
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes currently held (a metric for operators).
    pub fn usage(&self) -> usize {
        self.cache.get_usage()
    }
}

impl fmt::Debug for SharedBlockCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBlockCache")
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// One budget for the memtables (write buffers) of every RocksDB store it is given to, charged
/// to a [`SharedBlockCache`] when one is given, so that a worker's RocksDB memory is bounded by
/// one number whatever its number of stores (Kafka Streams' `BoundedMemoryRocksDBConfig`).
/// When the memtables together reach the budget, the largest is flushed early. Cloning shares
/// the same budget.
#[derive(Clone)]
pub struct SharedWriteBuffers {
    manager: WriteBufferManager,
    capacity: usize,
}

impl SharedWriteBuffers {
    /// A budget of `bytes` for memtables; with `charge_to`, memtable memory is also counted in
    /// that block cache (blocks are evicted to make room), so cache and memtables share one
    /// bound: the cache's capacity.
    pub fn new(bytes: usize, charge_to: Option<&SharedBlockCache>) -> Self {
        let manager = match charge_to {
            Some(cache) => WriteBufferManager::new_write_buffer_manager_with_cache(
                bytes,
                false,
                cache.cache.clone(),
            ),
            None => WriteBufferManager::new_write_buffer_manager(bytes, false),
        };
        Self {
            manager,
            capacity: bytes,
        }
    }

    /// The budget in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of memtables held now (a metric for operators).
    pub fn usage(&self) -> usize {
        self.manager.get_usage()
    }
}

impl fmt::Debug for SharedWriteBuffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedWriteBuffers")
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Block compression of SST files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy.
    Snappy,
    /// LZ4: fast to decompress, the default.
    #[default]
    Lz4,
    /// Zstandard: smaller files, more CPU.
    Zstd,
}

impl Compression {
    fn rocks(self) -> DBCompressionType {
        match self {
            Compression::None => DBCompressionType::None,
            Compression::Snappy => DBCompressionType::Snappy,
            Compression::Lz4 => DBCompressionType::Lz4,
            Compression::Zstd => DBCompressionType::Zstd,
        }
    }
}

/// Tuning of one RocksDB store. One config is usually shared by every store of a worker,
/// together with one [`SharedBlockCache`].
#[derive(Debug, Clone)]
pub struct RocksDbConfig {
    /// The block cache; `None` gives the store a private LRU cache of
    /// [`PRIVATE_BLOCK_CACHE_BYTES`].
    pub block_cache: Option<SharedBlockCache>,
    /// The memtable budget shared with the worker's other stores; `None`: each store's
    /// memtables are bounded only by `write_buffer_size × max_write_buffer_number`.
    pub write_buffers: Option<SharedWriteBuffers>,
    /// Bytes of one memtable (default 16 MiB).
    pub write_buffer_size: usize,
    /// Memtables kept before writes stall (default 3).
    pub max_write_buffer_number: i32,
    /// Uncompressed bytes per data block (default 4 KiB: small blocks suit point lookups).
    pub block_size: usize,
    /// Compression of SST files (default LZ4).
    pub compression: Compression,
    /// Bits per key of the whole-key bloom filter; `0.0` disables it (default 10: ~1% false
    /// positives).
    pub bloom_bits_per_key: f64,
    /// Fraction of `write_buffer_size` given to the memtable's whole-key bloom filter; `0.0`
    /// disables it (default 0.02).
    pub memtable_bloom_ratio: f64,
    /// Background flush and compaction threads of the store (default 2).
    pub max_background_jobs: i32,
    /// Sync the write-ahead log on every write: survives power loss, not only a crashed process
    /// (default false — the changelog restores what a power loss takes).
    pub sync_writes: bool,
}

impl Default for RocksDbConfig {
    fn default() -> Self {
        Self {
            block_cache: None,
            write_buffers: None,
            write_buffer_size: 16 << 20,
            max_write_buffer_number: 3,
            block_size: 4 << 10,
            compression: Compression::default(),
            bloom_bits_per_key: 10.0,
            memtable_bloom_ratio: 0.02,
            max_background_jobs: 2,
            sync_writes: false,
        }
    }
}

impl RocksDbConfig {
    /// Database-wide options (also used for the data column family).
    pub(crate) fn db_options(&self) -> Options {
        let mut opts = self.data_options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // The checkpoint column family receives a tiny write with every batch and would never
        // fill a memtable on its own: flushing all column families together keeps the WAL from
        // piling up behind it and keeps data and checkpoint in step on disk.
        opts.set_atomic_flush(true);
        if let Some(wb) = &self.write_buffers {
            opts.set_write_buffer_manager(&wb.manager);
        }
        opts.set_max_background_jobs(self.max_background_jobs.max(1));
        opts.set_keep_log_file_num(2);
        opts
    }

    /// Options of the data column family: tuned for point lookups.
    pub(crate) fn data_options(&self) -> Options {
        let mut table = BlockBasedOptions::default();
        let cache = match &self.block_cache {
            Some(shared) => shared.cache.clone(),
            None => Cache::new_lru_cache(PRIVATE_BLOCK_CACHE_BYTES),
        };
        table.set_block_cache(&cache);
        table.set_block_size(self.block_size.max(1 << 10));
        if self.bloom_bits_per_key > 0.0 {
            table.set_bloom_filter(self.bloom_bits_per_key, false);
            table.set_whole_key_filtering(true);
        }
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
        table.set_format_version(5);

        let mut opts = Options::default();
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_size(self.write_buffer_size.max(64 << 10));
        opts.set_max_write_buffer_number(self.max_write_buffer_number.max(2));
        opts.set_compression_type(self.compression.rocks());
        if self.memtable_bloom_ratio > 0.0 {
            opts.set_memtable_prefix_bloom_ratio(self.memtable_bloom_ratio.min(0.25));
            opts.set_memtable_whole_key_filtering(true);
        }
        opts.set_level_compaction_dynamic_level_bytes(true);
        opts
    }

    /// Options of the checkpoint column family: a handful of tiny entries.
    pub(crate) fn checkpoint_options(&self) -> Options {
        let mut opts = Options::default();
        opts.set_compression_type(DBCompressionType::None);
        opts.set_write_buffer_size(64 << 10);
        opts
    }
}
