//! [`GoldenRecord`]: one record of a golden or `weir try` file, one JSON object per line, and
//! reading and writing such files (a value keeps its JSON text as read).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::GoldenError;

/// One record of a golden file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoldenRecord {
    /// `null` (or absent): a record without a key.
    #[serde(default)]
    pub key: Value,
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "header_map")]
    pub headers: Vec<(String, Option<String>)>,
    /// The line of the file it was read from (not part of the record: equality ignores it).
    #[serde(skip)]
    pub line: Option<usize>,
    /// The value's JSON text as read (a line's `value`, an output's bytes): written to a JSON
    /// topic and back out as is, so a record that passes through unchanged keeps its field
    /// order and number text (a `Value` sorts keys and turns `18446744073709551616` into a
    /// float). Not part of the record: equality compares `value`.
    #[serde(skip)]
    pub value_text: Option<String>,
}

impl GoldenRecord {
    /// A record of `key` and `value` (no timestamp, headers or text).
    pub fn new(key: Value, value: Option<Value>) -> Self {
        GoldenRecord {
            key,
            value,
            timestamp: None,
            headers: Vec::new(),
            line: None,
            value_text: None,
        }
    }

    /// The record as one JSON line (no newline), the value written as its text when it has one.
    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            key: &'a Value,
            value: Option<ValueOut<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            timestamp: Option<i64>,
            #[serde(skip_serializing_if = "<[_]>::is_empty", with = "header_map")]
            headers: &'a [(String, Option<String>)],
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum ValueOut<'a> {
            Text(&'a serde_json::value::RawValue),
            Value(&'a Value),
        }
        let raw = self
            .value_text
            .as_deref()
            .and_then(|t| serde_json::from_str::<&serde_json::value::RawValue>(t).ok());
        let line = Line {
            key: &self.key,
            value: match (raw, &self.value) {
                (_, None) => None,
                (Some(r), Some(_)) => Some(ValueOut::Text(r)),
                (None, Some(v)) => Some(ValueOut::Value(v)),
            },
            timestamp: self.timestamp,
            headers: &self.headers,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The `value` of a `.jsonl` line as its text.
#[derive(Deserialize)]
struct ValueText<'a> {
    #[serde(borrow, default)]
    value: Option<&'a serde_json::value::RawValue>,
}

/// `bytes` as JSON text that can stand for the value on one `.jsonl` line: UTF-8, valid JSON,
/// no line break (JSON text written pretty is printed again compactly).
pub(super) fn json_line_text(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.contains(['\n', '\r']) {
        return None;
    }
    serde_json::from_str::<&serde_json::value::RawValue>(text).ok()?;
    Some(text.trim().to_owned())
}

impl PartialEq for GoldenRecord {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.value == other.value
            && self.timestamp == other.timestamp
            && self.headers == other.headers
    }
}

/// Headers as a JSON object, in record order (a repeated header keeps its last value).
mod header_map {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        h: &[(String, Option<String>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(h.len()))?;
        for (k, v) in h {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Option<String>)>, D::Error> {
        d.deserialize_map(InOrder)
    }

    /// Collects the entries in the order they are written (a JSON object would sort them).
    struct InOrder;

    impl<'de> Visitor<'de> for InOrder {
        type Value = Vec<(String, Option<String>)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of header names to strings (or null)")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, Option<String>>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

/// Reads a `.jsonl` file of records (each remembers its line).
pub fn read_jsonl(path: &Path) -> Result<Vec<GoldenRecord>, GoldenError> {
    let bytes = std::fs::read(path).map_err(|source| GoldenError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let at = |line: usize, message: String| GoldenError::Parse {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let l = std::str::from_utf8(raw).map_err(|e| {
            at(
                i + 1,
                format!("not UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
            )
        })?;
        if l.trim().is_empty() {
            continue;
        }
        let mut r: GoldenRecord = serde_json::from_str(l).map_err(|e| at(i + 1, e.to_string()))?;
        r.line = Some(i + 1);
        r.value_text = serde_json::from_str::<ValueText>(l)
            .ok()
            .and_then(|t| t.value)
            .filter(|raw| raw.get() != "null")
            .map(|raw| raw.get().to_owned());
        out.push(r);
    }
    Ok(out)
}

/// Writes records as `.jsonl` text.
pub fn to_jsonl(records: &[GoldenRecord]) -> String {
    records.iter().map(|r| r.to_json_line() + "\n").collect()
}
