//! The Rust types of a definition's streams and tables. Records are JSON values, except where
//! the DSL fixes a type that its node names depend on: the keys of windowed aggregations are
//! `Windowed<Value>` and the values of a windowed `count` are `i64` (the DSL's windowed count
//! is its own node kind, `KSTREAM-WINDOWED-COUNT`, so it cannot be an aggregation of JSON
//! numbers as a plain count is). Converting them to JSON would add a node the Rust twin does not
//! have, so steps run on each of these streams as they are ([`AnyStream`]) and expressions see
//! every key and value as JSON ([`Field::json`]): a windowed key as
//! `{"key": KEY, "start": MS, "end": MS}`, a count as a number. Lookups, joins and groupings
//! take plain streams (JSON keys and values) only.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use super::format::{Format, WindowedKey};
use super::ops::{Stream, Table};
use super::windows::Windowing;
use weir_core::error::StreamsError;
use weir_core::serde::{Serde, SerdeRef};
use weir_core::window::Windowed;
use weir_runtime::dsl::{Datum, KStream, KTable, SessionWindowedKStream, TimeWindowedKStream};

/// A windowed key.
pub(crate) type Win = Windowed<Value>;

/// A key or value type of a definition's streams.
pub(crate) trait Field: Datum {
    /// The key or value as expressions see it.
    fn json(&self) -> Cow<'_, Value>;
    /// Its serde for `format` (`None`: the format cannot hold it).
    fn serde_of(format: &Format) -> Option<SerdeRef<Self>>;
}

impl Field for Value {
    fn json(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
    fn serde_of(format: &Format) -> Option<SerdeRef<Self>> {
        Some(format.serde())
    }
}

impl Field for Win {
    fn json(&self) -> Cow<'_, Value> {
        Cow::Owned(WindowedKey::to_json(self))
    }
    fn serde_of(format: &Format) -> Option<SerdeRef<Self>> {
        match format {
            Format::Windowed(w) => Some(w.serde()),
            _ => None,
        }
    }
}

impl Field for i64 {
    fn json(&self) -> Cow<'_, Value> {
        Cow::Owned(Value::from(*self))
    }
    fn serde_of(format: &Format) -> Option<SerdeRef<Self>> {
        Some(Arc::new(IntegerOf(format.serde())))
    }
}

/// Integers written in a JSON-valued format (`i64`: the same bytes as the DSL's i64 serde).
struct IntegerOf(SerdeRef<Value>);

impl Serde<i64> for IntegerOf {
    fn serialize(&self, topic: &str, value: &i64) -> Result<Vec<u8>, StreamsError> {
        self.0.serialize(topic, &Value::from(*value))
    }
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<i64, StreamsError> {
        let v = self.0.deserialize(topic, bytes)?;
        v.as_i64().ok_or_else(|| StreamsError::Deserialize {
            topic: topic.to_owned(),
            what: weir_core::error::KeyOrValue::Value,
            source: format!("expected an integer, got {v}").into(),
        })
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<Value, String>> {
        self.0.bytes_to_json(bytes)
    }
    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.0.prepare(topic)
    }
}

/// A stream of one of the types a definition's streams have.
#[derive(Clone)]
pub(crate) enum AnyStream {
    Plain(Stream),
    /// The updates of a windowed `aggregate` or `reduce`.
    Windowed(KStream<Win, Value>),
    /// The updates of a windowed `count`.
    Counts(KStream<Win, i64>),
    /// Those after a key change (`select_key`, `repartition` keep the `i64` values).
    Counted(KStream<Value, i64>),
}

/// Each stream type as an [`AnyStream`] and back.
pub(crate) trait Typed: Sized {
    fn into_any(self) -> AnyStream;
    fn of_any(any: &AnyStream) -> Option<&Self>;
}

