//! Windows and windowed keys ([`Window`], [`Windowed`]) and their serde ([`WindowedSerde`]).
//!
//! A window is `[start, end)` for time windows (tumbling, hopping: `end = start + size`) and
//! `[start, end]` for sliding and session windows (both ends inclusive), as in Kafka Streams.
//! On the wire a windowed key is written as Kafka Streams writes it, so its tools read weir's
//! windowed topics: time windows as the key's bytes then the start (8 bytes, big-endian; the
//! reader knows the size), session windows as the key's bytes, the end, then the start.

use std::fmt;
use std::sync::Arc;

use crate::error::{KeyOrValue, StreamsError};
use crate::serde::{Serde, SerdeRef};

/// A window of time, in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.start, self.end)
    }
}

/// A key of a windowed aggregation: the record key and its window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    pub key: K,
    pub window: Window,
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.key, self.window)
    }
}

/// How a [`WindowedSerde`] writes the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowedFormat {
    /// Key bytes, start: the end is `start + size` (tumbling and hopping windows).
    Time { size_ms: i64 },
    /// Key bytes, start: the end is `start + size` with both ends inclusive (sliding windows,
    /// `size` = the time difference).
    Sliding { difference_ms: i64 },
    /// Key bytes, end, start (session windows).
    Session,
}

/// The serde of `Windowed<K>` over the key's serde (Kafka Streams' `TimeWindowedSerde` and
/// `SessionWindowedSerde` layouts).
pub struct WindowedSerde<K> {
    pub inner: SerdeRef<K>,
    pub format: WindowedFormat,
}

impl<K: 'static> WindowedSerde<K> {
    pub fn of(inner: SerdeRef<K>, format: WindowedFormat) -> SerdeRef<Windowed<K>> {
        Arc::new(WindowedSerde { inner, format })
    }

    fn trailer(&self) -> usize {
        match self.format {
            WindowedFormat::Session => 16,
            _ => 8,
        }
    }

    fn split<'a>(&self, topic: &str, bytes: &'a [u8]) -> Result<(&'a [u8], Window), StreamsError> {
        let n = self.trailer();
        let Some(key_len) = bytes.len().checked_sub(n) else {
            return Err(StreamsError::Deserialize {
                topic: topic.to_owned(),
                what: KeyOrValue::Key,
                source: format!(
                    "a windowed key needs at least {n} bytes of window after the key, got {} bytes",
                    bytes.len()
                )
                .into(),
            });
        };
        let (key, tail) = bytes.split_at(key_len);
        let read = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&tail[i..i + 8]);
            i64::from_be_bytes(b)
        };
        let window = match self.format {
            WindowedFormat::Time { size_ms } => {
                let start = read(0);
                Window {
                    start,
                    end: start.saturating_add(size_ms),
                }
            }
            WindowedFormat::Sliding { difference_ms } => {
                let start = read(0);
                Window {
                    start,
                    end: start.saturating_add(difference_ms),
                }
            }
            WindowedFormat::Session => Window {
                end: read(0),
                start: read(8),
            },
        };
        Ok((key, window))
    }
}

impl<K: 'static> Serde<Windowed<K>> for WindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>) -> Result<Vec<u8>, StreamsError> {
        let mut bytes = self.inner.serialize(topic, &value.key)?;
        match self.format {
            WindowedFormat::Session => {
                bytes.extend_from_slice(&value.window.end.to_be_bytes());
                bytes.extend_from_slice(&value.window.start.to_be_bytes());
            }
            _ => bytes.extend_from_slice(&value.window.start.to_be_bytes()),
        }
        Ok(bytes)
    }

    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<Windowed<K>, StreamsError> {
        let (key, window) = self.split(topic, bytes)?;
        Ok(Windowed {
            key: self.inner.deserialize(topic, key)?,
            window,
        })
    }

    fn name(&self) -> &'static str {
        match self.format {
            WindowedFormat::Session => "session-windowed",
            _ => "time-windowed",
        }
    }

    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        // A Schema Registry key serde registers its schema for the topic it writes.
        self.inner.prepare(topic)
    }

    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        let (key, window) = match self.split("", bytes) {
            Ok(kw) => kw,
            Err(e) => return Some(Err(e.to_string())),
        };
        let key = match self.inner.bytes_to_json(key)? {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(serde_json::json!({
            "key": key,
            "start": window.start,
            "end": window.end,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::Serdes;

    #[test]
    fn time_and_session_layouts_round_trip_as_kafka_streams_writes_them() {
        let time = WindowedSerde::of(Serdes::string(), WindowedFormat::Time { size_ms: 10 });
        let w = Windowed {
            key: "k".to_owned(),
            window: Window { start: 20, end: 30 },
        };
        let bytes = time.serialize("t", &w).unwrap();
        assert_eq!(bytes, [b"k".as_slice(), &20i64.to_be_bytes()].concat());
        assert_eq!(time.deserialize("t", &bytes).unwrap(), w);
        let session = WindowedSerde::of(Serdes::string(), WindowedFormat::Session);
        let bytes = session.serialize("t", &w).unwrap();
        assert_eq!(
            bytes,
            [b"k".as_slice(), &30i64.to_be_bytes(), &20i64.to_be_bytes()].concat()
        );
        assert_eq!(session.deserialize("t", &bytes).unwrap(), w);
        assert!(session.deserialize("t", b"short").is_err());
        assert_eq!(
            time.bytes_to_json(&time.serialize("t", &w).unwrap()),
            Some(Ok(serde_json::json!({"key": "k", "start": 20, "end": 30})))
        );
    }
}
