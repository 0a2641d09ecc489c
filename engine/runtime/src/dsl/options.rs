//! Options of DSL calls, named as in Kafka Streams: [`Consumed`], [`Produced`], [`Materialized`],
//! [`Grouped`], [`Repartitioned`]. Serdes left out are taken from upstream where known; a missing
//! serde that cannot be inferred is a `build()` error naming the call.

use crate::ops::source_sink::TimestampExtractor;
use weir_core::serde::SerdeRef;

/// How a source reads a topic.
pub struct Consumed<K, V> {
    pub key: SerdeRef<K>,
    pub value: SerdeRef<V>,
    pub name: Option<String>,
    /// The source's event time; `None`: each record's Kafka timestamp.
    pub timestamp: Option<TimestampExtractor<K, V>>,
}

impl<K, V> Consumed<K, V> {
    pub fn with(key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        Consumed {
            key,
            value,
            name: None,
            timestamp: None,
        }
    }
    /// Names the source node.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Reads each record's event time with `extract(key, value, record timestamp, partition
    /// time)` (Kafka Streams' `Consumed.withTimestampExtractor`); an `Err` or a negative
    /// timestamp sends the record to the deserialization handler.
    pub fn with_timestamp_extractor(
        mut self,
        extract: impl Fn(&K, Option<&V>, i64, i64) -> Result<i64, String> + Send + Sync + 'static,
    ) -> Self {
        self.timestamp = Some(std::sync::Arc::new(extract));
        self
    }
}

/// How a sink writes a topic. Serdes default to the stream's.
pub struct Produced<K, V> {
    pub key: Option<SerdeRef<K>>,
    pub value: Option<SerdeRef<V>>,
    pub name: Option<String>,
}

impl<K, V> Default for Produced<K, V> {
    fn default() -> Self {
        Produced {
            key: None,
            value: None,
            name: None,
        }
    }
}

impl<K, V> Produced<K, V> {
    pub fn with(key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        Produced {
            key: Some(key),
            value: Some(value),
            name: None,
        }
    }
    pub fn value_serde(value: SerdeRef<V>) -> Self {
        Produced {
            key: None,
            value: Some(value),
            name: None,
        }
    }
    pub fn key_serde(key: SerdeRef<K>) -> Self {
        Produced {
            key: Some(key),
            value: None,
            name: None,
        }
    }
    /// Names the sink node.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A named state store holding a table or an aggregation. The name is required: it names the
/// changelog topic `{application}-{name}-changelog`, which must stay stable across versions.
pub struct Materialized<K, V> {
    pub name: String,
    pub key: Option<SerdeRef<K>>,
    pub value: Option<SerdeRef<V>>,
    pub logging: bool,
    /// Keys not updated for this long (of stream time) are deleted (aggregations).
    pub ttl: Option<std::time::Duration>,
}

impl<K, V> Materialized<K, V> {
    pub fn as_(name: impl Into<String>) -> Self {
        Materialized {
            name: name.into(),
            key: None,
            value: None,
            logging: true,
            ttl: None,
        }
    }
    /// Deletes a key of an aggregation's store once it was not updated for `ttl` of stream
    /// time, forwarding a tombstone downstream (expiry runs on stream-time punctuation; the
    /// last-update index is the store `{name}-ttl`).
    pub fn with_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
    pub fn with(mut self, key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        self.key = Some(key);
        self.value = Some(value);
        self
    }
    pub fn with_key_serde(mut self, key: SerdeRef<K>) -> Self {
        self.key = Some(key);
        self
    }
    pub fn with_value_serde(mut self, value: SerdeRef<V>) -> Self {
        self.value = Some(value);
        self
    }
    /// No changelog topic: the store is rebuilt from its input only (or lost).
    pub fn without_logging(mut self) -> Self {
        self.logging = false;
        self
    }
}

/// How a grouping (and its repartition topic, when the key changed) is named and serialized.
pub struct Grouped<K, V> {
    pub name: Option<String>,
    pub key: Option<SerdeRef<K>>,
    pub value: Option<SerdeRef<V>>,
}

impl<K, V> Default for Grouped<K, V> {
    fn default() -> Self {
        Grouped {
            name: None,
            key: None,
            value: None,
        }
    }
}

impl<K, V> Grouped<K, V> {
    /// Names the repartition topic `{application}-{name}-repartition`.
    pub fn as_(name: impl Into<String>) -> Self {
        Grouped {
            name: Some(name.into()),
            key: None,
            value: None,
        }
    }
    pub fn with(mut self, key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        self.key = Some(key);
        self.value = Some(value);
        self
    }
    pub fn with_key_serde(mut self, key: SerdeRef<K>) -> Self {
        self.key = Some(key);
        self
    }
}

/// An explicit repartition step (`KStream::repartition`).
pub struct Repartitioned<K, V> {
    pub name: String,
    pub key: Option<SerdeRef<K>>,
    pub value: Option<SerdeRef<V>>,
}

impl<K, V> Repartitioned<K, V> {
    pub fn as_(name: impl Into<String>) -> Self {
        Repartitioned {
            name: name.into(),
            key: None,
            value: None,
        }
    }
    pub fn with(mut self, key: SerdeRef<K>, value: SerdeRef<V>) -> Self {
        self.key = Some(key);
        self.value = Some(value);
        self
    }
}
