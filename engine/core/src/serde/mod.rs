//! Serdes: how keys and values of topics and stores become bytes and back.
//!
//! Owns the [`Serde`] trait and the built-in serdes reachable from [`Serdes`]: bytes, string,
//! i64 (Kafka's big-endian `LongSerializer` format), JSON (serde). Avro serdes live in
//! `weir-avro`.
//! Serdes are shared between tasks and threads (`Send + Sync`) and must not panic on any input:
//! a bad payload is an `Err`, which the runtime hands to the deserialization error handler.

use std::sync::Arc;

use crate::error::StreamsError;

/// Turns values of `T` into bytes and back, for one topic (the topic is passed because formats
/// such as Schema Registry Avro derive subjects from it).
pub trait Serde<T>: Send + Sync + 'static {
    /// Encodes `value` for `topic`.
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>, StreamsError>;
    /// Decodes `bytes` read from `topic`.
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, StreamsError>;
    /// A short name for `describe()` output ("string", "json", "avro"...).
    fn name(&self) -> &'static str;
    /// What an absent (null) key reads as when `T` can hold one (a JSON `null` for JSON views);
    /// `None`: `T` cannot, and a stream skips records without a key (counted).
    fn null(&self) -> Option<T> {
        None
    }
    /// Whether `value` is the null `null()` gives. As a key: a sink writes no key, and
    /// operators that need a key (aggregations, table sources, table lookups) skip the record,
    /// as Kafka Streams does. As a value: a sink writes a tombstone and a store deletes the row
    /// (what a Java `null` value does in Kafka Streams).
    fn is_null(&self, value: &T) -> bool {
        let _ = value;
        false
    }
    /// What bytes this serde wrote look like as JSON, for tools that show stored data without
    /// knowing `T` (the state endpoint); `None` when the serde has no JSON view.
    fn bytes_to_json(&self, _bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        None
    }
    /// The bytes `serialize` writes for a key or value given as text (a key in a URL): the
    /// text itself for strings, a number for i64, JSON (or a bare string) for JSON; `None`
    /// when the serde cannot take text.
    fn text_to_bytes(&self, _text: &str) -> Option<Result<Vec<u8>, String>> {
        None
    }
    /// Start-up work for a topic this serde will write, so that a configuration problem is a
    /// start-up error rather than a failed record (Schema Registry serdes register or look up
    /// their schema here). Default: nothing.
    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        let _ = topic;
        Ok(())
    }
}

/// JSON text as a JSON value; text that is not JSON is taken as a JSON string (`p-1` and
/// `"p-1"` both name the key `"p-1"`).
pub fn text_as_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

/// A shared, type-erased serde.
pub type SerdeRef<T> = Arc<dyn Serde<T>>;

mod json;
mod nullable;
mod primitive;

pub use json::JsonSerde;
pub use nullable::Nullable;
pub use primitive::{BytesSerde, I64Serde, StringSerde, UnitSerde};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Constructors of the built-in serdes, as shared [`SerdeRef`]s.
#[derive(Debug)]
pub struct Serdes;

impl Serdes {
    pub fn bytes() -> SerdeRef<Vec<u8>> {
        Arc::new(BytesSerde)
    }
    pub fn string() -> SerdeRef<String> {
        Arc::new(StringSerde)
    }
    pub fn i64() -> SerdeRef<i64> {
        Arc::new(I64Serde)
    }
    pub fn unit() -> SerdeRef<()> {
        Arc::new(UnitSerde)
    }
    pub fn json<T: Serialize + DeserializeOwned + 'static>() -> SerdeRef<T> {
        Arc::new(JsonSerde::<T>::new())
    }
    /// `inner` for keys that may be absent (`None`: a record without a key), so a stream
    /// keeps unkeyed records as Kafka Streams does: `KStream<Option<String>, V>`.
    pub fn nullable<T: Send + Sync + 'static>(inner: SerdeRef<T>) -> SerdeRef<Option<T>> {
        Arc::new(Nullable(inner))
    }
}
