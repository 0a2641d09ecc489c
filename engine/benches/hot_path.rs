//! Criterion micro-benchmarks of the per-record hot path, one element = one record (or one
//! store operation), so a regression in any piece shows as a change in time per element.
//!
//! Groups (benchmark ids are `group/id`):
//! * `json`: a ~170-byte product (the shape of the benchmark harness's `shop-products` values)
//!   through `Serdes::json::<Product>()` (`typed/decode`, `typed/encode`: Rust topologies), and
//!   as a `serde_json::Value` through `Format::Json.serde()` (definition files): `value/decode`
//!   (parse, and remember the bytes for pass-through), `value/encode_passthrough` (a value equal
//!   to one just decoded: compared while re-parsing the remembered bytes, which are written
//!   as they are) and `value/encode_changed` (a changed price, the text's last field: the
//!   comparison with the record's own bytes reads them to the end, those with three earlier
//!   products stop at the id, then the value is serialized).
//! * `avro`: the same product as Avro with `topologies/schemas/product.avsc`:
//!   `format/{decode,encode}` through `Format::Avro` (Avro datum ↔ JSON value, definition files),
//!   `registry/{decode,encode}` through `Format::RegistryAvro` (the Confluent wire format:
//!   magic byte, schema id, datum) bound to the embedded schema table (`LocalSchemas`, built
//!   from the `.avsc` files; no registry server, no network), and `typed/{decode,encode}`
//!   through `Serdes::avro::<Product>()` (Rust topologies).
//! * `cel`: the filter `value.price >= 0.0 && value.product_id != ""`, compiled once with
//!   `Expression::compile`, evaluated per record with `Expression::test` (JSON → CEL values,
//!   evaluation).
//! * `store`: `get` and `put` of a 20-byte key and a 100-byte value, cycling over 10,000 keys
//!   that are all present: the bare `InMemoryStore` (`memory/*`) and `RocksDbStore` in a
//!   temporary directory (`rocksdb/*`), and the stack an active task builds
//!   (`task_rocksdb/*`: `StoreBuilder::rocksdb(..).with_caching(10 MiB).with_logging(..)`,
//!   i.e. ChangeLogging(Caching(RocksDB)) with the default `statestore.cache.max.bytes`); its
//!   changelog sink drops the writes (a worker's hands them to the Kafka producer, which is not
//!   measured here). Task-stack `get`s are read-cache hits (the 10,000 keys fit the cache);
//!   task-stack `put`s go to the write-back buffer and the sink, and every 1,024th also
//!   commits the buffer to RocksDB with a changelog offset (as a task's commit does), so the
//!   figure includes that commit amortised. Typed access (serdes) is not included.
//! * `record_loop`: the whole per-record loop of the engine without a broker: a Rust DSL
//!   topology `source (string, JSON product) → filter → map_values → sink (JSON)` in the
//!   `TopologyTestDriver`, one `pipe_raw` of a serialized record and one `read_raw` of its
//!   output per element (the driver commits after every record; with no stores that is
//!   nearly free).
//!
//! The process uses mimalloc, the allocator the `weir` binary ships with.
//!
//! Run: `./weir bench -p weir-engine --bench hot_path` (criterion's defaults: 3 s warm-up,
//! 5 s measurement per benchmark); shorter: `./weir bench -p weir-engine --bench hot_path --
//! --warm-up-time 1 --measurement-time 2`; one group: `... --bench hot_path -- store/`;
//! against a saved baseline: `-- --save-baseline main`, later `-- --baseline main`.
//!
//! # Figures of one run
//!
//! `--warm-up-time 1 --measurement-time 2`, `dev` profile (as `./weir bench`), on a 2-core
//! AMD EPYC VM (23 GB) shared with another session's builds and runs (load average ~1 when it
//! started): the median time per element of criterion's 100 samples, and its inverse. Between
//! runs minutes apart, criterion's estimate of a single benchmark moved by up to ~35 %
//! (`json/value/encode_passthrough` 298 → 401 ns, `json/typed/decode` 336 → 259 ns), so
//! compare runs on one machine against a saved baseline (`--save-baseline`/`--baseline`), not
//! against this table.
//!
//! | benchmark | median per element | elements/s |
//! |---|---|---|
//! | `json/typed/decode` | 242 ns | 4.13 M |
//! | `json/typed/encode` | 191 ns | 5.24 M |
//! | `json/value/decode` | 494 ns | 2.02 M |
//! | `json/value/encode_passthrough` | 412 ns | 2.43 M |
//! | `json/value/encode_changed` | 905 ns | 1.10 M |
//! | `avro/format/decode` | 618 ns | 1.62 M |
//! | `avro/format/encode` | 1.41 µs | 711 k |
//! | `avro/registry/decode` | 1.84 µs | 543 k |
//! | `avro/registry/encode` | 1.71 µs | 585 k |
//! | `avro/typed/decode` | 476 ns | 2.10 M |
//! | `avro/typed/encode` | 1.44 µs | 696 k |
//! | `cel/filter` | 768 ns | 1.30 M |
//! | `store/memory/get` | 186 ns | 5.38 M |
//! | `store/memory/put` | 221 ns | 4.52 M |
//! | `store/rocksdb/get` | 780 ns | 1.28 M |
//! | `store/rocksdb/put` | 3.94 µs | 254 k |
//! | `store/task_rocksdb/get` | 70 ns | 14.2 M |
//! | `store/task_rocksdb/put` | 2.12 µs | 472 k |
//! | `record_loop/dsl_json` | 729 ns | 1.37 M |
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weir_engine::definition::{AvroFormat, Expression, Format, load_str};
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{AvroSerdes, Consumed, Headers, Produced, Serdes, StreamsBuilder};
use weir_state::{ChangelogSink, KeyValueStore, Offsets, RocksDbConfig, StateError, StoreBuilder};

