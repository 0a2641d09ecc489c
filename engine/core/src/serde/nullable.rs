//! [`Nullable`]: a serde for keys that may be absent, as a Java key may be `null` in Kafka
//! Streams. `None` is a record without a key: a stream keeps it, a sink writes no key, and
//! operators that need a key skip it (see [`Serde::null`]).

use super::{Serde, SerdeRef};
use crate::error::StreamsError;

/// `inner` for present values, `None` for absent ones.
pub struct Nullable<T>(pub SerdeRef<T>);

impl<T: Send + Sync + 'static> Serde<Option<T>> for Nullable<T> {
    fn serialize(&self, topic: &str, value: &Option<T>) -> Result<Vec<u8>, StreamsError> {
        match value {
            Some(v) => self.0.serialize(topic, v),
            // Sinks write a null as no key; a store or lookup never gets one.
            None => Err(StreamsError::Serialize {
                topic: topic.to_owned(),
                what: crate::error::KeyOrValue::Key,
                source: "a null key has no bytes".into(),
            }),
        }
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<Option<T>, StreamsError> {
        self.0.deserialize(topic, bytes).map(Some)
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn null(&self) -> Option<Option<T>> {
        Some(None)
    }
    fn is_null(&self, value: &Option<T>) -> bool {
        value.is_none()
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        self.0.bytes_to_json(bytes)
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        self.0.text_to_bytes(text)
    }
    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.0.prepare(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Serdes;

    #[test]
    fn none_is_the_null_and_present_values_go_through_the_inner_serde() {
        let s = Serdes::nullable(Serdes::string());
        assert_eq!(s.null(), Some(None));
        assert!(s.is_null(&None));
        assert!(!s.is_null(&Some("k".to_owned())));
        assert_eq!(s.serialize("t", &Some("k".to_owned())).unwrap(), b"k");
        assert!(s.serialize("t", &None).is_err());
        assert_eq!(s.deserialize("t", b"k").unwrap(), Some("k".to_owned()));
        assert_eq!(s.name(), "string");
    }
}
