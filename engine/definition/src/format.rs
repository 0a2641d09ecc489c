//! [`Format`]: how the keys or values of a topic or store are encoded, for the dynamic records
//! (`serde_json::Value`) a definition works on. Each format is a [`Serde`] of `Value`:
//!
//! | format | bytes | value |
//! |---|---|---|
//! | `string` | UTF-8 text | a JSON string |
//! | `json` | JSON text | any JSON value |
//! | `i64` | 8 bytes big-endian (Kafka's `LongSerializer`) | an integer |
//! | `{avro: schema.avsc}` | an Avro datum of the schema | the datum as JSON (records → objects, unions → their branch, enums → strings, bytes → arrays of numbers) |
//! | `{avro: schema.avsc, registry: true}` | Confluent wire format: magic byte 0, 4-byte schema id, datum (see `registry_format`) | as `{avro: ...}`; read data is resolved against the file's schema |
//! | windowed (keys of windowed aggregations; not written in a file) | the grouping key in its format, then the window as Kafka Streams writes it: the start (8 bytes big-endian), or for sessions the end then the start | `{"key": KEY, "start": MS, "end": MS}` |
//!
//! Writing a value the format cannot hold is a serialization error; writing a failed value
//! (see `failure`) is the expression's [`StreamsError::Process`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use apache_avro::Schema;
use serde_json::Value;
use weir_avro::json::{avro_to_json, json_to_avro};

use super::failure;
use super::passthrough;
use super::registry_format::RegistryAvroFormat;
use weir_core::error::{KeyOrValue, StreamsError};
use weir_core::serde::{Serde, SerdeRef};
use weir_core::window::{Window, Windowed, WindowedFormat, WindowedSerde};

/// The encoding of a topic's keys or values.
#[derive(Clone)]
#[non_exhaustive]
pub enum Format {
    String,
    Json,
    I64,
    /// Avro datums of one schema (no Schema Registry framing).
    Avro(AvroFormat),
    /// Avro in the Confluent Schema Registry wire format.
    RegistryAvro(RegistryAvroFormat),
    /// The keys of a windowed aggregation (see [`WindowedKey`]).
    Windowed(WindowedKey),
}

/// The format of windowed keys: the grouping key in its own format and the window, in Kafka
/// Streams' layout for the kind of window. As JSON (expressions, tools) a windowed key is
/// `{"key": KEY, "start": MS, "end": MS}`.
#[derive(Clone, PartialEq)]
pub struct WindowedKey {
    /// The format of the grouping key.
    pub inner: Box<Format>,
    pub window: WindowedFormat,
}

impl WindowedKey {
    /// The serde of the DSL's windowed keys.
    pub fn serde(&self) -> SerdeRef<Windowed<Value>> {
        WindowedSerde::of(self.inner.serde(), self.window)
    }

    /// A windowed key as expressions see it.
    pub fn to_json(key: &Windowed<Value>) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("key".into(), key.key.clone());
        m.insert("start".into(), Value::from(key.window.start));
        m.insert("end".into(), Value::from(key.window.end));
        Value::Object(m)
    }

    /// The windowed key a JSON `{"key", "start", "end"}` stands for.
    fn from_json(value: &Value) -> Result<Windowed<Value>, String> {
        let field = |name: &str| {
            value.get(name).and_then(Value::as_i64).ok_or_else(|| {
                format!(
                    "a windowed key is {{\"key\": .., \"start\": MS, \"end\": MS}}, got {value}"
                )
            })
        };
        Ok(Windowed {
            key: value.get("key").cloned().unwrap_or(Value::Null),
            window: Window {
                start: field("start")?,
                end: field("end")?,
            },
        })
    }
}

/// An Avro schema read from a file.
#[derive(Clone)]
pub struct AvroFormat {
    pub path: PathBuf,
    schema: Arc<Schema>,
}

impl AvroFormat {
    /// Reads and parses the `.avsc` file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read Avro schema {}: {e}", path.display()))?;
        let schema = Schema::parse_str(&text)
            .map_err(|e| format!("invalid Avro schema {}: {e}", path.display()))?;
        Ok(AvroFormat {
            path: path.to_owned(),
            schema: Arc::new(schema),
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn schema_arc(&self) -> Arc<Schema> {
        self.schema.clone()
    }
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Avro(a) => write!(f, "Avro({})", a.path.display()),
            Format::RegistryAvro(a) => write!(f, "RegistryAvro({})", a.path.display()),
            Format::Windowed(w) => write!(f, "Windowed({:?}, {:?})", w.inner, w.window),
            other => f.write_str(other.name()),
        }
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Format::Avro(a), Format::Avro(b)) => a.path == b.path,
            (Format::RegistryAvro(a), Format::RegistryAvro(b)) => {
                a.path == b.path && a.what() == b.what()
            }
            (Format::Windowed(a), Format::Windowed(b)) => a == b,
            _ => self.name() == other.name(),
        }
    }
}