// The allocator the `weir` binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A product as the SHOP API publishes it (the shape of `weir_topologies::model::Product` and
/// of `product.avsc`; weir-engine cannot depend on weir-topologies, a higher layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Product {
    product_id: String,
    name: String,
    shop_id: String,
    category: String,
    price: f64,
}

/// What the `record_loop` topology writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Listing {
    id: String,
    category: String,
    cents: i64,
}

/// A product as the benchmark harness writes it (tests/bench/weirbench/data.py), 171 bytes.
const PRODUCT_JSON: &str = concat!(
    r#"{"product_id":"p-0012345","name":"sturdy compact desk lamp in oak, "#,
    r#"spring catalogue, with matching case, model 0012345","shop_id":"s-017","#,
    r#""category":"home","price":123.45}"#
);
const KEY: &[u8] = b"p-0012345";
const TOPIC: &str = "shop-products";
const FILTER: &str = r#"value.price >= 0.0 && value.product_id != """#;

fn product() -> Product {
    serde_json::from_str(PRODUCT_JSON).expect("the product parses")
}

fn product_value() -> Value {
    serde_json::from_str(PRODUCT_JSON).expect("the product parses")
}

/// `topologies/schemas`, where `product.avsc` is.
fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../topologies/schemas")
}

fn json(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(1));
    let bytes = PRODUCT_JSON.as_bytes();

    let typed = Serdes::json::<Product>();
    let p = product();
    assert_eq!(typed.deserialize(TOPIC, bytes).expect("decodes"), p);
    g.bench_function("typed/decode", |b| {
        b.iter(|| typed.deserialize(TOPIC, black_box(bytes)).expect("decodes"))
    });
    g.bench_function("typed/encode", |b| {
        b.iter(|| typed.serialize(TOPIC, black_box(&p)).expect("encodes"))
    });

    let dynamic = Format::Json.serde();
    g.bench_function("value/decode", |b| {
        b.iter(|| {
            dynamic
                .deserialize(TOPIC, black_box(bytes))
                .expect("decodes")
        })
    });
    // The thread's remembered decodes as in a stream thread: three earlier products, then the
    // record being processed. The format writes a value equal to one of them as its bytes.
    for id in ["p-0000001", "p-0000002", "p-0000003"] {
        let other = PRODUCT_JSON.replace("p-0012345", id);
        dynamic
            .deserialize(TOPIC, other.as_bytes())
            .expect("decodes");
    }
    let unchanged = dynamic.deserialize(TOPIC, bytes).expect("decodes");
    assert_eq!(
        dynamic.serialize(TOPIC, &unchanged).expect("encodes"),
        bytes,
        "an unchanged value is written as the bytes it was read from"
    );
    g.bench_function("value/encode_passthrough", |b| {
        b.iter(|| {
            dynamic
                .serialize(TOPIC, black_box(&unchanged))
                .expect("encodes")
        })
    });
    let mut changed = unchanged.clone();
    changed["price"] = Value::from(99.5);
    assert_ne!(dynamic.serialize(TOPIC, &changed).expect("encodes"), bytes);
    g.bench_function("value/encode_changed", |b| {
        b.iter(|| {
            dynamic
                .serialize(TOPIC, black_box(&changed))
                .expect("encodes")
        })
    });
    g.finish();
}

