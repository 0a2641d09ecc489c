//! Criterion benchmarks of time: the window store and a windowed count, one element = one
//! store operation or one record.
//!
//! * `window_store/{memory,task_rocksdb}/put`: a put of a 100-byte value for one of 1,000
//!   20-byte keys at a window start that moves on 10 s every 1,000 puts (tumbling 10 s windows
//!   of records 10 ms apart), through `WindowStore` over the bare `InMemoryStore` and over the
//!   stack an active task builds (ChangeLogging(Caching(RocksDB)), 10 MiB cache, changelog
//!   dropped; a commit every 1,024 puts, as in `hot_path`'s `store` group). Retention 1 h:
//!   segments expire as time moves on.
//! * `window_store/{memory,task_rocksdb}/fetch`: `fetch_range` of one key over the last 10
//!   windows (a key's recent history; ~10 entries), after 100,000 puts.
//! * `windowed_count/driver`: a record through a Rust DSL windowed count (tumbling 10 s, grace
//!   1 h, 1,000 keys, in-memory stores) in the `TopologyTestDriver`: one `pipe_raw` and one
//!   `read_raw` of its update per element.
//!
//! Run: `./weir bench -p weir-engine --bench windows` (shorter: `-- --warm-up-time 1
//! --measurement-time 2`). Figures of one run are in the issue note and README's Performance.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, Grouped, Headers, Materialized, Produced, Serdes, StreamsBuilder, TimeWindows,
};
use weir_state::{
    ChangelogSink, KeyValueStore, Offsets, RocksDbConfig, StateError, StoreBuilder, WindowStore,
    WindowStoreConfig,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: usize = 1_000;

struct DiscardChangelog;

impl ChangelogSink for DiscardChangelog {
    fn send(&mut self, _: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        black_box((key, value));
        Ok(())
    }
}

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| format!("window-key-{i:09}").into_bytes())
        .collect()
}

fn bench_window_store(c: &mut Criterion, name: &str, mut kv: Box<dyn KeyValueStore>) {
    let mut g = c.benchmark_group("window_store");
    g.throughput(Throughput::Elements(1));
    let keys = keys();
    let value = vec![b'v'; 100];
    let mut store =
        WindowStore::open(WindowStoreConfig::new(3_600_000, false), kv.as_mut()).expect("open");
    let mut n: u64 = 0;
    let mut put = |store: &mut WindowStore, kv: &mut dyn KeyValueStore| {
        let i = (n as usize * 7919) % KEYS;
        let start = (n / 1_000) as i64 * 10_000;
        store.put(kv, &keys[i], start, Some(&value)).expect("put");
        n += 1;
        if n.is_multiple_of(1_024) {
            kv.commit(Offsets::from([(0, n as i64)])).expect("commit");
        }
    };
    for _ in 0..100_000 {
        put(&mut store, kv.as_mut());
    }
    g.bench_function(format!("{name}/put"), |b| {
        b.iter(|| put(&mut store, kv.as_mut()))
    });
    let mut j = 0usize;
    g.bench_function(format!("{name}/fetch"), |b| {
        b.iter(|| {
            j = (j + 7919) % KEYS;
            let now = store.observed_stream_time();
            let got = store
                .fetch_range(kv.as_ref(), black_box(&keys[j]), now - 100_000, now)
                .expect("fetch");
            black_box(got)
        })
    });
    g.finish();
}

fn window_store(c: &mut Criterion) {
    let memory = StoreBuilder::in_memory("bench")
        .build()
        .expect("memory store");
    bench_window_store(c, "memory", memory);
    let dir = tempfile::tempdir().expect("tempdir");
    let task = StoreBuilder::rocksdb("bench", dir.path().join("task"), RocksDbConfig::default())
        .with_caching(10 * 1024 * 1024)
        .with_logging(Box::new(DiscardChangelog))
        .build()
        .expect("task store");
    bench_window_store(c, "task_rocksdb", task);
}

fn windowed_count(c: &mut Criterion) {
    let b = StreamsBuilder::new("bench");
    b.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_secs(10),
            Duration::from_secs(3600),
        ))
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("counts", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().expect("topology")).expect("driver");
    let keys = keys();
    let mut n: i64 = 0;
    let mut g = c.benchmark_group("windowed_count");
    g.throughput(Throughput::Elements(1));
    g.bench_function("driver", |bch| {
        bch.iter(|| {
            let k = &keys[(n as usize * 7919) % KEYS];
            d.pipe_raw("clicks", Some(k), Some(b"x"), n * 10, Headers::new())
                .expect("pipe");
            n += 1;
            black_box(d.read_raw("counts"))
        })
    });
    g.finish();
}

criterion_group!(benches, window_store, windowed_count);
criterion_main!(benches);
