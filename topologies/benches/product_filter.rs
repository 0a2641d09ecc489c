//! Engine-only throughput of product-filter through the test driver: 1M JSON products through
//! filter → global-table lookup (10k forbidden ids in RocksDB) → map_values → sink.
//!
//! Run: `cargo bench --profile dev -p weir-topologies --bench product_filter` (set `WEIR_BENCH_RECORDS` to
//! change the record count, `WEIR_BENCH_METRICS=1` to
//! install the Prometheus recorder, `WEIR_BENCH_DEFINITION=topologies/definitions/product-filter.yaml`
//! to run a definition file's twin instead of the Rust topology). Prints records/s for each of 3
//! runs and the best.

use std::time::Instant;

// The allocator the `weir` binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{Headers, StreamsConfig};
use weir_topologies::model::Product;
use weir_topologies::product_filter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::var("WEIR_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // WEIR_BENCH_METRICS=1: with the Prometheus recorder installed, as in a worker (without it
    // every metric handle is a no-op).
    let _metrics = match std::env::var_os("WEIR_BENCH_METRICS") {
        Some(_) => Some(weir_engine::metrics::install_prometheus()?),
        None => None,
    };
    let forbidden = 10_000usize;
    let distinct = 100_000usize;
    // Inputs serialized up front: the benchmark measures the engine, not the input generator.
    let inputs: Vec<(Vec<u8>, Vec<u8>)> = (0..records)
        .map(|i| {
            let id = format!("p{}", (i * 7919) % distinct);
            let p = Product {
                product_id: id.clone(),
                name: format!("product {i}"),
                shop_id: format!("s{}", i % 500),
                category: ["home", "toys", "fashion", "garden"][i % 4].into(),
                price: if i % 97 == 0 {
                    -1.0
                } else {
                    (i % 1000) as f64 / 10.0
                },
            };
            Ok((id.into_bytes(), serde_json::to_vec(&p)?))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    let mut rates = Vec::new();
    for run in 1..=3 {
        let dir = tempfile::tempdir()?;
        // Invalid products (every 97th has a negative price) go to the dead-letter topic, as
        // in a worker with the topology's config.
        let (topology, properties) = match std::env::var_os("WEIR_BENCH_DEFINITION") {
            Some(path) => {
                let loaded = weir_engine::definition::load(path)?;
                (loaded.topology, loaded.config)
            }
            None => (product_filter::topology("bench")?, product_filter::config()),
        };
        let mut errors = StreamsConfig::new("bench");
        for (k, v) in properties {
            errors.set(&k, &v)?;
        }
        let config = DriverConfig {
            state_dir: Some(dir.path().to_path_buf()),
            error_handling: Some(errors),
            ..DriverConfig::default()
        };
        let mut d = TopologyTestDriver::with_config(topology, config)?;
        for i in 0..forbidden {
            let id = format!("p{}", i * (distinct / forbidden));
            d.pipe_raw(
                "forbidden-products",
                Some(id.as_bytes()),
                Some(b"banned"),
                0,
                Headers::new(),
            )?;
        }
        let start = Instant::now();
        let mut out = 0usize;
        for (i, (k, v)) in inputs.iter().enumerate() {
            d.pipe_raw("shop-products", Some(k), Some(v), i as i64, Headers::new())?;
            if i % 10_000 == 9_999 {
                out += d.read_raw("products").len();
            }
        }
        out += d.read_raw("products").len();
        let secs = start.elapsed().as_secs_f64();
        let rate = records as f64 / secs;
        println!(
            "run {run}: {records} records in {secs:.3} s = {:.0} records/s ({out} passed, {} dropped)",
            rate,
            records - out
        );
        rates.push(rate);
    }
    let best = rates.iter().cloned().fold(0.0, f64::max);
    println!(
        "product-filter via test driver, RocksDB global table of {forbidden}: best {best:.0} records/s on one core (target 1,000,000: ratio {:.2})",
        best / 1e6
    );
    Ok(())
}