fn avro(c: &mut Criterion) {
    let mut g = c.benchmark_group("avro");
    g.throughput(Throughput::Elements(1));
    let avsc = schemas_dir().join("product.avsc");
    let value = product_value();

    let format = Format::Avro(AvroFormat::from_file(&avsc).expect("product.avsc parses")).serde();
    let datum = format.serialize(TOPIC, &value).expect("encodes");
    assert_eq!(format.deserialize(TOPIC, &datum).expect("decodes"), value);
    g.bench_function("format/decode", |b| {
        b.iter(|| {
            format
                .deserialize(TOPIC, black_box(&datum))
                .expect("decodes")
        })
    });
    g.bench_function("format/encode", |b| {
        b.iter(|| format.serialize(TOPIC, black_box(&value)).expect("encodes"))
    });

    // The registry format as a definition file declares it; without `schema.registry.url` it
    // binds to the embedded schema table (every .avsc in topologies/schemas), in memory.
    let definition = format!(
        "application: hot-path\nstreams:\n  products:\n    from: {TOPIC}\n    key: string\n    \
         value: {{avro: product.avsc, registry: true}}\n    steps:\n      - to: products\n"
    );
    let loaded = load_str(
        &definition,
        &schemas_dir().join("hot-path.yaml").to_string_lossy(),
    )
    .expect("the definition loads");
    let registry = loaded.formats[TOPIC].1.serde();
    assert_eq!(registry.name(), "avro-registry");
    let framed = registry.serialize(TOPIC, &value).expect("encodes");
    assert_eq!(framed[0], 0, "Confluent wire format: magic byte 0");
    assert_eq!(&framed[5..], &datum[..], "schema id, then the same datum");
    assert_eq!(
        registry.deserialize(TOPIC, &framed).expect("decodes"),
        value
    );
    g.bench_function("registry/decode", |b| {
        b.iter(|| {
            registry
                .deserialize(TOPIC, black_box(&framed))
                .expect("decodes")
        })
    });
    g.bench_function("registry/encode", |b| {
        b.iter(|| {
            registry
                .serialize(TOPIC, black_box(&value))
                .expect("encodes")
        })
    });

    let typed = Serdes::avro::<Product>(&avsc).expect("product.avsc parses");
    let p = product();
    assert_eq!(typed.serialize(TOPIC, &p).expect("encodes"), datum);
    g.bench_function("typed/decode", |b| {
        b.iter(|| {
            typed
                .deserialize(TOPIC, black_box(&datum))
                .expect("decodes")
        })
    });
    g.bench_function("typed/encode", |b| {
        b.iter(|| typed.serialize(TOPIC, black_box(&p)).expect("encodes"))
    });
    g.finish();
}

fn cel(c: &mut Criterion) {
    let mut g = c.benchmark_group("cel");
    g.throughput(Throughput::Elements(1));
    let filter = Expression::compile(FILTER, &["key", "value"]).expect("the filter compiles");
    let key = Value::String(String::from_utf8_lossy(KEY).into_owned());
    let value = product_value();
    assert!(filter.test(&[&key, &value]).expect("evaluates"));
    g.bench_function("filter", |b| {
        b.iter(|| {
            filter
                .test(&[black_box(&key), black_box(&value)])
                .expect("evaluates")
        })
    });
    g.finish();
}

