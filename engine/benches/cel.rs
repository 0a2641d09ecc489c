//! Per-record cost of CEL expressions in definition files: a filter predicate and a map_values
//! expression over a product JSON value (conversion of the record to CEL, evaluation, conversion
//! of the result back to JSON), next to the same logic as native Rust closures; and the same two
//! steps as whole topologies through the test driver (YAML vs Rust DSL).
//!
//! Run: `cargo bench --profile dev -p weir-engine --bench cel`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Value, json};
use weir_engine::definition::{Expression, Format, load_str};
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{Consumed, Headers, Produced, StreamsBuilder};

const N: usize = 200_000;

const FILTER: &str = r#"value.price >= 0.0 && value.product_id != """#;
const MAP_VALUES: &str =
    r#"{"id": value.product_id, "cents": int(value.price * 100.0), "category": value.category}"#;

fn product() -> Value {
    json!({"product_id": "p-123456", "name": "Desk lamp", "shop_id": "s-42",
           "category": "home", "price": 19.5})
}

/// Runs `f` `n` times (after a warm-up of n/10) and prints ns per call.
fn bench(name: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{name:<48} {ns:>9.0} ns/record");
}

fn native_filter(v: &Value) -> bool {
    v["price"].as_f64().is_some_and(|p| p >= 0.0)
        && v["product_id"].as_str().is_some_and(|s| !s.is_empty())
}

fn native_map(v: &Value) -> Value {
    json!({"id": v["product_id"], "cents": (v["price"].as_f64().unwrap_or(0.0) * 100.0) as i64,
           "category": v["category"]})
}

fn main() {
    let p = product();
    let key = Value::String("p-123456".into());
    let filter = Expression::compile(FILTER, &["key", "value"]).unwrap();
    let map = Expression::compile(MAP_VALUES, &["key", "value"]).unwrap();
    assert!(filter.test(&[&key, &p]).unwrap());
    assert_eq!(map.eval(&[&key, &p]).unwrap(), native_map(&p));

    println!("expressions ({N} evaluations each)");
    bench("filter: CEL", N, || {
        black_box(filter.test(&[black_box(&key), black_box(&p)]).unwrap());
    });
    bench("filter: native closure", N, || {
        black_box(native_filter(black_box(&p)));
    });
    bench("map_values: CEL", N, || {
        black_box(map.eval(&[black_box(&key), black_box(&p)]).unwrap());
    });
    bench("map_values: native closure", N, || {
        black_box(native_map(black_box(&p)));
    });

    let yaml = format!(
        "application: bench\nstreams:\n  p:\n    from: in\n    steps:\n      - filter: '{}'\n      - map_values: '{}'\n      - to: out\n",
        FILTER.replace('\'', "''"),
        MAP_VALUES.replace('\'', "''")
    );
    let from_yaml = load_str(&yaml, "bench.yaml").unwrap().topology;
    let b = StreamsBuilder::new("bench");
    let (s, j) = (Format::String.serde(), Format::Json.serde());
    b.stream("in", Consumed::with(s.clone(), j.clone()))
        .filter(|_, v| native_filter(v))
        .map_values(|v| native_map(&v))
        .to("out", Produced::with(s, j));
    let from_rust = b.build().unwrap();
    let bytes = serde_json::to_vec(&p).unwrap();
    let n = N / 4;
    println!("topology `filter, map_values, to` through the test driver ({n} records each)");
    for (name, topology) in [("YAML + CEL", from_yaml), ("Rust DSL", from_rust)] {
        let mut d = TopologyTestDriver::new(topology).unwrap();
        let mut i = 0i64;
        bench(&format!("driver: {name}"), n, || {
            i += 1;
            d.pipe_raw("in", Some(b"p-123456"), Some(&bytes), i, Headers::new())
                .unwrap();
            if i % 1024 == 0 {
                black_box(d.read_raw("out"));
            }
        });
    }
}
