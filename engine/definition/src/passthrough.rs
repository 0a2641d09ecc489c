//! Unmodified JSON values keep their bytes. A definition works on parsed `serde_json::Value`s,
//! which sort object keys and hold numbers as `i64`/`u64`/`f64`; written again, a record that
//! only passed through (`filter`, `branch`, `validate`, `to`) would come out with its fields
//! reordered and `18446744073709551616` as `1.8446744073709552e19`.
//!
//! So each stream thread remembers the bytes of the last few JSON values it decoded (a record
//! is decoded and its outputs written on the same thread, before the next record). When a value
//! is written, [`original_of`] compares it with each remembered text *while parsing that text*
//! (no allocation, stopping at the first difference); when the text parses to exactly the value
//! being written, those bytes are written instead of a new serialization. A value that equals
//! its input is the input, so this never changes what a record means: it keeps its field order,
//! number text and spacing. A modified value differs early and is serialized as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// How many recent decodes a thread remembers (a record's key and value, a store read or two).
const SLOTS: usize = 4;
/// Larger values are not remembered (their bytes would stay in memory per thread).
const MAX_BYTES: usize = 1 << 20;

#[derive(Default)]
struct Recent {
    slots: [Vec<u8>; SLOTS],
    /// The slot the next decode overwrites.
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::default();
}

/// Remembers `bytes`, just decoded as JSON on this thread.
pub(crate) fn remember(bytes: &[u8]) {
    if bytes.len() > MAX_BYTES {
        return;
    }
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        let i = r.next;
        r.next = (i + 1) % SLOTS;
        let slot = &mut r.slots[i];
        slot.clear();
        slot.extend_from_slice(bytes);
    });
}

/// The bytes of a recent decode on this thread that parse to exactly `value`, if any.
pub(crate) fn original_of(value: &Value) -> Option<Vec<u8>> {
    RECENT.with(|r| {
        let r = r.borrow();
        // Newest first: the record being processed was decoded last but for store reads.
        (1..=SLOTS)
            .map(|back| &r.slots[(r.next + SLOTS - back) % SLOTS])
            .find(|text| !text.is_empty() && parses_to(text, value))
            .cloned()
    })
}

/// Whether `text` is JSON that `serde_json` would parse to `value`.
fn parses_to(text: &[u8], value: &Value) -> bool {
    let mut de = serde_json::Deserializer::from_slice(text);
    matches!(Same(value).deserialize(&mut de), Ok(true)) && de.end().is_ok()
}

/// A seed that parses a JSON value and says whether it equals the one it holds, failing at the
/// first difference (an error ends the parse early).
struct Same<'v>(&'v Value);

fn differs<E: de::Error>() -> E {
    E::custom("differs")
}

impl<'de> DeserializeSeed<'de> for Same<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Same<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.0.is_null().then_some(true).ok_or_else(differs)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<bool, E> {
        (self.0.as_bool() == Some(b))
            .then_some(true)
            .ok_or_else(differs)
    }
    // serde_json parses a non-negative integer as u64, a negative one as i64 and anything else
    // as f64, and `Number`s of different kinds are unequal: compare kind and value.
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
        match self.0 {
            Value::Number(m) if m.is_u64() && m.as_u64() == Some(n) => Ok(true),
            _ => Err(differs()),
        }
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<bool, E> {
        match self.0 {
            Value::Number(m) if !m.is_u64() && !m.is_f64() && m.as_i64() == Some(n) => Ok(true),
            _ => Err(differs()),
        }
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<bool, E> {
        match self.0 {
            Value::Number(m) if m.is_f64() && m.as_f64() == Some(n) => Ok(true),
            _ => Err(differs()),
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
        (self.0.as_str() == Some(s))
            .then_some(true)
            .ok_or_else(differs)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let Value::Array(items) = self.0 else {
            return Err(differs());
        };
        for item in items {
            if seq.next_element_seed(Same(item))?.is_none() {
                return Err(differs());
            }
        }
        // One element more than the value has: it differs (parse it as anything to find out).
        match seq.next_element::<de::IgnoredAny>()? {
            None => Ok(true),
            Some(_) => Err(differs()),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Value::Object(fields) = self.0 else {
            return Err(differs());
        };
        let mut count = 0;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v = fields.get(k.as_ref()).ok_or_else(differs)?;
            map.next_value_seed(Same(v))?;
            count += 1;
        }
        // A repeated key counts twice, so it never passes for the (deduplicated) value.
        (count == fields.len()).then_some(true).ok_or_else(differs)
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(text: &str) -> bool {
        let value: Value = serde_json::from_str(text).unwrap();
        parses_to(text.as_bytes(), &value)
    }

    #[test]
    fn a_text_parses_to_its_own_value() {
        for t in [
            r#"{"z": 1, "a": [1, -2, 3.5, 1e3, "x\"y", null, true], "m": {"b": {}, "a": []}}"#,
            "18446744073709551616",
            r#""Привет""#,
            r#"{"k\u00e9y": "v\n"}"#,
            "  [ ]  ",
        ] {
            assert!(same(t), "{t}");
        }
    }

    #[test]
    fn any_difference_is_found() {
        let cases = [
            (r#"{"a": 1}"#, r#"{"a": 1.0}"#),
            (r#"{"a": 1}"#, r#"{"a": 1, "b": 2}"#),
            (r#"{"a": 1, "b": 2}"#, r#"{"a": 1}"#),
            (r#"[1, 2]"#, r#"[1, 2, 3]"#),
            (r#"[1, 2, 3]"#, r#"[1, 2]"#),
            (r#"-1"#, r#"1"#),
            (r#""a""#, r#""b""#),
            (r#"null"#, r#"false"#),
            // serde_json keeps the last of a repeated key; the text is not the value's.
            (r#"{"a": 1, "a": 2}"#, r#"{"a": 2}"#),
            (r#"{"a": 2, "a": 2}"#, r#"{"a": 2}"#),
        ];
        for (text, value) in cases {
            let value: Value = serde_json::from_str(value).unwrap();
            assert!(!parses_to(text.as_bytes(), &value), "{text} vs {value}");
        }
    }

    #[test]
    fn remembered_bytes_come_back_for_an_equal_value_only() {
        let text = br#"{"z":18446744073709551616,"a":"x"}"#;
        remember(text);
        let value: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(original_of(&value).as_deref(), Some(&text[..]));
        let mut changed = value.clone();
        changed["a"] = Value::from("y");
        assert_eq!(original_of(&changed), None);
        // Still found after a few other decodes (a key, a store read).
        remember(b"\"k\"");
        remember(b"{}");
        assert_eq!(original_of(&value).as_deref(), Some(&text[..]));
    }
}
