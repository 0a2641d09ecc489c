//! Load-time type checks of expressions on Avro records. Where a stream's values (or keys) are
//! declared `{avro: schema.avsc}` and no step has computed them yet, every record has the
//! schema's shape, so an expression that reads a field the schema lacks (`value.prise`) or
//! mixes types no record can satisfy (`value.price > "5"`, `value.name + 1`) would fail on
//! every record: `weir check` reports it at the expression.
//!
//! CEL here has no static type checker, so the check evaluates the expression on *sample
//! values* of the schema, as records decode (strings `""` and `"a"`, numbers `0` and `1` of the
//! field's int or double kind, arrays of one sample item, maps `{}`, enums their first symbol, a
//! union each of its non-null branches in turn). Only errors of type — a missing field, no overload of an
//! operator or function for the types, values that cannot be compared — count, and only when
//! every sample fails: errors that depend on values (division by zero, an index out of range)
//! stay runtime errors of the record, as does a path a sample does not reach.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;
use serde_json::{Map, Value};

use super::expr::Expr;
use super::format::Format;

/// How deep samples of recursive schemas go.
const MAX_DEPTH: usize = 6;

/// Sample values of what records of `format` hold, when the format declares their shape
/// (Avro); `None` for formats whose values can be anything (JSON).
pub(crate) fn samples(format: &Format) -> Option<Vec<Value>> {
    match format {
        Format::String => Some(vec![Value::from(""), Value::from("a")]),
        Format::I64 => Some(vec![Value::from(0), Value::from(1)]),
        Format::Json => None,
        Format::Avro(a) => schema_samples(a.schema()),
        Format::RegistryAvro(a) => schema_samples(a.schema()),
        // As expressions see a windowed key: the grouping key and its window.
        Format::Windowed(w) => samples(&w.inner).map(|keys| {
            keys.into_iter()
                .map(|key| {
                    let mut m = Map::new();
                    m.insert("key".into(), key);
                    m.insert("start".into(), Value::from(0));
                    m.insert("end".into(), Value::from(1));
                    Value::Object(m)
                })
                .collect()
        }),
    }
}

fn schema_samples(schema: &Schema) -> Option<Vec<Value>> {
    let mut names = HashMap::new();
    collect_names(schema, &mut names);
    let variants = widest_union(schema, &names, 0).max(1);
    [false, true]
        .into_iter()
        .flat_map(|one| (0..variants).map(move |branch| (one, branch)))
        .map(|(one, branch)| sample(schema, &names, Fill { branch, one }, 0))
        .collect()
}

/// The named schemas (records, enums, fixed) a schema defines, for its references.
fn collect_names<'s>(schema: &'s Schema, names: &mut HashMap<&'s Name, &'s Schema>) {
    match schema {
        Schema::Record(r) if names.insert(&r.name, schema).is_none() => {
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => {
            names.insert(&e.name, schema);
        }
        Schema::Fixed(f) => {
            names.insert(&f.name, schema);
        }
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_names(v, names)),
        _ => {}
    }
}

/// The most non-null branches of any union in `schema`.
fn widest_union(schema: &Schema, names: &HashMap<&Name, &Schema>, depth: usize) -> usize {
    if depth > MAX_DEPTH {
        return 0;
    }
    let deeper = |s: &Schema| widest_union(s, names, depth + 1);
    match schema {
        Schema::Record(r) => r
            .fields
            .iter()
            .map(|f| deeper(&f.schema))
            .max()
            .unwrap_or(0),
        Schema::Array(a) => deeper(&a.items),
        Schema::Map(m) => deeper(&m.types),
        Schema::Union(u) => {
            let non_null = u.variants().iter().filter(|v| **v != Schema::Null).count();
            u.variants()
                .iter()
                .map(deeper)
                .max()
                .unwrap_or(0)
                .max(non_null)
        }
        Schema::Ref { name } => names.get(name).map_or(0, |s| deeper(s)),
        _ => 0,
    }
}

/// How a sample is filled: which branch of each union, and zeros and empty strings or ones and
/// `"a"` (so that an error one filling meets by its values, `0.0 / 0.0`, the other does not).
#[derive(Clone, Copy)]
struct Fill {
    /// Each union takes its `branch`-th non-null branch (the last when it has fewer).
    branch: usize,
    one: bool,
}

