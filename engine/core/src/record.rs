//! Records as user code sees them ([`Record`], [`Headers`]) and the metadata of the input record
//! being processed ([`RecordMetadata`]).

/// Kafka record headers: ordered `(key, value)` pairs; keys may repeat, values may be null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Option<Vec<u8>>)>);

impl Headers {
    /// No headers (allocates nothing).
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> &mut Self {
        self.0.push((key.into(), value));
        self
    }

    /// Builder-style [`Headers::add`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.0.push((key.into(), Some(value.into())));
        self
    }

    /// The value of the last header named `key`.
    pub fn last(&self, key: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Removes every header named `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<K: Into<String>> FromIterator<(K, Option<Vec<u8>>)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, Option<Vec<u8>>)>>(iter: I) -> Self {
        Headers(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// A record flowing through processors: key, value, timestamp (ms since the epoch) and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    pub key: K,
    pub value: V,
    pub timestamp: i64,
    pub headers: Headers,
}

impl<K, V> Record<K, V> {
    /// A record with no headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// The same record with another key.
    pub fn with_key<K2>(self, key: K2) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another value.
    pub fn with_value<V2>(self, value: V2) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }
}

/// Where the input record currently being processed came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}
