//! JSON ↔ CEL: how a record's `serde_json::Value` is seen by an expression and how the result
//! becomes JSON again.
//!
//! JSON → CEL (borrowing strings, no copy of text): null → `null`, booleans → `bool`, a number
//! written without fraction or exponent → `int` (`uint` above `i64::MAX`), any other number →
//! `double`, strings → `string`, arrays → `list`, objects → `map` with string keys.
//!
//! CEL → JSON: `int`/`uint`/`double` → numbers (a NaN or infinite double is an error), `string`,
//! `bool`, `null`, `list` → array, `map` → object (int, uint and bool keys are written as their
//! text). `bytes`, types and other CEL-only values are errors: convert them in the expression
//! (e.g. `string(b)`).

use std::collections::{BTreeSet, HashMap};

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::objects::Key;
use serde_json::{Map, Number, Value};

/// `v` as a CEL value borrowing `v`'s strings.
pub(crate) fn json_to_val(v: &Value) -> Box<dyn Val + '_> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => number(n),
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_val).collect::<Vec<_>>(),
        )),
        Value::Object(fields) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = fields
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val(v)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}

/// Like [`json_to_val`], but of an object only the `fields` (all an expression reads of it).
pub(crate) fn json_fields_to_val<'v>(v: &'v Value, fields: &BTreeSet<String>) -> Box<dyn Val + 'v> {
    match v {
        Value::Object(m) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = fields
                .iter()
                .filter_map(|f| m.get_key_value(f.as_str()))
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val(v)))
                .collect();
            Box::new(CelMap::from(map))
        }
        other => json_to_val(other),
    }
}

fn number(n: &Number) -> Box<dyn Val + 'static> {
    if let Some(i) = n.as_i64() {
        Box::new(CelInt::from(i))
    } else if let Some(u) = n.as_u64() {
        Box::new(CelUInt::from(u))
    } else {
        Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
    }
}

/// A CEL result as JSON, or why it has no JSON form.
pub(crate) fn cel_to_json(v: &cel::Value) -> Result<Value, String> {
    Ok(match v {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Value::Number(n),
            None => return Err(format!("the double {f} cannot be written as JSON")),
        },
        cel::Value::String(s) => Value::String(s.as_str().to_owned()),
        cel::Value::List(items) => Value::Array(
            items
                .iter()
                .map(cel_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        cel::Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.as_str().to_owned(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v)?);
            }
            Value::Object(out)
        }
        other => {
            return Err(format!(
                "a value of type {} cannot be written as JSON; convert it in the expression",
                other.type_of()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let val = json_to_val(v);
        let cel = cel::Value::try_from(val.as_ref()).unwrap();
        cel_to_json(&cel).unwrap()
    }

    #[test]
    fn numbers_keep_their_kind() {
        let v = json!({"i": 3, "d": 2.5, "whole": 99.0, "big": u64::MAX, "neg": -4});
        let cel = cel::Value::try_from(json_to_val(&v).as_ref()).unwrap();
        let cel::Value::Map(m) = &cel else { panic!() };
        let get = |k: &str| m.map.get(&Key::String(k.to_owned().into())).cloned();
        assert_eq!(get("i"), Some(cel::Value::Int(3)));
        assert_eq!(get("d"), Some(cel::Value::Float(2.5)));
        assert_eq!(get("whole"), Some(cel::Value::Float(99.0)));
        assert_eq!(get("big"), Some(cel::Value::UInt(u64::MAX)));
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn nested_values_round_trip() {
        let v = json!({"a": [1, "x", null, true, {"b": []}], "c": {}});
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn cel_only_values_are_errors() {
        assert!(cel_to_json(&cel::Value::Bytes(vec![1].into())).is_err());
        assert!(cel_to_json(&cel::Value::Float(f64::NAN)).is_err());
        let m: HashMap<Key, cel::Value> = [(Key::Int(1), cel::Value::Bool(true))].into();
        assert_eq!(
            cel_to_json(&cel::Value::Map(m.into())).unwrap(),
            json!({"1": true})
        );
    }
}