impl Format {
    /// The names a definition file uses (`avro` needs a schema: `{avro: FILE}`).
    pub const NAMES: [&'static str; 4] = ["string", "json", "i64", "avro"];

    pub fn name(&self) -> &'static str {
        match self {
            Format::String => "string",
            Format::Json => "json",
            Format::I64 => "i64",
            Format::Avro(_) => "avro",
            Format::RegistryAvro(_) => "avro-registry",
            Format::Windowed(_) => "windowed",
        }
    }

    /// The format of a value computed by an expression from one of this format: Avro values
    /// become JSON (a computed value need not match the schema), a key computed from a windowed
    /// key takes the format of the grouping key, others keep their format.
    pub(crate) fn computed(&self) -> Format {
        match self {
            Format::Avro(_) | Format::RegistryAvro(_) => Format::Json,
            Format::Windowed(w) => w.inner.computed(),
            other => other.clone(),
        }
    }

    /// The format as a serde of JSON values.
    pub fn serde(&self) -> SerdeRef<Value> {
        Arc::new(ValueSerde(self.clone()))
    }

    /// Encodes `value` as a record of `topic` would be.
    pub fn encode(&self, topic: &str, value: &Value) -> Result<Vec<u8>, StreamsError> {
        if let Some(e) = failure::as_error(value) {
            return Err(e);
        }
        let err = |m: String| StreamsError::Serialize {
            topic: topic.to_owned(),
            what: KeyOrValue::Value,
            source: m.into(),
        };
        match self {
            Format::String => match value {
                Value::String(s) => Ok(s.as_bytes().to_vec()),
                other => Err(err(format!(
                    "format string needs a string, got {other}; convert it with string(...)"
                ))),
            },
            Format::Json => serde_json::to_vec(value).map_err(|e| err(e.to_string())),
            Format::I64 => value
                .as_i64()
                .map(|n| n.to_be_bytes().to_vec())
                .ok_or_else(|| err(format!("format i64 needs an integer, got {value}"))),
            Format::Avro(a) => {
                let datum = json_to_avro(value)
                    .resolve(&a.schema)
                    .map_err(|e| err(format!("does not match {}: {e}", a.path.display())))?;
                #[allow(deprecated)]
                apache_avro::to_avro_datum(&a.schema, datum).map_err(|e| err(e.to_string()))
            }
            Format::RegistryAvro(a) => a.encode(topic, value),
            Format::Windowed(w) => {
                let key = WindowedKey::from_json(value).map_err(err)?;
                w.serde().serialize(topic, &key)
            }
        }
    }

    /// Decodes bytes of `topic`.
    pub fn decode(&self, topic: &str, bytes: &[u8]) -> Result<Value, StreamsError> {
        let err = |m: String| StreamsError::Deserialize {
            topic: topic.to_owned(),
            what: KeyOrValue::Value,
            source: m.into(),
        };
        match self {
            Format::String => std::str::from_utf8(bytes)
                .map(|s| Value::String(s.to_owned()))
                .map_err(|e| err(format!("invalid UTF-8: {e}"))),
            Format::Json => serde_json::from_slice(bytes).map_err(|e| err(e.to_string())),
            Format::I64 => <[u8; 8]>::try_from(bytes)
                .map(|b| Value::from(i64::from_be_bytes(b)))
                .map_err(|_| err(format!("an i64 needs 8 bytes, got {}", bytes.len()))),
            Format::Avro(a) => {
                let mut reader = bytes;
                #[allow(deprecated)]
                let datum = apache_avro::from_avro_datum(&a.schema, &mut reader, None)
                    .map_err(|e| err(e.to_string()))?;
                if !reader.is_empty() {
                    return Err(err(format!(
                        "{} trailing bytes after the Avro datum",
                        reader.len()
                    )));
                }
                avro_to_json(datum).map_err(err)
            }
            Format::RegistryAvro(a) => a.decode(topic, bytes),
            Format::Windowed(w) => w
                .serde()
                .deserialize(topic, bytes)
                .map(|k| WindowedKey::to_json(&k)),
        }
    }

    /// Start-up work for a topic written with this format (registry Avro registers or looks
    /// up its schema; see [`Serde::prepare`]).
    pub fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        match self {
            Format::RegistryAvro(a) => a.prepare(topic),
            Format::Windowed(w) => w.inner.prepare(topic),
            _ => Ok(()),
        }
    }
}

/// A [`Format`] as the engine's [`Serde`].
struct ValueSerde(Format);

