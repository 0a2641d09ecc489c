//! Definition files with the `{avro: FILE, registry: true}` format: Confluent wire-format Avro
//! read and written through the test driver with the embedded schema table (no registry
//! configured), a poison payload sent to the dead-letter topic with its bytes intact, loading
//! without network, errors at the format's position, and a worker binding the file's formats to
//! its own registry at start (`Topology::prepare`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use apache_avro::Schema;
use serde_json::json;
use support::registry_server::RegistryServer;
use weir_engine::StreamsConfig;
use weir_engine::definition::{self, Format};
use weir_engine::serde::registry::{LocalSchemas, wire};
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};

const PRODUCT: &str = include_str!("../../topologies/schemas/product.avsc");

fn definition(dir: &std::path::Path, config: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("product.avsc"), PRODUCT).unwrap();
    let path = dir.join("filter.yaml");
    std::fs::write(
        &path,
        format!(
            "application: shop-filter
config:
  default.deserialization.exception.handler: dead_letter
  dead.letter.topic: shop-products-dlq
{config}
streams:
  products:
    from: shop-products
    key: string
    value: {{avro: product.avsc, registry: true}}
    steps:
      - filter: value.price >= 10.0
      - to: products
        value: {{avro: product.avsc, registry: true}}
"
        ),
    )
    .unwrap();
    path
}

fn product(id: &str, price: f64) -> serde_json::Value {
    json!({"product_id": id, "name": "Teapot", "shop_id": "s-1", "category": "kitchen", "price": price})
}

#[test]
fn registry_avro_flows_through_the_driver_with_the_embedded_table() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = definition::load(definition(dir.path(), "")).unwrap();
    let (_, value) = &loaded.formats["shop-products"];
    assert!(matches!(value, Format::RegistryAvro(_)), "{value:?}");
    assert_eq!(value.name(), "avro-registry");
    let id = LocalSchemas::local_id(&Schema::parse_str(PRODUCT).unwrap());
    let encode = |v: &serde_json::Value| value.encode("shop-products", v).unwrap();
    let cheap = encode(&product("p-1", 2.0));
    let dear = encode(&product("p-2", 12.5));
    assert_eq!(
        &dear[..5],
        &wire::frame(id, &[])[..],
        "wire header, local id"
    );
    let poison = b"\x00\x00\x00\x00\x01\xff\xff".to_vec();

    let config = DriverConfig {
        error_handling: Some(loaded.streams_config().unwrap()),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(loaded.topology, config).unwrap();
    for v in [&cheap, &poison, &dear] {
        d.pipe_raw("shop-products", Some(b"k"), Some(v), 0, Default::default())
            .unwrap();
    }
    let out = d.read_raw("products");
    assert_eq!(out.len(), 1);
    let bytes = out[0].value.as_deref().unwrap();
    assert_eq!(&bytes[..5], &wire::frame(id, &[])[..]);
    let (_, sink_value) = &loaded.formats["products"];
    assert_eq!(
        sink_value.decode("products", bytes).unwrap(),
        product("p-2", 12.5)
    );
    let dead = d.read_raw("shop-products-dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value.as_deref(), Some(&poison[..]), "bytes intact");
}

#[test]
fn loading_needs_no_registry_and_a_worker_binds_its_own_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: loading must not connect.
    let path = definition(
        dir.path(),
        "  schema.registry.url: http://127.0.0.1:1\n  auto.register.schemas: \"false\"",
    );
    let loaded = definition::load(&path).unwrap();
    let server = RegistryServer::start();
    let mut worker = StreamsConfig::new("shop-filter");
    worker.set("schema.registry.url", &server.url).unwrap();
    worker.set("auto.register.schemas", "false").unwrap();
    let e = loaded.topology.prepare(&worker).unwrap_err().to_string();
    assert!(
        e.contains("products-value") && e.contains(&server.url),
        "the worker's registry, not the file's: {e}"
    );
    server.seed(3, "products-value", PRODUCT);
    assert_eq!(loaded.topology.prepare(&worker).unwrap(), 1);
    let (_, value) = &loaded.formats["products"];
    let bytes = value.encode("products", &product("p", 1.0)).unwrap();
    assert_eq!(&bytes[..5], &wire::frame(3, &[])[..], "the registry's id");
}

#[test]
fn format_mistakes_are_reported_at_their_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("product.avsc"), PRODUCT).unwrap();
    for (value, expected) in [
        ("{avro: product.avsc, registry: 3}", "registry"),
        ("{avro: product.avsc, regisrty: true}", "regisrty"),
        ("{avro: missing.avsc, registry: true}", "missing.avsc"),
    ] {
        let text = format!(
            "application: a\nstreams:\n  s:\n    from: t\n    value: {value}\n    steps:\n      - to: u\n"
        );
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, text).unwrap();
        let e = definition::load(&file).unwrap_err().to_string();
        assert!(e.contains("bad.yaml:5:"), "{e}");
        assert!(e.contains(expected), "{e}");
    }
}

#[test]
fn registry_serdes_have_a_json_view_that_registers_nothing() {
    use std::sync::Arc;
    use weir_engine::error::KeyOrValue;
    use weir_engine::serde::Serde;
    use weir_engine::serde::registry::{GenericConfluentAvroSerde, RegistryConfig};
    let table = Arc::new(LocalSchemas::new());
    let s = GenericConfluentAvroSerde::new(
        table.clone(),
        Schema::parse_str(PRODUCT).unwrap(),
        KeyOrValue::Value,
        &RegistryConfig::default(),
    );
    let text = product("p-1", 3.5).to_string();
    assert!(s.text_to_bytes(&text).unwrap().is_err(), "no id known yet");
    let dir = tempfile::tempdir().unwrap();
    let loaded = definition::load(definition(dir.path(), "")).unwrap();
    let (_, f) = &loaded.formats["products"];
    let bytes = f.encode("products", &product("p-1", 3.5)).unwrap();
    let view = f.serde();
    assert_eq!(
        view.bytes_to_json(&bytes).unwrap().unwrap(),
        product("p-1", 3.5)
    );
    assert_eq!(view.text_to_bytes(&text).unwrap().unwrap(), bytes);
    use weir_engine::serde::registry::SchemaRegistry;
    assert!(table.latest("-value").unwrap().is_none());
}
