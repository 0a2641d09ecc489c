//! product-filter: drop every product whose id is in the forbidden-products table.
//!
//! `shop-products` (key: product id, value: JSON [`Product`]) → validate (an invalid product is
//! an error of its record: under [`config`] it goes to the dead-letter topic `shop-products-dlq`
//! with the reason in its `weir.error` header, as does a record that is not a product) → look
//! the product id up in the global table `forbidden-products` (key: product id, value: reason;
//! a tombstone allows the product again) → keep the unmatched → `products`.

use weir_engine::serde::SerdeRef;
use weir_engine::{
    Consumed, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

use crate::model::Product;

pub const INPUT: &str = "shop-products";
pub const FORBIDDEN: &str = "forbidden-products";
pub const OUTPUT: &str = "products";
/// The store holding the forbidden table.
pub const FORBIDDEN_STORE: &str = "forbidden-products";
/// Where invalid and unreadable products go.
pub const DEAD_LETTERS: &str = "shop-products-dlq";

/// The streams properties the topology runs with (a worker's own config wins): invalid and
/// unreadable products are dead letters.
pub fn config() -> Vec<(String, String)> {
    [
        ("default.deserialization.exception.handler", "dead_letter"),
        ("processing.exception.handler", "dead_letter"),
        ("dead.letter.topic", DEAD_LETTERS),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The product-filter topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    topology_with(application_id, Serdes::json())
}

/// The product-filter topology with `products` as the serde of the values of `shop-products`
/// and `products` (JSON in [`topology`], Schema Registry Avro in [`crate::avro`]).
pub fn topology_with(
    application_id: &str,
    products: SerdeRef<Product>,
) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let forbidden = b.global_table(
        FORBIDDEN,
        Consumed::with(Serdes::string(), Serdes::string()).named("forbidden-products-source"),
        Materialized::as_(FORBIDDEN_STORE),
    );
    // Keys may be absent (a producer that sends none): such products stay in the stream, as in
    // Kafka Streams, and are written without a key.
    let keys = Serdes::nullable(Serdes::string());
    b.stream(
        INPUT,
        Consumed::with(keys.clone(), products.clone()).named("shop-products-source"),
    )
    .try_filter(|_, p| p.validate().map(|()| true).map_err(Into::into))
    .named("valid-products")
    .left_join_global(
        &forbidden,
        |_, p| p.product_id.clone(),
        |p, reason| (p, reason),
    )
    .named("lookup-forbidden")
    .filter(|_, (_, reason)| reason.is_none())
    .named("drop-forbidden")
    .map_values(|(p, _)| p)
    .named("allowed-products")
    .to(
        OUTPUT,
        Produced::with(keys, products).named("products-sink"),
    );
    b.build()
}
