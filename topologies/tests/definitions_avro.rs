//! product-filter over Schema Registry Avro: the YAML variant
//! (`definitions/product-filter-avro.yaml`) and the Rust one (`weir_topologies::avro`) describe
//! the same topology as product-filter and reproduce its golden outputs with the embedded
//! schema table — inputs encoded as Confluent Avro by the test, outputs (and dead letters, whose
//! bytes are the Avro input) decoded back to JSON and compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use weir_engine::definition::{self, Format as DefFormat, Loaded};
use weir_topologies::avro::AvroProducts;
use weir_topologies::golden::{Format, Formats, run_case};
use weir_topologies::product_filter;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load() -> Loaded {
    definition::load(root().join("definitions/product-filter-avro.yaml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The golden runner's formats: the file's own for its Avro topics, dead letters read as
/// `shop-products` values.
fn formats(loaded: &Loaded) -> Formats {
    let (_, product) = loaded.formats["shop-products"].clone();
    assert!(matches!(product, DefFormat::RegistryAvro(_)), "{product:?}");
    let (_, out) = loaded.formats["products"].clone();
    assert!(matches!(out, DefFormat::RegistryAvro(_)), "{out:?}");
    [
        ("forbidden-products", Format::String, Format::String),
        (
            "shop-products",
            Format::String,
            Format::Definition(product.clone()),
        ),
        ("products", Format::String, Format::Definition(out)),
        (
            "shop-products-dlq",
            Format::String,
            Format::Definition(product),
        ),
    ]
    .into_iter()
    .map(|(t, k, v)| (t.to_owned(), (k, v)))
    .collect()
}

fn assert_golden(
    topology: weir_engine::Topology,
    formats: &Formats,
    handlers: weir_engine::StreamsConfig,
) {
    let results = run_case(
        topology,
        &root().join("golden/product-filter"),
        formats,
        &["forbidden-products", "shop-products"],
        Some(handlers),
    )
    .unwrap();
    assert_eq!(results.len(), 2, "{:?}", results.keys());
    for (topic, (expected, actual)) in results {
        assert!(!expected.is_empty());
        assert_eq!(
            actual, expected,
            "topic `{topic}` differs from product-filter's golden file"
        );
    }
}

#[test]
fn yaml_avro_variant_describes_product_filter() {
    let loaded = load();
    let json = product_filter::topology(&loaded.application).unwrap();
    assert_eq!(loaded.topology.describe(), json.describe());
    let rust = AvroProducts::local()
        .unwrap()
        .topology(&loaded.application)
        .unwrap();
    assert_eq!(loaded.topology.describe(), rust.describe());
}

#[test]
fn yaml_avro_variant_reproduces_the_golden_outputs() {
    let loaded = load();
    let f = formats(&loaded);
    let handlers = loaded.streams_config().unwrap();
    assert_golden(loaded.topology, &f, handlers);
}

#[test]
fn rust_avro_variant_reads_and_writes_the_same_bytes() {
    // The YAML's formats encode the inputs and decode the outputs: both sides use the embedded
    // table, whose ids are schema fingerprints, so the bytes are interchangeable.
    let loaded = load();
    let f = formats(&loaded);
    let handlers = loaded.streams_config().unwrap();
    let rust = AvroProducts::local()
        .unwrap()
        .topology("shop-filter-avro")
        .unwrap();
    assert_golden(rust, &f, handlers);
}
