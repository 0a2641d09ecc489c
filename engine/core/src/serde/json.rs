//! JSON through serde: any `T: Serialize + DeserializeOwned`, including `serde_json::Value`.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Serde;
use crate::error::{KeyOrValue, StreamsError};

/// JSON (UTF-8) encoding of `T`.
pub struct JsonSerde<T>(PhantomData<fn() -> T>);

impl<T> JsonSerde<T> {
    pub fn new() -> Self {
        JsonSerde(PhantomData)
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Serde<T> for JsonSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>, StreamsError> {
        serde_json::to_vec(value).map_err(|e| StreamsError::Serialize {
            topic: topic.into(),
            what: KeyOrValue::Value,
            source: e.into(),
        })
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, StreamsError> {
        serde_json::from_slice(bytes).map_err(|e| StreamsError::Deserialize {
            topic: topic.into(),
            what: KeyOrValue::Value,
            source: e.into(),
        })
    }
    fn name(&self) -> &'static str {
        "json"
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(serde_json::from_slice(bytes).map_err(|e| e.to_string()))
    }
    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(serde_json::to_vec(&super::text_as_json(text)).map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct P {
        id: String,
        price: f64,
    }

    #[test]
    fn round_trips_and_reports_bad_payloads() {
        let s = JsonSerde::<P>::new();
        let p = P {
            id: "a".into(),
            price: 1.5,
        };
        let b = s.serialize("t", &p).unwrap();
        assert_eq!(s.deserialize("t", &b).unwrap(), p);
        let err = s.deserialize("t", b"{\"id\":1}").unwrap_err();
        assert!(err.to_string().contains("topic `t`"), "{err}");
    }
}
