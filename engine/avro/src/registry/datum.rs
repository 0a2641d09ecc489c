//! Resolved Avro datum readers and writers, built once per schema and kept.
//!
//! apache-avro's `GenericDatumReader`/`GenericDatumWriter` borrow their schemas and resolve
//! named types into a map when built; building one per record was a third of the registry
//! serde's decode time. [`DatumReader`] owns its writer schema (shared with the registry
//! client's id cache) and the reader schema next to the built reader (a self-referential cell,
//! `self_cell`), so [`DatumReaders`] keeps one per schema id for the life of the serde.
//!
//! When a writer schema is the reader schema (the same JSON form, doc and logical types
//! included: the common case of one schema version on a topic), the datum is decoded with it
//! alone and not resolved a second time: resolution against an identical schema changes
//! nothing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{AvroResult, Schema};
use self_cell::self_cell;

/// The schemas a reader borrows: the writer's, and the reader's when it differs.
struct ReaderSchemas {
    writer: Arc<Schema>,
    reader: Option<Arc<Schema>>,
}

type Reader<'a> = GenericDatumReader<'a>;

self_cell!(
    /// A datum reader for one writer schema, resolving to the serde's reader schema.
    pub(super) struct DatumReader {
        owner: ReaderSchemas,
        #[covariant]
        dependent: Reader,
    }
);

impl DatumReader {
    /// A reader of data written with `writer`, resolved against `reader`.
    pub(super) fn build(writer: Arc<Schema>, reader: &Arc<Schema>) -> AvroResult<DatumReader> {
        let reader = (!same_schema(&writer, reader)).then(|| reader.clone());
        DatumReader::try_new(ReaderSchemas { writer, reader }, |s| match &s.reader {
            Some(r) => GenericDatumReader::builder(&s.writer)
                .reader_schema(r)
                .build(),
            None => GenericDatumReader::builder(&s.writer).build(),
        })
    }

    /// Reads one datum from the front of `bytes`, advancing it past the datum.
    pub(super) fn read(&self, bytes: &mut &[u8]) -> AvroResult<Value> {
        self.borrow_dependent().read_value(bytes)
    }
}

/// Whether two schemas are the same in full (not only in Parsing Canonical Form, which drops
/// logical types and defaults).
fn same_schema(a: &Schema, b: &Schema) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// One [`DatumReader`] per writer schema id, built on first use.
#[derive(Default)]
pub(super) struct DatumReaders {
    by_id: RwLock<HashMap<u32, Arc<DatumReader>>>,
}

impl DatumReaders {
    /// The reader for schema `id`, building it with `writer` (called only on the first use of
    /// the id) against `reader`.
    pub(super) fn get<E: From<apache_avro::Error>>(
        &self,
        id: u32,
        writer: impl FnOnce() -> Result<Arc<Schema>, E>,
        reader: &Arc<Schema>,
    ) -> Result<Arc<DatumReader>, E> {
        if let Some(r) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(r);
        }
        let built = Arc::new(DatumReader::build(writer()?, reader)?);
        if let Ok(mut m) = self.by_id.write() {
            m.insert(id, built.clone());
        }
        Ok(built)
    }
}

type Writer<'a> = GenericDatumWriter<'a>;

self_cell!(
    /// A datum writer for the serde's schema.
    pub(super) struct DatumWriter {
        owner: Arc<Schema>,
        #[covariant]
        dependent: Writer,
    }
);

impl DatumWriter {
    /// A writer of `schema`.
    pub(super) fn build(schema: Arc<Schema>) -> AvroResult<DatumWriter> {
        DatumWriter::try_new(schema, |s| GenericDatumWriter::builder(s).build())
    }

    /// `value` (already resolved to the schema) as an Avro datum.
    pub(super) fn write(&self, value: Value) -> AvroResult<Vec<u8>> {
        self.borrow_dependent().write_value_to_vec(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"P","fields":[
        {"name":"id","type":"string"},{"name":"at","type":"long"}]}"#;
    const V1_TIMESTAMP: &str = r#"{"type":"record","name":"P","fields":[
        {"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;

    fn schema(s: &str) -> Arc<Schema> {
        Arc::new(Schema::parse_str(s).unwrap())
    }

    #[test]
    fn a_logical_type_is_not_the_same_schema() {
        assert!(same_schema(&schema(V1), &schema(V1)));
        assert!(!same_schema(&schema(V1), &schema(V1_TIMESTAMP)));
        // The reader's logical type is applied although the canonical forms are equal.
        let writer = DatumWriter::build(schema(V1)).unwrap();
        let datum = writer
            .write(Value::Record(vec![
                ("id".into(), Value::String("a".into())),
                ("at".into(), Value::Long(5)),
            ]))
            .unwrap();
        let reader = DatumReader::build(schema(V1), &schema(V1_TIMESTAMP)).unwrap();
        let Value::Record(fields) = reader.read(&mut &datum[..]).unwrap() else {
            panic!("not a record")
        };
        assert_eq!(fields[1].1, Value::TimestampMillis(5));
    }

    #[test]
    fn readers_are_built_once_per_id() {
        let readers = DatumReaders::default();
        let reader = schema(V1);
        let mut builds = 0;
        for _ in 0..3 {
            readers
                .get::<apache_avro::Error>(
                    9,
                    || {
                        builds += 1;
                        Ok(schema(V1))
                    },
                    &reader,
                )
                .unwrap();
        }
        assert_eq!(builds, 1);
    }
}