/// A value of `schema` as it decodes to JSON, filled as `fill` says. `None` for a type whose
/// JSON view is not known here.
fn sample(
    schema: &Schema,
    names: &HashMap<&Name, &Schema>,
    fill: Fill,
    depth: usize,
) -> Option<Value> {
    let deeper = |s: &Schema| sample(s, names, fill, depth + 1);
    let (int, double, text) = if fill.one {
        (1, 1.0, "a")
    } else {
        (0, 0.0, "")
    };
    let branch = fill.branch;
    Some(match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Bool(fill.one),
        Schema::Int
        | Schema::Long
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Value::from(int),
        Schema::Float | Schema::Double => Value::from(double),
        Schema::String | Schema::Uuid(_) => Value::from(text),
        Schema::Bytes | Schema::Fixed(_) => Value::Array(vec![Value::from(int)]),
        Schema::Enum(e) => Value::from(e.symbols.first().cloned().unwrap_or_default()),
        Schema::Array(a) if depth < MAX_DEPTH => Value::Array(vec![deeper(&a.items)?]),
        Schema::Array(_) => Value::Array(Vec::new()),
        Schema::Map(_) => Value::Object(Map::new()),
        Schema::Union(u) => {
            let non_null: Vec<&Schema> = u
                .variants()
                .iter()
                .filter(|v| **v != Schema::Null)
                .collect();
            match non_null.get(branch.min(non_null.len().saturating_sub(1))) {
                Some(v) => deeper(v)?,
                None => Value::Null,
            }
        }
        Schema::Record(r) if depth < MAX_DEPTH => {
            let mut fields = Map::new();
            for f in &r.fields {
                fields.insert(f.name.clone(), deeper(&f.schema)?);
            }
            Value::Object(fields)
        }
        Schema::Ref { name } if depth < MAX_DEPTH => deeper(names.get(name)?)?,
        // A recursive schema below the sampled depth.
        Schema::Record(_) | Schema::Ref { .. } => Value::Null,
        // Decimals, durations: their JSON view is not known here, so the schema is not checked.
        _ => return None,
    })
}

/// Why `expr` fails on every sample record, if it does: the first sample's type error. Nothing
/// when it reads a variable with no known shape (a JSON value, a looked-up row, an aggregate).
pub(crate) fn problem(
    expr: &Expr,
    keys: Option<&[Value]>,
    values: Option<&[Value]>,
) -> Option<String> {
    let scope: Vec<(&str, bool)> = expr.scope().collect();
    let reads = |name: &str| scope.iter().any(|(n, read)| *n == name && *read);
    if scope
        .iter()
        .any(|(n, read)| *read && *n != "key" && *n != "value")
        || !(reads("key") || reads("value"))
    {
        return None;
    }
    let null = [Value::Null];
    let keys = if reads("key") { keys? } else { &null[..] };
    let values = if reads("value") { values? } else { &null[..] };
    let mut first = None;
    for k in keys {
        for v in values {
            let vals: Vec<&Value> = scope
                .iter()
                .map(|(n, _)| match *n {
                    "key" => k,
                    "value" => v,
                    _ => &null[0],
                })
                .collect();
            match expr.type_error(&vals) {
                None => return None,
                Some(e) => {
                    first.get_or_insert(e);
                }
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    #[test]
    fn samples_have_the_decoded_shape() {
        let s = schema(
            r#"{"type":"record","name":"P","fields":[
                {"name":"id","type":"string"},{"name":"price","type":"double"},
                {"name":"n","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},
                {"name":"kind","type":{"type":"enum","name":"K","symbols":["NEW","USED"]}},
                {"name":"shop","type":["null","string","long"],"default":null},
                {"name":"next","type":["null","P"],"default":null}]}"#,
        );
        let out = schema_samples(&s).unwrap();
        assert_eq!(
            out.len(),
            4,
            "zeros and ones, each per branch of the widest union"
        );
        assert_eq!(out[0]["id"], "");
        assert!(out[0]["price"].is_f64());
        assert!(out[0]["n"].is_i64());
        assert_eq!(out[0]["tags"], serde_json::json!([""]));
        assert_eq!(out[0]["kind"], "NEW");
        assert_eq!(out[0]["shop"], "");
        assert_eq!(out[1]["shop"], 0);
        assert_eq!(out[2]["price"], 1.0);
        assert!(
            out[0]["next"].is_object(),
            "a recursive reference is followed"
        );
    }
}
