//! Avro binary encoding (a single datum, no container, no Schema Registry framing) with the
//! schema read from a `.avsc` file; serde types map onto the schema through apache-avro.
//!
//! The Confluent wire format (magic byte, schema id) and the registry client come later and wrap
//! this datum encoding.

use std::marker::PhantomData;
use std::path::Path;

use apache_avro::Schema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use weir_core::error::{KeyOrValue, StreamsError};
use weir_core::serde::Serde;

/// Avro datum encoding of `T` against one schema (used as both writer and reader schema).
pub struct AvroSerde<T> {
    schema: Schema,
    _t: PhantomData<fn() -> T>,
}

impl<T> AvroSerde<T> {
    /// Parses the schema in `path` (JSON `.avsc`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, StreamsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            StreamsError::SerdeSetup(format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_schema_str(&text)
            .map_err(|e| StreamsError::SerdeSetup(format!("{}: {e}", path.display())))
    }

    /// Parses a schema given as JSON text.
    pub fn from_schema_str(text: &str) -> Result<Self, StreamsError> {
        let schema = Schema::parse_str(text)
            .map_err(|e| StreamsError::SerdeSetup(format!("invalid Avro schema: {e}")))?;
        Ok(AvroSerde {
            schema,
            _t: PhantomData,
        })
    }

    /// The schema values are written with and read against.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

// `to_avro_datum`/`from_avro_datum` are deprecated in apache-avro 0.22 in favour of the
// `GenericDatum{Writer,Reader}` builders, which borrow the schema; the Schema Registry serde
// (issue 6) keeps resolved writers per schema id and moves to them.
#[allow(deprecated)]
impl<T> Serde<T> for AvroSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>, StreamsError> {
        let err = |e: apache_avro::Error| StreamsError::Serialize {
            topic: topic.into(),
            what: KeyOrValue::Value,
            source: e.into(),
        };
        let v = apache_avro::to_value(value).map_err(err)?;
        let v = v.resolve(&self.schema).map_err(err)?;
        apache_avro::to_avro_datum(&self.schema, v).map_err(err)
    }

    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, StreamsError> {
        let err = |e: apache_avro::Error| StreamsError::Deserialize {
            topic: topic.into(),
            what: KeyOrValue::Value,
            source: e.into(),
        };
        let mut reader = bytes;
        let v = apache_avro::from_avro_datum(&self.schema, &mut reader, None).map_err(err)?;
        if !reader.is_empty() {
            return Err(StreamsError::Deserialize {
                topic: topic.into(),
                what: KeyOrValue::Value,
                source: format!("{} trailing bytes after the Avro datum", reader.len()).into(),
            });
        }
        apache_avro::from_value(&v).map_err(err)
    }

    fn name(&self) -> &'static str {
        "avro"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"record","name":"Product","fields":[
        {"name":"product_id","type":"string"},{"name":"price","type":"double"}]}"#;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Product {
        product_id: String,
        price: f64,
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let s = AvroSerde::<Product>::from_schema_str(SCHEMA).unwrap();
        let p = Product {
            product_id: "p1".into(),
            price: 2.5,
        };
        let b = s.serialize("t", &p).unwrap();
        assert_eq!(s.deserialize("t", &b).unwrap(), p);
        assert!(s.deserialize("t", &[0xff, 0xff, 0xff]).is_err());
        assert!(s.deserialize("t", &[]).is_err());
    }

    #[test]
    fn bad_schema_file_is_a_setup_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.avsc");
        std::fs::write(&f, "{not json").unwrap();
        let err = AvroSerde::<Product>::from_file(&f).err().unwrap();
        assert!(err.to_string().contains("bad.avsc"), "{err}");
    }
}
