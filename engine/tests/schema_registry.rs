//! The Schema Registry client and the Confluent Avro serdes against a registry test server
//! over a real socket (`support::registry_server`, checked first against the API reference's
//! recorded examples), and once against a real registry when `WEIR_TEST_SCHEMA_REGISTRY_URL` is
//! set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value;
use serde_json::Value as Json;
use support::registry_server::{RegistryServer, raw_request};
use weir_engine::StreamsError;
use weir_engine::error::{ErrorKind, KeyOrValue};
use weir_engine::serde::Serde;
use weir_engine::serde::registry::{
    ConfluentAvroSerde, GenericConfluentAvroSerde, RegistryConfig, SchemaRegistry,
    SchemaRegistryClient, wire,
};

const PRODUCT: &str = include_str!("../../topologies/schemas/product.avsc");
const PRODUCT_V2: &str = include_str!("fixtures/avro/product_v2.avsc");
const PRODUCT_NO_SHOP: &str = include_str!("fixtures/avro/product_no_shop.avsc");

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Product {
    product_id: String,
    name: String,
    shop_id: String,
    category: String,
    price: f64,
}

fn product() -> Product {
    Product {
        product_id: "p-1".into(),
        name: "Teapot".into(),
        shop_id: "s-1".into(),
        category: "kitchen".into(),
        price: 12.5,
    }
}

fn client(server: &RegistryServer) -> Arc<SchemaRegistryClient> {
    Arc::new(SchemaRegistryClient::new(&RegistryConfig::with_url(&server.url)).unwrap())
}

fn typed(
    registry: Arc<dyn SchemaRegistry>,
    schema: &str,
    config: &RegistryConfig,
) -> ConfluentAvroSerde<Product> {
    ConfluentAvroSerde::new(
        registry,
        Schema::parse_str(schema).unwrap(),
        KeyOrValue::Value,
        config,
    )
}

fn generic(registry: Arc<dyn SchemaRegistry>, schema: &str) -> GenericConfluentAvroSerde {
    GenericConfluentAvroSerde::new(
        registry,
        Schema::parse_str(schema).unwrap(),
        KeyOrValue::Value,
        &RegistryConfig::default(),
    )
}

#[test]
fn test_server_answers_the_api_references_recorded_examples() {
    let examples: Json =
        serde_json::from_str(include_str!("fixtures/registry/api_examples.json")).unwrap();
    let server = RegistryServer::start();
    for ex in examples["examples"].as_array().unwrap() {
        let req = &ex["request"];
        let (status, body) = raw_request(
            &server.url,
            req["method"].as_str().unwrap(),
            req["path"].as_str().unwrap(),
            req.get("body"),
        );
        let want = &ex["response"];
        assert_eq!(
            status,
            want["status"].as_u64().unwrap() as u16,
            "{}: {body}",
            ex["doc"]
        );
        if status == 200 {
            assert_eq!(body, want["body"], "{}", ex["doc"]);
        } else {
            assert_eq!(
                body["error_code"], want["body"]["error_code"],
                "{}: {body}",
                ex["doc"]
            );
            assert!(body["message"].is_string(), "{}", ex["doc"]);
        }
    }
}

#[test]
fn register_lookup_and_fetch_are_cached() {
    let server = RegistryServer::start();
    let c = client(&server);
    let schema = Schema::parse_str(PRODUCT).unwrap();
    assert_eq!(
        c.lookup("shop-products-value", &schema).unwrap(),
        None,
        "40401 → None"
    );
    let id = c.register("shop-products-value", &schema).unwrap();
    assert_eq!(c.lookup("shop-products-value", &schema).unwrap(), Some(id));
    let before = server.requests();
    assert_eq!(c.register("shop-products-value", &schema).unwrap(), id);
    assert_eq!(c.lookup("shop-products-value", &schema).unwrap(), Some(id));
    assert_eq!(
        c.schema_by_id(id).unwrap().as_ref(),
        &schema,
        "known from registering"
    );
    assert_eq!(
        server.requests(),
        before,
        "second calls make no HTTP request"
    );

    let other = client(&server);
    assert_eq!(other.schema_by_id(id).unwrap().as_ref(), &schema);
    let after_fetch = server.requests();
    assert_eq!(after_fetch, before + 1);
    other.schema_by_id(id).unwrap();
    assert_eq!(server.requests(), after_fetch, "id → schema is cached");

    let latest = c.latest("shop-products-value").unwrap().unwrap();
    assert_eq!((latest.id, latest.version), (id, 1));
    assert!(c.latest("nothing-value").unwrap().is_none());
    let log = server.log();
    assert!(log.contains(&format!("GET /schemas/ids/{id}")), "{log:?}");
    assert!(
        log.contains(&"POST /subjects/shop-products-value/versions".to_string()),
        "{log:?}"
    );
}

