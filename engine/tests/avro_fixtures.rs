//! Byte-level compatibility with Kafka's own Avro serializers, on fixtures made by
//! confluent-kafka's Python `AvroSerializer`/`AvroDeserializer`
//! (`fixtures/avro/make_fixtures.py`, output committed beside it): their bytes decode in weir,
//! weir writes the very same bytes, and weir → confluent-kafka → weir is byte-identical. Also:
//! a poison Avro payload ends in the dead-letter topic with its bytes intact.
//!
//! `WEIR_WRITE_AVRO_FIXTURES=1` rewrites `weir_<name>.bin` (then run the Python script again).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value;
use serde_json::Value as Json;
use support::registry_server::RegistryServer;
use weir_engine::serde::registry::{
    ConfluentAvroSerde, GenericConfluentAvroSerde, RegistryConfig, SchemaRegistry,
    SchemaRegistryClient, wire,
};
use weir_engine::serde::{Serde, SerdeRef};
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{Consumed, KeyOrValue, Produced, Serdes, StreamsBuilder, StreamsConfig};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Product {
    product_id: String,
    name: String,
    shop_id: String,
    category: String,
    price: f64,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Search {
    user_id: String,
    query: String,
    product_id: String,
    category: String,
    ts: i64,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/avro")
}

fn schema_text(file: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match file {
        "product.avsc" | "search.avsc" => root.join("../topologies/schemas").join(file),
        other => dir().join(other),
    };
    std::fs::read_to_string(path).unwrap()
}

fn fixtures() -> serde_json::Map<String, Json> {
    let text = std::fs::read_to_string(dir().join("fixtures.json")).unwrap();
    let meta: Json = serde_json::from_str(&text).unwrap();
    meta["fixtures"].as_object().unwrap().clone()
}

/// A test registry holding the fixtures' schemas under the ids confluent-kafka gave them.
fn seeded() -> (RegistryServer, Arc<dyn SchemaRegistry>) {
    let server = RegistryServer::start();
    let mut all: Vec<(String, Json)> = fixtures().into_iter().collect();
    all.sort_by_key(|(_, f)| f["schema_id"].as_u64());
    for (_, f) in &all {
        server.seed(
            f["schema_id"].as_u64().unwrap() as u32,
            f["subject"].as_str().unwrap(),
            &schema_text(f["schema_file"].as_str().unwrap()),
        );
    }
    let client = SchemaRegistryClient::new(&RegistryConfig::with_url(&server.url)).unwrap();
    (server, Arc::new(client))
}

fn generic(reg: &Arc<dyn SchemaRegistry>, file: &str) -> GenericConfluentAvroSerde {
    GenericConfluentAvroSerde::new(
        reg.clone(),
        Schema::parse_str(&schema_text(file)).unwrap(),
        KeyOrValue::Value,
        &RegistryConfig::default(),
    )
}

fn typed<T>(reg: &Arc<dyn SchemaRegistry>, file: &str) -> ConfluentAvroSerde<T> {
    ConfluentAvroSerde::new(
        reg.clone(),
        Schema::parse_str(&schema_text(file)).unwrap(),
        KeyOrValue::Value,
        &RegistryConfig::default(),
    )
}

/// A decoded generic record as JSON, to compare with the fixture's record.
fn to_json(v: &Value) -> Json {
    let Value::Record(fields) = v else {
        panic!("not a record: {v:?}")
    };
    let mut m = serde_json::Map::new();
    for (k, v) in fields {
        let j = match v {
            Value::String(s) => Json::from(s.clone()),
            Value::Double(d) => Json::from(*d),
            Value::Int(i) => Json::from(*i),
            Value::Long(i) | Value::TimestampMillis(i) => Json::from(*i),
            other => panic!("unexpected {other:?}"),
        };
        m.insert(k.clone(), j);
    }
    Json::Object(m)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

#[test]
fn confluent_kafka_bytes_decode_in_weir() {
    let (_server, reg) = seeded();
    for (name, f) in fixtures() {
        let bytes = read(&format!("python_{name}.bin"));
        assert_eq!(hex(&bytes), f["hex"].as_str().unwrap(), "{name}");
        let id = f["schema_id"].as_u64().unwrap() as u32;
        assert_eq!(wire::unframe(&bytes).unwrap().0, id, "{name}");
        let s = generic(&reg, f["schema_file"].as_str().unwrap());
        let v = s.deserialize(f["topic"].as_str().unwrap(), &bytes).unwrap();
        assert_eq!(to_json(&v), f["record"], "{name}");
    }
    // Typed: the same bytes into serde types.
    let p: Product = typed(&reg, "product.avsc")
        .deserialize("shop-products", &read("python_product_v1.bin"))
        .unwrap();
    assert_eq!(p.name, "Teapot \u{e9}maill\u{e9}");
    let s: Search = typed(&reg, "search.avsc")
        .deserialize("client-searches", &read("python_search.bin"))
        .unwrap();
    assert_eq!(s.ts, 1_700_000_000_123);
    // Evolution across implementations: v2 bytes (stock added) read by a v1 topology.
    let old: Product = typed(&reg, "product.avsc")
        .deserialize("shop-products", &read("python_product_v2.bin"))
        .unwrap();
    assert_eq!(old.product_id, "p-43");
}

/// weir's encoding of each fixture record: the typed serde for v1 products and searches, the
/// generic one for v2.
fn weir_encode(reg: &Arc<dyn SchemaRegistry>, name: &str, f: &Json) -> Vec<u8> {
    let topic = f["topic"].as_str().unwrap();
    let record = f["record"].clone();
    match name {
        "product_v1" => typed::<Product>(reg, "product.avsc")
            .serialize(topic, &serde_json::from_value(record).unwrap())
            .unwrap(),
        "search" => typed::<Search>(reg, "search.avsc")
            .serialize(topic, &serde_json::from_value(record).unwrap())
            .unwrap(),
        _ => {
            let s = generic(reg, f["schema_file"].as_str().unwrap());
            let fields = s.schema().clone();
            let apache_avro::Schema::Record(rs) = fields else {
                panic!("not a record schema")
            };
            let v = Value::Record(
                rs.fields
                    .iter()
                    .map(|fd| {
                        let j = &record[&fd.name];
                        let v = match j {
                            Json::String(s) => Value::String(s.clone()),
                            Json::Number(n) if n.is_f64() => Value::Double(n.as_f64().unwrap()),
                            Json::Number(n) => Value::Int(n.as_i64().unwrap() as i32),
                            other => panic!("unexpected {other}"),
                        };
                        (fd.name.clone(), v)
                    })
                    .collect(),
            );
            s.serialize(topic, &v).unwrap()
        }
    }
}

#[test]
fn weir_writes_the_same_bytes_as_confluent_kafka() {
    let (_server, reg) = seeded();
    let write = std::env::var("WEIR_WRITE_AVRO_FIXTURES").is_ok_and(|v| v == "1");
    for (name, f) in fixtures() {
        let ours = weir_encode(&reg, &name, &f);
        assert_eq!(
            hex(&ours),
            f["hex"].as_str().unwrap(),
            "{name}: weir vs AvroSerializer"
        );
        let path = dir().join(format!("weir_{name}.bin"));
        if write {
            std::fs::write(&path, &ours).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            ours,
            "{name}: committed weir fixture"
        );
    }
}

#[test]
fn weir_to_confluent_kafka_to_weir_is_byte_identical() {
    let (_server, reg) = seeded();
    let report = std::fs::read_to_string(dir().join("verify_output.txt")).unwrap();
    for (name, f) in fixtures() {
        let weir = read(&format!("weir_{name}.bin"));
        let back = read(&format!("python_reencoded_weir_{name}.bin"));
        assert_eq!(
            back, weir,
            "{name}: AvroDeserializer → AvroSerializer changed the bytes"
        );
        let s = generic(&reg, f["schema_file"].as_str().unwrap());
        let topic = f["topic"].as_str().unwrap();
        let again = s
            .serialize(topic, &s.deserialize(topic, &back).unwrap())
            .unwrap();
        assert_eq!(again, weir, "{name}: weir re-encoding");
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap();
        assert!(
            line.ends_with(
                "record as expected: True; AvroSerializer re-encoding byte-identical: True"
            ),
            "{line}"
        );
    }
}

#[test]
fn a_poison_avro_payload_goes_to_the_dead_letter_topic_with_its_bytes() {
    let (_server, reg) = seeded();
    let serde: SerdeRef<Product> = Arc::new(typed::<Product>(&reg, "product.avsc"));
    let b = StreamsBuilder::new("shop-filter");
    b.stream(
        "shop-products",
        Consumed::with(Serdes::string(), serde.clone()),
    )
    .filter(|_, p: &Product| p.price >= 0.0)
    .to("products", Produced::with(Serdes::string(), serde));
    let config = DriverConfig {
        error_handling: Some(
            StreamsConfig::new("shop-filter")
                .with("default.deserialization.exception.handler", "dead_letter")
                .unwrap(),
        ),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    let good = read("python_product_v1.bin");
    let unknown_id = wire::frame(777, &good[5..]);
    let truncated = good[..good.len() - 3].to_vec();
    let poisons = [
        b"\x00\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff".to_vec(),
        unknown_id,
        truncated,
        b"{\"json\":1}".to_vec(),
    ];
    for poison in &poisons {
        d.pipe_raw(
            "shop-products",
            Some(b"p-42"),
            Some(poison),
            0,
            Default::default(),
        )
        .unwrap();
        d.pipe_raw(
            "shop-products",
            Some(b"p-42"),
            Some(&good),
            0,
            Default::default(),
        )
        .unwrap();
    }
    let dead = d.read_raw("shop-filter-dlq");
    assert_eq!(dead.len(), poisons.len());
    for (letter, poison) in dead.iter().zip(&poisons) {
        assert_eq!(
            letter.value.as_deref(),
            Some(&poison[..]),
            "original bytes kept"
        );
        assert_eq!(letter.key.as_deref(), Some(&b"p-42"[..]));
        let why = String::from_utf8_lossy(letter.headers.last("weir.error").unwrap()).into_owned();
        assert!(
            why.contains("cannot deserialize value from topic `shop-products`"),
            "{why}"
        );
    }
    let out = d.read_raw("products");
    assert_eq!(
        out.len(),
        poisons.len(),
        "every good record after a poison one still flows"
    );
    assert!(out.iter().all(|r| r.value.as_deref() == Some(&good[..])));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
