//! Typed input and output topic handles of the test driver.

use crate::ops::as_key;
use weir_core::error::StreamsError;
use weir_core::record::{Headers, Record};
use weir_core::serde::SerdeRef;

use super::TopologyTestDriver;

/// Pipes typed records into one topic of a [`TopologyTestDriver`].
pub struct TestInputTopic<K, V> {
    topic: String,
    key: SerdeRef<K>,
    value: SerdeRef<V>,
}

impl<K: 'static, V: 'static> TestInputTopic<K, V> {
    pub fn new(topic: &str, key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        TestInputTopic {
            topic: topic.to_owned(),
            key,
            value,
        }
    }

    /// Pipes `(key, value)` stamped with the driver's wall-clock time.
    pub fn pipe(
        &self,
        driver: &mut TopologyTestDriver,
        key: K,
        value: V,
    ) -> Result<(), StreamsError> {
        let ts = driver.wall_clock_ms();
        self.pipe_record(driver, Record::new(key, Some(value), ts))
    }

    /// Pipes `(key, value)` with an explicit timestamp.
    pub fn pipe_at(
        &self,
        driver: &mut TopologyTestDriver,
        key: K,
        value: V,
        timestamp: i64,
    ) -> Result<(), StreamsError> {
        self.pipe_record(driver, Record::new(key, Some(value), timestamp))
    }

    /// Pipes a tombstone (null value) for `key`.
    pub fn pipe_tombstone(
        &self,
        driver: &mut TopologyTestDriver,
        key: K,
    ) -> Result<(), StreamsError> {
        let ts = driver.wall_clock_ms();
        self.pipe_record(driver, Record::new(key, None, ts))
    }

    /// Pipes a full record (timestamp, headers; `None` value = tombstone).
    pub fn pipe_record(
        &self,
        driver: &mut TopologyTestDriver,
        record: Record<K, Option<V>>,
    ) -> Result<(), StreamsError> {
        // The key serde's null is a record without a key.
        let kb = if self.key.is_null(&record.key) {
            None
        } else {
            Some(
                self.key
                    .serialize(&self.topic, &record.key)
                    .map_err(as_key)?,
            )
        };
        let vb = match &record.value {
            Some(v) => Some(self.value.serialize(&self.topic, v)?),
            None => None,
        };
        driver.pipe_raw(
            &self.topic,
            kb.as_deref(),
            vb.as_deref(),
            record.timestamp,
            record.headers,
        )
    }

    /// Pipes raw bytes (e.g. a payload the serde would reject).
    pub fn pipe_bytes(
        &self,
        driver: &mut TopologyTestDriver,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), StreamsError> {
        let ts = driver.wall_clock_ms();
        driver.pipe_raw(&self.topic, key, value, ts, Headers::new())
    }
}

/// Reads typed records the topology wrote to one topic.
pub struct TestOutputTopic<K, V> {
    topic: String,
    key: SerdeRef<K>,
    value: SerdeRef<V>,
}

impl<K: 'static, V: 'static> TestOutputTopic<K, V> {
    pub fn new(topic: &str, key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        TestOutputTopic {
            topic: topic.to_owned(),
            key,
            value,
        }
    }

    /// Takes every record written so far, decoded (`None` value = tombstone).
    pub fn read_records(
        &self,
        driver: &mut TopologyTestDriver,
    ) -> Result<Vec<Record<K, Option<V>>>, StreamsError> {
        driver
            .read_raw(&self.topic)
            .into_iter()
            .map(|r| {
                // A record without a key reads as the key serde's null where it has one.
                let key = match (r.key.as_deref(), self.key.null()) {
                    (None, Some(null)) => null,
                    (kb, _) => self
                        .key
                        .deserialize(&self.topic, kb.unwrap_or_default())
                        .map_err(as_key)?,
                };
                let value = match r.value.as_deref() {
                    Some(v) => Some(self.value.deserialize(&self.topic, v)?),
                    None => None,
                };
                Ok(Record {
                    key,
                    value,
                    timestamp: r.timestamp,
                    headers: r.headers,
                })
            })
            .collect()
    }

    /// Takes every `(key, value)` written so far.
    pub fn read_key_values(
        &self,
        driver: &mut TopologyTestDriver,
    ) -> Result<Vec<(K, Option<V>)>, StreamsError> {
        Ok(self
            .read_records(driver)?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    /// Takes the values written so far (tombstones skipped).
    pub fn read_values(&self, driver: &mut TopologyTestDriver) -> Result<Vec<V>, StreamsError> {
        Ok(self
            .read_records(driver)?
            .into_iter()
            .filter_map(|r| r.value)
            .collect())
    }
}