impl Typed for Stream {
    fn into_any(self) -> AnyStream {
        AnyStream::Plain(self)
    }
    fn of_any(any: &AnyStream) -> Option<&Self> {
        match any {
            AnyStream::Plain(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for KStream<Win, Value> {
    fn into_any(self) -> AnyStream {
        AnyStream::Windowed(self)
    }
    fn of_any(any: &AnyStream) -> Option<&Self> {
        match any {
            AnyStream::Windowed(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for KStream<Win, i64> {
    fn into_any(self) -> AnyStream {
        AnyStream::Counts(self)
    }
    fn of_any(any: &AnyStream) -> Option<&Self> {
        match any {
            AnyStream::Counts(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for KStream<Value, i64> {
    fn into_any(self) -> AnyStream {
        AnyStream::Counted(self)
    }
    fn of_any(any: &AnyStream) -> Option<&Self> {
        match any {
            AnyStream::Counted(s) => Some(s),
            _ => None,
        }
    }
}

impl AnyStream {
    /// Renames the node producing the stream, if `name` is given.
    pub(crate) fn named(self, name: &Option<String>) -> AnyStream {
        let Some(n) = name else { return self };
        match self {
            AnyStream::Plain(s) => AnyStream::Plain(s.named(n.clone())),
            AnyStream::Windowed(s) => AnyStream::Windowed(s.named(n.clone())),
            AnyStream::Counts(s) => AnyStream::Counts(s.named(n.clone())),
            AnyStream::Counted(s) => AnyStream::Counted(s.named(n.clone())),
        }
    }
}

/// A table of one of the types a definition's tables have.
#[derive(Clone)]
pub(crate) enum AnyTable {
    Plain(Table),
    Windowed(KTable<Win, Value>),
    Counts(KTable<Win, i64>),
}

impl AnyTable {
    /// The table's updates.
    pub(crate) fn to_stream(&self) -> AnyStream {
        match self {
            AnyTable::Plain(t) => AnyStream::Plain(t.to_stream()),
            AnyTable::Windowed(t) => AnyStream::Windowed(t.to_stream()),
            AnyTable::Counts(t) => AnyStream::Counts(t.to_stream()),
        }
    }

    /// Renames the node producing the table, if `name` is given.
    pub(crate) fn named(self, name: &Option<String>) -> AnyTable {
        let Some(n) = name else { return self };
        match self {
            AnyTable::Plain(t) => AnyTable::Plain(t.named(n.clone())),
            AnyTable::Windowed(t) => AnyTable::Windowed(t.named(n.clone())),
            AnyTable::Counts(t) => AnyTable::Counts(t.named(n.clone())),
        }
    }
}

/// A grouped stream cut into windows, ready to aggregate (several aggregations may share it).
#[derive(Clone)]
pub(crate) struct WindowedGroup {
    pub streams: GroupWindows,
    /// The `window:` and `emit:` it was cut with.
    pub windowing: Windowing,
}

/// The DSL's windowed grouped streams.
#[derive(Clone)]
pub(crate) enum GroupWindows {
    /// Tumbling, hopping or sliding windows.
    Time(Rc<TimeWindowedKStream<Value, Value>>),
    Session(Rc<SessionWindowedKStream<Value, Value>>),
}

impl WindowedGroup {
    /// The format of the aggregation's keys, whose grouping keys have format `key`.
    pub(crate) fn key_format(&self, key: &Format) -> Format {
        Format::Windowed(WindowedKey {
            inner: Box::new(key.clone()),
            window: self.windowing.windows.format(),
        })
    }
}

/// Runs `$body` with `$s` bound to the typed stream inside `$any`.
macro_rules! each_stream {
    ($any:expr, $s:ident => $body:expr) => {
        match $any {
            $crate::typed::AnyStream::Plain($s) => $body,
            $crate::typed::AnyStream::Windowed($s) => $body,
            $crate::typed::AnyStream::Counts($s) => $body,
            $crate::typed::AnyStream::Counted($s) => $body,
        }
    };
}
pub(crate) use each_stream;