/// A changelog that drops every write (in a worker: the Kafka producer).
struct DiscardChangelog;

impl ChangelogSink for DiscardChangelog {
    fn send(&mut self, _: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        black_box((key, value));
        Ok(())
    }
}

const STORE_KEYS: usize = 10_000;

/// 20-byte keys.
fn store_keys() -> Vec<Vec<u8>> {
    (0..STORE_KEYS)
        .map(|i| format!("store-key-{i:010}").into_bytes())
        .collect()
}

/// A 100-byte value.
fn store_value(i: usize) -> Vec<u8> {
    let mut v = format!("value-{i:010}-").into_bytes();
    v.resize(100, b'x');
    v
}

/// Benchmarks `get` and `put` on `store`, filled with every key first (committed).
fn bench_store(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut store: Box<dyn KeyValueStore>,
) {
    let keys = store_keys();
    assert!(keys.iter().all(|k| k.len() == 20));
    let value = store_value(0);
    assert_eq!(value.len(), 100);
    for k in &keys {
        store.put(k, &value).expect("put");
    }
    let mut offset = 0i64;
    store.commit(Offsets::from([(0, offset)])).expect("commit");
    // A stride through the keys, so consecutive operations do not touch neighbours.
    let mut i = 0usize;
    let mut next = move || {
        i = (i + 7919) % STORE_KEYS;
        i
    };
    g.bench_function(format!("{name}/get"), |b| {
        b.iter(|| {
            let found = store.get(black_box(&keys[next()])).expect("get");
            debug_assert!(found.is_some());
            found
        })
    });
    let mut puts = 0u64;
    g.bench_function(format!("{name}/put"), |b| {
        b.iter(|| {
            store
                .put(black_box(&keys[next()]), black_box(&value))
                .expect("put");
            puts += 1;
            // A task commits every commit.interval.ms; here every 1,024 puts (bare stores have
            // nothing buffered, so this only records the offset).
            if puts.is_multiple_of(1024) {
                offset += 1;
                store.commit(Offsets::from([(0, offset)])).expect("commit");
            }
        })
    });
    store.close().expect("close");
}

fn store(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let memory = StoreBuilder::in_memory("bench").build().expect("opens");
    bench_store(&mut g, "memory", memory);
    let rocks = StoreBuilder::rocksdb("bench", dir.path().join("bare"), RocksDbConfig::default())
        .build()
        .expect("opens");
    bench_store(&mut g, "rocksdb", rocks);
    let cache_bytes = weir_engine::StreamsConfig::new("bench").statestore_cache_max_bytes;
    let task = StoreBuilder::rocksdb("bench", dir.path().join("task"), RocksDbConfig::default())
        .with_caching(cache_bytes)
        .with_logging(Box::new(DiscardChangelog))
        .build()
        .expect("opens");
    bench_store(&mut g, "task_rocksdb", task);
    g.finish();
}

fn record_loop(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_loop");
    g.throughput(Throughput::Elements(1));
    let b = StreamsBuilder::new("hot-path");
    b.stream(
        TOPIC,
        Consumed::with(Serdes::string(), Serdes::json::<Product>()),
    )
    .filter(|_, p| p.price >= 0.0 && !p.product_id.is_empty())
    .map_values(|p| Listing {
        id: p.product_id,
        category: p.category,
        cents: (p.price * 100.0).round() as i64,
    })
    .to(
        "listings",
        Produced::with(Serdes::string(), Serdes::json::<Listing>()),
    );
    let mut driver =
        TopologyTestDriver::new(b.build().expect("the topology builds")).expect("driver");
    let bytes = PRODUCT_JSON.as_bytes();
    let mut ts = 0i64;
    let mut pipe = |driver: &mut TopologyTestDriver| {
        ts += 1;
        driver
            .pipe_raw(TOPIC, Some(KEY), Some(bytes), ts, Headers::new())
            .expect("processes");
        driver.read_raw("listings")
    };
    assert_eq!(pipe(&mut driver).len(), 1, "one output per input");
    g.bench_function("dsl_json", |b| b.iter(|| pipe(&mut driver)));
    g.finish();
}

criterion_group!(benches, json, avro, cel, store, record_loop);
criterion_main!(benches);
