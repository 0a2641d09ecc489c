//! Start-up preparation of sink serdes (`Topology::prepare`, called first by
//! `KafkaStreams::start`): with `auto.register.schemas=false` a schema missing from the
//! registry stops the worker at start, naming the sink, topic and subject, before any broker is
//! contacted; once registered (or with auto-registration) start-up preparation passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use support::registry_server::RegistryServer;
use weir_engine::error::KeyOrValue;
use weir_engine::serde::registry::{self, SchemaRegistry};
use weir_engine::{
    AvroSerdes, Consumed, KafkaStreams, Produced, Serdes, StreamsBuilder, StreamsConfig,
};

const PRODUCT: &str = "../topologies/schemas/product.avsc";

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Product {
    product_id: String,
    name: String,
    shop_id: String,
    category: String,
    price: f64,
}

fn config(url: &str, auto_register: bool) -> StreamsConfig {
    let mut c = StreamsConfig::new("startup-test");
    // Nothing listens here: start-up must fail (or pass) before the broker is needed.
    c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
    c.set("schema.registry.url", url).unwrap();
    c.set("auto.register.schemas", &auto_register.to_string())
        .unwrap();
    c
}

fn topology(config: &StreamsConfig) -> weir_engine::Topology {
    let reg: Arc<dyn SchemaRegistry> = registry::open(
        &config.schema_registry,
        std::path::Path::new("/nonexistent"),
    )
    .unwrap();
    let value = |what| {
        Serdes::avro_registry::<Product>(reg.clone(), PRODUCT, what, &config.schema_registry)
            .unwrap()
    };
    let b = StreamsBuilder::new("startup-test");
    b.stream(
        "shop-products",
        Consumed::with(Serdes::string(), value(KeyOrValue::Value)),
    )
    .to(
        "products",
        Produced::with(Serdes::string(), value(KeyOrValue::Value)),
    );
    b.build().unwrap()
}

#[test]
fn a_missing_schema_without_auto_register_fails_the_start() {
    let server = RegistryServer::start();
    let c = config(&server.url, false);
    let t = topology(&c);
    assert_eq!(t.prepared_sink_topics(), vec!["products"]);
    let mut streams = KafkaStreams::new(t, c);
    let e = streams.start().unwrap_err().to_string();
    for part in [
        "KSTREAM-SINK",
        "`products`",
        "products-value",
        "auto.register.schemas",
    ] {
        assert!(e.contains(part), "{part} missing from: {e}");
    }
}

#[test]
fn a_registered_schema_or_auto_register_passes_start_up_preparation() {
    let server = RegistryServer::start();
    let schema = std::fs::read_to_string(PRODUCT).unwrap();
    let c = config(&server.url, false);
    let t = topology(&c);
    assert!(t.prepare(&c).is_err());
    server.seed(7, "products-value", &schema);
    assert_eq!(t.prepare(&c).unwrap(), 1);

    let other = RegistryServer::start();
    let c = config(&other.url, true);
    let t = topology(&c);
    assert_eq!(t.prepare(&c).unwrap(), 1);
    let client = registry::SchemaRegistryClient::new(&c.schema_registry).unwrap();
    assert!(client.latest("products-value").unwrap().is_some());
}

#[test]
fn an_unreachable_registry_is_a_start_up_error() {
    let c = config("http://127.0.0.1:1", true);
    let mut streams = KafkaStreams::new(topology(&c), c);
    let e = streams.start().unwrap_err().to_string();
    assert!(e.contains("`products`"), "{e}");
}
