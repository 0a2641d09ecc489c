//! Serdes for raw bytes, UTF-8 strings and i64 (Kafka's `LongSerializer`: 8 bytes big-endian).

use super::Serde;
use crate::error::{KeyOrValue, StreamsError};

fn de_err(topic: &str, msg: impl Into<String>) -> StreamsError {
    StreamsError::Deserialize {
        topic: topic.into(),
        what: KeyOrValue::Value,
        source: msg.into().into(),
    }
}

/// Bytes as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, _topic: &str, value: &Vec<u8>) -> Result<Vec<u8>, StreamsError> {
        Ok(value.clone())
    }
    fn deserialize(&self, _topic: &str, bytes: &[u8]) -> Result<Vec<u8>, StreamsError> {
        Ok(bytes.to_vec())
    }
    fn name(&self) -> &'static str {
        "bytes"
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(Ok(String::from_utf8_lossy(bytes).into_owned().into()))
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(Ok(text.as_bytes().to_vec()))
    }
}

/// UTF-8 text; invalid UTF-8 is a deserialization error.
#[derive(Debug, Default, Clone, Copy)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, _topic: &str, value: &String) -> Result<Vec<u8>, StreamsError> {
        Ok(value.as_bytes().to_vec())
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<String, StreamsError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(de_err(topic, format!("invalid UTF-8: {e}"))),
        }
    }
    fn name(&self) -> &'static str {
        "string"
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(
            std::str::from_utf8(bytes)
                .map(|s| s.to_owned().into())
                .map_err(|e| format!("invalid UTF-8: {e}")),
        )
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(Ok(text.as_bytes().to_vec()))
    }
}

/// Signed 64-bit integers, 8 bytes big-endian (Kafka's `LongSerializer`).
#[derive(Debug, Default, Clone, Copy)]
pub struct I64Serde;

impl Serde<i64> for I64Serde {
    fn serialize(&self, _topic: &str, value: &i64) -> Result<Vec<u8>, StreamsError> {
        Ok(value.to_be_bytes().to_vec())
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<i64, StreamsError> {
        let arr: [u8; 8] = bytes
            .try_into()
            .map_err(|_| de_err(topic, format!("an i64 needs 8 bytes, got {}", bytes.len())))?;
        Ok(i64::from_be_bytes(arr))
    }
    fn name(&self) -> &'static str {
        "i64"
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(
            <[u8; 8]>::try_from(bytes)
                .map(|a| i64::from_be_bytes(a).into())
                .map_err(|_| format!("an i64 needs 8 bytes, got {}", bytes.len())),
        )
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(
            text.trim()
                .parse::<i64>()
                .map(|n| n.to_be_bytes().to_vec())
                .map_err(|_| format!("`{text}` is not an integer (this store's keys are i64)")),
        )
    }
}

/// `()`: an empty payload, for topics whose keys or values carry nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitSerde;

impl Serde<()> for UnitSerde {
    fn serialize(&self, _topic: &str, _value: &()) -> Result<Vec<u8>, StreamsError> {
        Ok(Vec::new())
    }
    fn deserialize(&self, _topic: &str, _bytes: &[u8]) -> Result<(), StreamsError> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "unit"
    }
    fn bytes_to_json(&self, _bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(Ok(serde_json::Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_is_big_endian_and_rejects_wrong_lengths() {
        let b = I64Serde.serialize("t", &258).unwrap();
        assert_eq!(b, vec![0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(I64Serde.deserialize("t", &b).unwrap(), 258);
        assert!(I64Serde.deserialize("t", &[1, 2, 3]).is_err());
    }

    #[test]
    fn string_rejects_invalid_utf8() {
        assert!(StringSerde.deserialize("t", &[0xff, 0xfe]).is_err());
        assert_eq!(StringSerde.deserialize("t", b"abc").unwrap(), "abc");
    }
}
