//! Avro values as JSON and back: how definition files, the state endpoint and the Schema
//! Registry serde see Avro data without Rust types.

use apache_avro::types::Value as Avro;
use serde_json::{Map, Number, Value};

/// JSON as a schema-less Avro value; `resolve` then fits it to the schema (objects to records,
/// numbers to the schema's numeric type, values to a union's matching branch).
pub fn json_to_avro(v: &Value) -> Avro {
    match v {
        Value::Null => Avro::Null,
        Value::Bool(b) => Avro::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Avro::Long(i),
            None => Avro::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Avro::String(s.clone()),
        Value::Array(items) => Avro::Array(items.iter().map(json_to_avro).collect()),
        Value::Object(m) => Avro::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_avro(v)))
                .collect(),
        ),
    }
}

fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("the Avro number {f} has no JSON form"))
}

/// A decoded Avro datum as JSON.
pub fn avro_to_json(v: Avro) -> Result<Value, String> {
    Ok(match v {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(l)
        | Avro::TimeMicros(l)
        | Avro::TimestampMillis(l)
        | Avro::TimestampMicros(l)
        | Avro::TimestampNanos(l)
        | Avro::LocalTimestampMillis(l)
        | Avro::LocalTimestampMicros(l)
        | Avro::LocalTimestampNanos(l) => Value::from(l),
        Avro::Float(f) => float(f64::from(f))?,
        Avro::Double(d) => float(d)?,
        Avro::Bytes(b) | Avro::Fixed(_, b) => {
            Value::Array(b.into_iter().map(Value::from).collect())
        }
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::Union(_, inner) => avro_to_json(*inner)?,
        Avro::Array(items) => Value::Array(
            items
                .into_iter()
                .map(avro_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Avro::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k, avro_to_json(v)?);
            }
            Value::Object(out)
        }
        Avro::Record(fields) => {
            let mut out = Map::new();
            for (k, v) in fields {
                out.insert(k, avro_to_json(v)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("Avro value {other:?} has no JSON form yet")),
    })
}