#[test]
fn compatibility_against_the_latest_version() {
    let server = RegistryServer::start();
    let c = client(&server);
    let v1 = Schema::parse_str(PRODUCT).unwrap();
    assert!(
        c.check_compatibility("p-value", &v1).unwrap().compatible,
        "no subject yet"
    );
    c.register("p-value", &v1).unwrap();
    for ok in [PRODUCT_V2, PRODUCT_NO_SHOP] {
        assert!(
            c.check_compatibility("p-value", &Schema::parse_str(ok).unwrap())
                .unwrap()
                .compatible
        );
    }
    let breaking = PRODUCT.replace(
        r#"{"name": "price", "type": "double"}"#,
        r#"{"name": "price", "type": "double"}, {"name": "stock", "type": "int"}"#,
    );
    let verdict = c
        .check_compatibility("p-value", &Schema::parse_str(&breaking).unwrap())
        .unwrap();
    assert!(
        !verdict.compatible && !verdict.messages.is_empty(),
        "{verdict:?}"
    );
    let e = c
        .register("p-value", &Schema::parse_str(&breaking).unwrap())
        .unwrap_err();
    assert!(
        matches!(
            e,
            StreamsError::SchemaRegistry {
                status: Some(409),
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn serde_writes_the_wire_format_and_reads_it_back() {
    let server = RegistryServer::start();
    let s = typed(client(&server), PRODUCT, &RegistryConfig::default());
    let id = s.schema_id("shop-products").unwrap();
    let bytes = s.serialize("shop-products", &product()).unwrap();
    assert_eq!(wire::unframe(&bytes).unwrap().0, id);
    assert_eq!(s.deserialize("shop-products", &bytes).unwrap(), product());
    // A reader with no cache fetches the writer schema by id, once.
    let reader = typed(client(&server), PRODUCT, &RegistryConfig::default());
    let n = server.requests();
    assert_eq!(
        reader.deserialize("shop-products", &bytes).unwrap(),
        product()
    );
    assert_eq!(
        reader.deserialize("shop-products", &bytes).unwrap(),
        product()
    );
    assert_eq!(server.requests(), n + 1);
}

#[test]
fn evolution_field_added_with_default_and_field_removed() {
    let server = RegistryServer::start();
    let c = client(&server);
    let v1 = typed(c.clone(), PRODUCT, &RegistryConfig::default());
    let old_bytes = v1.serialize("shop-products", &product()).unwrap();

    // The topology moved to v2 (stock added, default 0): old data reads with the default.
    let v2 = generic(c.clone(), PRODUCT_V2);
    let Value::Record(fields) = v2.deserialize("shop-products", &old_bytes).unwrap() else {
        panic!("not a record")
    };
    assert_eq!(
        fields.last().unwrap(),
        &("stock".to_string(), Value::Int(0))
    );
    // v2 producers write stock; the v1 topology still reads them (stock skipped).
    let mut with_stock = fields.clone();
    with_stock.last_mut().unwrap().1 = Value::Int(9);
    let new_bytes = v2
        .serialize("shop-products", &Value::Record(with_stock))
        .unwrap();
    assert_ne!(
        wire::unframe(&new_bytes).unwrap().0,
        wire::unframe(&old_bytes).unwrap().0
    );
    assert_eq!(
        v1.deserialize("shop-products", &new_bytes).unwrap(),
        product()
    );

    // A topology whose schema removed `shop_id` reads v1 data without it.
    let no_shop = generic(c, PRODUCT_NO_SHOP);
    let Value::Record(fields) = no_shop.deserialize("shop-products", &old_bytes).unwrap() else {
        panic!("not a record")
    };
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["product_id", "name", "category", "price"]);
}

#[test]
fn unknown_id_corrupt_payloads_and_registry_down_are_errors_not_panics() {
    let server = RegistryServer::start();
    let s = typed(client(&server), PRODUCT, &RegistryConfig::default());
    let good = s.serialize("t", &product()).unwrap();
    let unknown = wire::frame(999, &good[5..]);
    let e = s.deserialize("t", &unknown).unwrap_err();
    assert!(matches!(e, StreamsError::Deserialize { .. }), "{e:?}");
    assert!(
        e.to_string().contains("40403") || e.to_string().contains("not found"),
        "{e}"
    );
    for bad in [
        &b""[..],
        &b"\x01\x00\x00\x00\x01abc"[..],
        &good[..3],
        &good[..good.len() - 2],
    ] {
        let e = s.deserialize("t", bad).unwrap_err();
        assert!(matches!(e, StreamsError::Deserialize { .. }), "{e:?}");
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down: Arc<dyn SchemaRegistry> =
        Arc::new(SchemaRegistryClient::new(&RegistryConfig::with_url(&url)).unwrap());
    let e = down.schema_by_id(1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Retriable, "{e}");
    assert!(e.to_string().contains("unreachable"), "{e}");
    let reader = typed(down, PRODUCT, &RegistryConfig::default());
    let e = reader.deserialize("t", &good).unwrap_err();
    assert!(matches!(e, StreamsError::Deserialize { .. }), "{e:?}");
}

#[test]
fn second_url_is_tried_when_the_first_is_down() {
    let server = RegistryServer::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let c = SchemaRegistryClient::new(&RegistryConfig::with_url(&format!("{dead},{}", server.url)))
        .unwrap();
    c.register("s", &Schema::parse_str(PRODUCT).unwrap())
        .unwrap();
}

#[test]
fn basic_auth_is_sent_and_a_failure_is_clear() {
    let server = RegistryServer::start();
    server.require_basic_auth("weir:s3cret");
    let schema = Schema::parse_str(PRODUCT).unwrap();
    let e = client(&server).register("s", &schema).unwrap_err();
    assert!(
        matches!(
            e,
            StreamsError::SchemaRegistry {
                status: Some(401),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Fatal);
    assert!(e.to_string().contains("basic.auth.user.info"), "{e}");

    let mut wrong = RegistryConfig::with_url(&server.url);
    wrong.set("basic.auth.user.info", "weir:nope").unwrap();
    assert!(
        SchemaRegistryClient::new(&wrong)
            .unwrap()
            .register("s", &schema)
            .is_err()
    );

    let mut right = RegistryConfig::with_url(&server.url);
    right.set("basic.auth.user.info", "weir:s3cret").unwrap();
    let c = SchemaRegistryClient::new(&right).unwrap();
    let id = c.register("s", &schema).unwrap();
    assert_eq!(c.lookup("s", &schema).unwrap(), Some(id));
}

#[test]
fn without_auto_register_the_schema_must_exist_at_start_up() {
    let server = RegistryServer::start();
    let mut config = RegistryConfig::with_url(&server.url);
    config.set("auto.register.schemas", "false").unwrap();
    let s = typed(client(&server), PRODUCT, &config);
    let as_ref: weir_engine::SerdeRef<Product> = Arc::new(typed(client(&server), PRODUCT, &config));
    let e = as_ref.prepare("products").unwrap_err().to_string();
    assert!(
        e.contains("products-value"),
        "through the Serde trait too: {e}"
    );
    let e = s.schema_id("products").unwrap_err().to_string();
    assert!(
        e.contains("products-value") && e.contains("auto.register.schemas=false"),
        "{e}"
    );
    assert!(
        server.log().iter().all(|r| !r.ends_with("/versions")),
        "never registers"
    );

    server.seed(41, "products-value", PRODUCT);
    assert_eq!(s.schema_id("products").unwrap(), 41);
    let bytes = s.serialize("products", &product()).unwrap();
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 41]);
}

#[test]
fn record_name_strategy_uses_the_records_full_name() {
    let server = RegistryServer::start();
    let mut config = RegistryConfig::with_url(&server.url);
    config.set("value.subject.name.strategy", "record").unwrap();
    let s = typed(client(&server), PRODUCT, &config);
    s.schema_id("any-topic").unwrap();
    assert!(
        server
            .log()
            .contains(&"POST /subjects/marketplace.shop.Product/versions".to_string()),
        "{:?}",
        server.log()
    );
}

#[test]
fn tls_with_a_ca_file_or_insecure_and_a_clear_error_without() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry");
    let server = RegistryServer::start_tls(&dir.join("tls_cert.pem"), &dir.join("tls_key.pem"));
    assert!(server.url.starts_with("https://"));
    let schema = Schema::parse_str(PRODUCT).unwrap();

    let mut trusted = RegistryConfig::with_url(&server.url);
    trusted
        .set(
            "schema.registry.ssl.ca.location",
            dir.join("tls_cert.pem").to_str().unwrap(),
        )
        .unwrap();
    let c = SchemaRegistryClient::new(&trusted).unwrap();
    let id = c.register("s-value", &schema).unwrap();
    assert_eq!(c.lookup("s-value", &schema).unwrap(), Some(id));

    let untrusted = SchemaRegistryClient::new(&RegistryConfig::with_url(&server.url)).unwrap();
    let e = untrusted.latest("s-value").unwrap_err();
    assert!(
        matches!(e, StreamsError::SchemaRegistry { status: None, .. }),
        "{e:?}"
    );
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let mut insecure = RegistryConfig::with_url(&server.url);
    insecure
        .set("schema.registry.ssl.insecure", "true")
        .unwrap();
    let latest = SchemaRegistryClient::new(&insecure)
        .unwrap()
        .latest("s-value")
        .unwrap();
    assert_eq!(latest.unwrap().id, id);
}

/// Runs against a real Schema Registry when `WEIR_TEST_SCHEMA_REGISTRY_URL` is set (optionally
/// `WEIR_TEST_SCHEMA_REGISTRY_USER_INFO`): registers, looks up, writes and reads a product.
#[test]
#[ignore = "needs a real Confluent Schema Registry: set WEIR_TEST_SCHEMA_REGISTRY_URL (and \
            WEIR_TEST_SCHEMA_REGISTRY_USER_INFO); ./weir test runs it when the URL is set"]
fn real_registry_when_configured() {
    let url = std::env::var("WEIR_TEST_SCHEMA_REGISTRY_URL").unwrap_or_else(|_| {
        panic!("set WEIR_TEST_SCHEMA_REGISTRY_URL to a real Schema Registry to run this test")
    });
    let mut config = RegistryConfig::with_url(&url);
    if let Ok(info) = std::env::var("WEIR_TEST_SCHEMA_REGISTRY_USER_INFO") {
        config.set("basic.auth.user.info", &info).unwrap();
    }
    let c: Arc<dyn SchemaRegistry> = Arc::new(SchemaRegistryClient::new(&config).unwrap());
    let topic = format!("weir-test-{}", std::process::id());
    let s = typed(c.clone(), PRODUCT, &config);
    let id = s.schema_id(&topic).unwrap();
    let schema = Schema::parse_str(PRODUCT).unwrap();
    assert_eq!(
        c.lookup(&format!("{topic}-value"), &schema).unwrap(),
        Some(id)
    );
    assert!(
        c.check_compatibility(
            &format!("{topic}-value"),
            &Schema::parse_str(PRODUCT_V2).unwrap()
        )
        .unwrap()
        .compatible
    );
    let bytes = s.serialize(&topic, &product()).unwrap();
    let fresh = typed(
        Arc::new(SchemaRegistryClient::new(&config).unwrap()),
        PRODUCT,
        &config,
    );
    assert_eq!(fresh.deserialize(&topic, &bytes).unwrap(), product());
}
