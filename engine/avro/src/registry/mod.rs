//! Avro with a Confluent Schema Registry: the wire format (`wire`), the registry client
//! (`client`), the embedded schema table used when no registry is configured (`local`), and
//! the serdes that put them together (`avro`).
//!
//! Owns: the [`SchemaRegistry`] interface both the HTTP client and the embedded table
//! implement, and [`open`], which picks one from a [`RegistryConfig`]. Does not own: the
//! configuration properties (`config::RegistryConfig`) or the plain datum serde
//! (`serde::AvroSerde`).
//!
//! # Why a small client of our own
//!
//! `schema_registry_converter` 6 (the maintained Rust crate) does use apache-avro 0.22, but
//! it brings reqwest 0.13 with its async stack and aws-lc-rs for TLS, decodes with the writer
//! schema only (no resolution against a reader schema), and has no schema lookup without
//! registering (`POST /subjects/{subject}`), which `auto.register.schemas=false` needs. The REST
//! subset weir uses is four requests, so [`SchemaRegistryClient`] speaks it directly over
//! `ureq` (blocking, rustls): `POST /subjects/{s}/versions`, `POST /subjects/{s}`,
//! `GET /schemas/ids/{id}`, `GET /subjects/{s}/versions/latest` and
//! `POST /compatibility/subjects/{s}/versions/latest`.
//!
//! Invariants: schemas are immutable once registered, so id → schema and (subject, schema) → id
//! are cached forever; nothing here panics on any payload or any registry answer.

mod avro;
mod client;
mod datum;
mod local;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

use apache_avro::Schema;

pub use avro::{ConfluentAvroSerde, GenericConfluentAvroSerde};
pub use client::SchemaRegistryClient;
pub use local::LocalSchemas;

pub use weir_core::config::{RegistryConfig, SubjectNameStrategy};
use weir_core::error::{KeyOrValue, StreamsError};

/// A schema registered under a subject.
#[derive(Debug, Clone)]
pub struct RegisteredSchema {
    pub subject: String,
    /// The registry's global id (what the wire format carries).
    pub id: u32,
    /// The version under `subject`.
    pub version: u32,
    pub schema: Arc<Schema>,
}

/// The answer to a compatibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    pub compatible: bool,
    /// Why not (the registry's verbose messages), or a note such as "no version registered".
    pub messages: Vec<String>,
}

/// Where schemas and their ids come from: a Schema Registry over HTTP
/// ([`SchemaRegistryClient`]) or the embedded table ([`LocalSchemas`]).
pub trait SchemaRegistry: Send + Sync + 'static {
    /// The schema with global id `id` (cached: ids never change meaning).
    fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, StreamsError>;
    /// Registers `schema` under `subject` (or finds it registered) and returns its id.
    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, StreamsError>;
    /// The id of `schema` if it is registered under `subject`, without registering it.
    fn lookup(&self, subject: &str, schema: &Schema) -> Result<Option<u32>, StreamsError>;
    /// The latest version under `subject`, if any.
    fn latest(&self, subject: &str) -> Result<Option<RegisteredSchema>, StreamsError>;
    /// Whether `schema` may be registered next under `subject` (the subject's compatibility
    /// level, against its latest version). A subject with no version is compatible.
    fn check_compatibility(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<Compatibility, StreamsError>;
    /// A short description for logs ("http://registry:8081", "embedded").
    fn describe(&self) -> String;
}

/// The subject `schema` is registered under when written to `topic` as a `what`.
pub fn subject_name(
    strategy: SubjectNameStrategy,
    topic: &str,
    what: KeyOrValue,
    schema: &Schema,
) -> Result<String, StreamsError> {
    match strategy {
        SubjectNameStrategy::TopicName => Ok(format!("{topic}-{what}")),
        SubjectNameStrategy::RecordName => {
            schema.name().map(|n| n.fullname(None)).ok_or_else(|| {
                StreamsError::SerdeSetup(
                    "RecordNameStrategy needs a named schema (record, enum or fixed)".into(),
                )
            })
        }
    }
}

/// The schema source `config` asks for: the registry at `schema.registry.url`, or, when none is
/// configured, the embedded table loaded from the `.avsc` files in `schema_dir` (see
/// [`LocalSchemas`] for how their ids are chosen).
pub fn open(
    config: &RegistryConfig,
    schema_dir: &Path,
) -> Result<Arc<dyn SchemaRegistry>, StreamsError> {
    if config.is_remote() {
        Ok(Arc::new(SchemaRegistryClient::new(config)?))
    } else {
        Ok(Arc::new(LocalSchemas::from_dir(schema_dir)?))
    }
}

/// The JSON text weir sends for `schema` (full JSON: doc and logical types kept, unlike the
/// Parsing Canonical Form).
pub fn schema_json(schema: &Schema) -> Result<String, StreamsError> {
    serde_json::to_string(schema)
        .map_err(|e| StreamsError::SerdeSetup(format!("cannot write Avro schema as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_names_follow_the_strategy() {
        let s = Schema::parse_str(
            r#"{"type":"record","name":"Product","namespace":"marketplace.shop","fields":[]}"#,
        )
        .unwrap();
        let topic = SubjectNameStrategy::TopicName;
        let record = SubjectNameStrategy::RecordName;
        assert_eq!(
            subject_name(topic, "products", KeyOrValue::Value, &s).unwrap(),
            "products-value"
        );
        assert_eq!(
            subject_name(topic, "products", KeyOrValue::Key, &s).unwrap(),
            "products-key"
        );
        assert_eq!(
            subject_name(record, "products", KeyOrValue::Value, &s).unwrap(),
            "marketplace.shop.Product"
        );
        let string = Schema::parse_str(r#""string""#).unwrap();
        assert!(subject_name(record, "t", KeyOrValue::Key, &string).is_err());
    }
}
