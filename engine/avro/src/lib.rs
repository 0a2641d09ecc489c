//! weir's Avro: the datum serde with a schema file ([`AvroSerde`]), the Confluent Schema
//! Registry wire format, client and embedded schema table ([`registry`]), and Avro values as
//! JSON and back ([`json`]) for definition files and the state endpoint.
//!
//! [`AvroSerdes`] adds `Serdes::avro` and `Serdes::avro_registry` to the core's `Serdes`.

mod file;
pub mod json;
pub mod registry;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use weir_core::config::RegistryConfig;
use weir_core::error::{KeyOrValue, StreamsError};
use weir_core::serde::{SerdeRef, Serdes};

pub use file::AvroSerde;

/// The Avro constructors of [`Serdes`] (bring this trait into scope to call `Serdes::avro`).
pub trait AvroSerdes {
    /// Avro datum encoding with the schema in the `.avsc` file at `path`.
    fn avro<T: Serialize + DeserializeOwned + 'static>(
        path: impl AsRef<std::path::Path>,
    ) -> Result<SerdeRef<T>, StreamsError>;

    /// Avro in the Confluent Schema Registry wire format for the `what` half of records, with
    /// the schema in the `.avsc` file at `path` as reader and writer schema; ids come from
    /// `registry` (see [`registry::open`]) as `config` says (subject strategy, auto-register).
    fn avro_registry<T: Serialize + DeserializeOwned + 'static>(
        registry: Arc<dyn registry::SchemaRegistry>,
        path: impl AsRef<std::path::Path>,
        what: KeyOrValue,
        config: &RegistryConfig,
    ) -> Result<SerdeRef<T>, StreamsError>;
}

impl AvroSerdes for Serdes {
    fn avro<T: Serialize + DeserializeOwned + 'static>(
        path: impl AsRef<std::path::Path>,
    ) -> Result<SerdeRef<T>, StreamsError> {
        Ok(Arc::new(AvroSerde::<T>::from_file(path)?))
    }

    fn avro_registry<T: Serialize + DeserializeOwned + 'static>(
        registry: Arc<dyn registry::SchemaRegistry>,
        path: impl AsRef<std::path::Path>,
        what: KeyOrValue,
        config: &RegistryConfig,
    ) -> Result<SerdeRef<T>, StreamsError> {
        let schema = AvroSerde::<T>::from_file(path)?.schema().clone();
        Ok(Arc::new(registry::ConfluentAvroSerde::<T>::new(
            registry, schema, what, config,
        )))
    }
}
