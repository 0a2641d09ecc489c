//! product-filter over Avro in the Confluent Schema Registry wire format, for `weir demo` and
//! tests: [`AvroProducts`] holds the schema source and the [`Product`] serde (schema
//! `schemas/product.avsc`, embedded in the binary), builds the topology with it on
//! `shop-products` and `products`, and re-encodes generated `shop-products` records (JSON) as
//! Avro so generators and topology agree.
//!
//! Owns: nothing but that wiring; the serdes are the engine's (`serde::registry`).

use std::sync::Arc;

use apache_avro::Schema;
use weir_engine::error::KeyOrValue;
use weir_engine::serde::SerdeRef;
use weir_engine::serde::registry::{
    ConfluentAvroSerde, LocalSchemas, RegistryConfig, SchemaRegistry,
};
use weir_engine::{StreamsError, Topology};

use crate::generate::{Record, SHOP_PRODUCTS};
use crate::model::Product;
use crate::product_filter;

/// The text of `schemas/product.avsc` (record `marketplace.shop.Product`).
pub const PRODUCT_SCHEMA: &str = include_str!("../schemas/product.avsc");

/// The product schema.
pub fn product_schema() -> Result<Schema, StreamsError> {
    Schema::parse_str(PRODUCT_SCHEMA)
        .map_err(|e| StreamsError::SerdeSetup(format!("schemas/product.avsc: {e}")))
}

/// Products as Schema Registry Avro: the registry and the serde of [`Product`] values.
#[derive(Clone)]
pub struct AvroProducts {
    registry: Arc<dyn SchemaRegistry>,
    serde: SerdeRef<Product>,
}

impl std::fmt::Debug for AvroProducts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroProducts")
            .field("registry", &self.registry.describe())
            .finish()
    }
}

impl AvroProducts {
    /// With `registry` (see `weir_engine::serde::registry::open`), subjects and registration
    /// as `config` says.
    pub fn new(
        registry: Arc<dyn SchemaRegistry>,
        config: &RegistryConfig,
    ) -> Result<AvroProducts, StreamsError> {
        let serde: SerdeRef<Product> = Arc::new(ConfluentAvroSerde::<Product>::new(
            registry.clone(),
            product_schema()?,
            KeyOrValue::Value,
            config,
        ));
        Ok(AvroProducts { registry, serde })
    }

    /// With the embedded schema table holding the product schema (no registry needed; ids are
    /// schema fingerprints), default registry settings (auto-register).
    pub fn local() -> Result<AvroProducts, StreamsError> {
        let table = LocalSchemas::new();
        let schema = product_schema()?;
        table.register("marketplace.shop.Product", &schema)?;
        AvroProducts::new(Arc::new(table), &RegistryConfig::default())
    }

    /// The schema source.
    pub fn registry(&self) -> &Arc<dyn SchemaRegistry> {
        &self.registry
    }

    /// The serde of product values (Confluent wire format).
    pub fn serde(&self) -> SerdeRef<Product> {
        self.serde.clone()
    }

    /// product-filter with Avro values on `shop-products` and `products` (same nodes, names
    /// and dead letters as [`product_filter::topology`]; run it with
    /// [`product_filter::config`]).
    pub fn topology(&self, application_id: &str) -> Result<Topology, StreamsError> {
        product_filter::topology_with(application_id, self.serde())
    }

    /// `records` with the JSON products of `shop-products` re-encoded as Avro (other topics,
    /// tombstones and values that are not products pass unchanged; an invalid product — empty
    /// id, negative price — is still a valid Avro record, so the topology rejects it as it does
    /// in JSON).
    pub fn encode_records(
        &self,
        records: Box<dyn Iterator<Item = Record> + Send>,
    ) -> Box<dyn Iterator<Item = Record> + Send> {
        let serde = self.serde();
        Box::new(records.map(move |(topic, key, value)| {
            let value = match value {
                Some(v) if topic == SHOP_PRODUCTS => Some(
                    serde_json::from_slice::<Product>(&v)
                        .ok()
                        .and_then(|p| serde.serialize(topic, &p).ok())
                        .unwrap_or(v),
                ),
                other => other,
            };
            (topic, key, value)
        }))
    }

    /// A product read from `topic` (`products` output, for summaries and tests).
    pub fn decode(&self, topic: &str, bytes: &[u8]) -> Result<Product, StreamsError> {
        self.serde.deserialize(topic, bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::generate::{Dataset, GeneratorConfig};

    #[test]
    fn generated_products_are_confluent_avro_and_decode_back() {
        let avro = AvroProducts::local().unwrap();
        let json = Dataset::Shop.records(GeneratorConfig::default());
        let encoded = avro.encode_records(Dataset::Shop.records(GeneratorConfig::default()));
        let id = LocalSchemas::local_id(&product_schema().unwrap());
        for ((t, k, j), (t2, k2, a)) in json.zip(encoded).take(50) {
            assert_eq!((t, &k), (t2, &k2));
            let a = a.unwrap();
            assert_eq!(a[0], 0, "magic byte");
            assert_eq!(u32::from_be_bytes([a[1], a[2], a[3], a[4]]), id);
            let p: Product = serde_json::from_slice(&j.unwrap()).unwrap();
            assert_eq!(avro.decode(t, &a).unwrap(), p);
        }
        assert!(
            avro.topology("shop-filter")
                .unwrap()
                .describe()
                .contains("products-sink")
        );
    }
}