impl Serde<Value> for ValueSerde {
    /// A JSON value equal to one this thread just decoded is written as the bytes it was read
    /// from (see `passthrough`): a record that only passed through keeps its text.
    fn serialize(&self, topic: &str, value: &Value) -> Result<Vec<u8>, StreamsError> {
        if let Format::Json = self.0
            && failure::as_error(value).is_none()
            && let Some(bytes) = passthrough::original_of(value)
        {
            return Ok(bytes);
        }
        self.0.encode(topic, value)
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<Value, StreamsError> {
        let value = self.0.decode(topic, bytes)?;
        if let Format::Json = self.0 {
            passthrough::remember(bytes);
        }
        Ok(value)
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
    /// A record without a key has the key `null` in expressions (Faust producers send none).
    fn null(&self) -> Option<Value> {
        Some(Value::Null)
    }
    fn is_null(&self, value: &Value) -> bool {
        value.is_null()
    }
    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.0.prepare(topic)
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<Value, String>> {
        Some(self.0.decode("", bytes).map_err(|e| e.to_string()))
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        let value = match self.0 {
            Format::String => Value::String(text.to_owned()),
            Format::I64 => match text.trim().parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Some(Err(format!("`{text}` is not an integer"))),
            },
            _ => weir_core::serde::text_as_json(text),
        };
        if let Format::RegistryAvro(a) = &self.0 {
            return Some(a.encode_view(&value));
        }
        Some(self.0.encode("", &value).map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    const SCHEMA: &str = r#"{"type":"record","name":"Product","fields":[
        {"name":"product_id","type":"string"},{"name":"price","type":"double"},
        {"name":"tags","type":{"type":"array","items":"string"}},
        {"name":"shop","type":["null","string"],"default":null},
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["NEW","USED"]}}]}"#;

    fn avro() -> Format {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.avsc");
        std::fs::write(&path, SCHEMA).unwrap();
        Format::Avro(AvroFormat::from_file(&path).unwrap())
    }

    #[test]
    fn avro_round_trips_through_json() {
        let f = avro();
        let v = json!({"product_id": "p1", "price": 2, "tags": ["a"], "shop": "s", "kind": "USED"});
        let bytes = f.encode("t", &v).unwrap();
        let back = f.decode("t", &bytes).unwrap();
        assert_eq!(
            back,
            json!({"product_id": "p1", "price": 2.0, "tags": ["a"], "shop": "s", "kind": "USED"})
        );
        let bad = json!({"product_id": 5});
        assert!(matches!(
            f.encode("t", &bad),
            Err(StreamsError::Serialize { .. })
        ));
        assert!(f.decode("t", &[0xff]).is_err());
    }

    #[test]
    fn primitive_formats_check_their_values() {
        assert_eq!(Format::String.encode("t", &json!("x")).unwrap(), b"x");
        assert!(Format::String.encode("t", &json!(1)).is_err());
        assert_eq!(
            Format::I64
                .decode("t", &Format::I64.encode("t", &json!(258)).unwrap())
                .unwrap(),
            json!(258)
        );
        assert!(Format::I64.encode("t", &json!(1.5)).is_err());
        assert!(Format::I64.decode("t", b"123").is_err());
        assert!(Format::Json.decode("t", b"{no").is_err());
        assert!(Format::String.decode("t", &[0xff]).is_err());
    }

    #[test]
    fn windowed_keys_are_json_objects_in_kafka_streams_layout() {
        let time = Format::Windowed(WindowedKey {
            inner: Box::new(Format::String),
            window: WindowedFormat::Time { size_ms: 10 },
        });
        let key = json!({"key": "k", "start": 20, "end": 30});
        let bytes = time.encode("t", &key).unwrap();
        assert_eq!(bytes, [b"k".as_slice(), &20i64.to_be_bytes()].concat());
        assert_eq!(time.decode("t", &bytes).unwrap(), key);
        let session = Format::Windowed(WindowedKey {
            inner: Box::new(Format::Json),
            window: WindowedFormat::Session,
        });
        let key = json!({"key": {"id": 1}, "start": 5, "end": 9});
        let bytes = session.encode("t", &key).unwrap();
        assert_eq!(
            bytes,
            [
                br#"{"id":1}"#.as_slice(),
                &9i64.to_be_bytes(),
                &5i64.to_be_bytes()
            ]
            .concat()
        );
        assert_eq!(session.decode("t", &bytes).unwrap(), key);
        assert!(time.encode("t", &json!("k")).is_err());
        assert!(time.decode("t", b"short").is_err());
        assert_ne!(time, session);
        assert_eq!(time.computed(), Format::String);
    }

    #[test]
    fn failed_values_are_process_errors() {
        let mut m = Map::new();
        m.insert(
            failure::MARK.into(),
            json!({"expression": "f.yaml:3:9 (filter)", "error": "No such key: price"}),
        );
        let err = Format::Json.encode("t", &Value::Object(m)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "processor `f.yaml:3:9 (filter)` failed: No such key: price"
        );
    }
}
