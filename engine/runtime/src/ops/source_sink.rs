//! Source decoding and sink encoding: the two places records cross between bytes and DSL types.

use std::marker::PhantomData;
use std::sync::Arc;

use super::as_key;
use crate::collector::ProducedRecord;
use crate::node::{Boxed, Ctx, Msg, Node, peek};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_graph::SourceDecoder;

/// Decodes a source topic's records with the source's key and value serdes. A record with a null
/// key reads as the key serde's null ([`Serde::null`](weir_core::serde::Serde::null)) on a
/// stream source (`null_keys`); where there is none, or on a table source, it is skipped:
/// `Ok(None)`, which the caller counts in `weir_skipped_records_total{reason="null_key"}`.
pub struct TypedDecoder<K, V> {
    pub key: SerdeRef<K>,
    pub value: SerdeRef<V>,
    /// Whether records without a key stay in the stream (stream sources, as in Kafka Streams).
    pub null_keys: bool,
    /// The source's event time; `None`: the record's Kafka timestamp.
    pub timestamp: Option<TimestampExtractor<K, V>>,
}

/// A source's event-time extractor (Kafka Streams' `TimestampExtractor`):
/// `(key, value, record timestamp, partition time) -> event time`. An `Err` or a negative
/// result sends the record to the deserialization handler.
pub type TimestampExtractor<K, V> =
    Arc<dyn Fn(&K, Option<&V>, i64, i64) -> Result<i64, String> + Send + Sync>;

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> SourceDecoder for TypedDecoder<K, V> {
    fn decode(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Option<(Boxed, Option<Boxed>)>, StreamsError> {
        let k = match key {
            Some(kb) => self.key.deserialize(topic, kb).map_err(as_key)?,
            // A stream keeps a record without a key when its key type can hold a null (Kafka
            // Streams keeps them all; `select_key` can re-key them); tables never do.
            None => match self.key.null().filter(|_| self.null_keys) {
                Some(null) => null,
                None => return Ok(None),
            },
        };
        let v = match value {
            Some(vb) => Some(Box::new(self.value.deserialize(topic, vb)?) as Boxed),
            None => None,
        };
        Ok(Some((Box::new(k), v)))
    }

    fn timestamp(
        &self,
        topic: &str,
        key: &Boxed,
        value: Option<&Boxed>,
        record_timestamp: i64,
        partition_time: i64,
    ) -> Result<i64, StreamsError> {
        let Some(extract) = &self.timestamp else {
            return weir_graph::check_timestamp(topic, record_timestamp);
        };
        let key = peek::<K>(key)?;
        let value = value.map(peek::<V>).transpose()?;
        let ts = extract(key, value, record_timestamp, partition_time).map_err(|reason| {
            StreamsError::InvalidTimestamp {
                topic: topic.to_owned(),
                reason,
            }
        })?;
        weir_graph::check_timestamp(topic, ts)
    }
}

/// Forwards every record unchanged (source nodes, branch children, merge).
pub struct PassThrough;

impl Node for PassThrough {
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        ctx.forward(msg)
    }
}

/// Picks a sink's topic per record.
pub type TopicExtractor<K, V> = Arc<dyn Fn(&K, Option<&V>) -> String + Send + Sync>;

pub enum Target<K, V> {
    Fixed(String),
    Dynamic(TopicExtractor<K, V>),
}

impl<K, V> Clone for Target<K, V> {
    fn clone(&self) -> Self {
        match self {
            Target::Fixed(t) => Target::Fixed(t.clone()),
            Target::Dynamic(f) => Target::Dynamic(f.clone()),
        }
    }
}

/// Serializes records and hands them to the record collector.
pub struct Sink<K, V> {
    pub target: Target<K, V>,
    pub key: SerdeRef<K>,
    pub value: SerdeRef<V>,
    pub _t: PhantomData<fn(K, V)>,
}

impl<K: 'static, V: 'static> Node for Sink<K, V> {
    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let key = peek::<K>(&msg.key)?;
        let value = match &msg.value {
            Some(v) => Some(peek::<V>(v)?),
            None => None,
        };
        let topic = match &self.target {
            Target::Fixed(t) => t.clone(),
            Target::Dynamic(f) => f(key, value),
        };
        let kb = if self.key.is_null(key) {
            None
        } else {
            Some(self.key.serialize(&topic, key).map_err(as_key)?)
        };
        // The value serde's null (a definition file's `null`) is a tombstone.
        let vb = match value.filter(|v| !self.value.is_null(v)) {
            Some(v) => Some(self.value.serialize(&topic, v)?),
            None => None,
        };
        ctx.collector.send(ProducedRecord {
            topic,
            partition: None,
            key: kb,
            value: vb,
            timestamp: msg.timestamp,
            headers: msg.headers,
        })
    }
}
