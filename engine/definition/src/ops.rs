//! The DSL calls of each step, with the closures that evaluate its expressions. Every closure is
//! total: a failing expression yields a failed value or a predicate answer (see `failure`),
//! never a panic.
//!
//! Values are `serde_json::Value` on both sides of every stream; node names come from the
//! step's `name:` (applied with `.named`), or are the DSL's generated ones.

use std::sync::Arc;

use serde_json::Value;

use super::expr::Expr;
use super::failure::{self, OnFailure, first_failed, is_failed};
use super::steps::{BranchDef, JoinKeep, Keep, Level, Lookup};
use super::typed::{AnyTable, Field};
use weir_runtime::dsl::{GlobalKTable, JoinWindows, KStream, KTable, StreamJoined};

pub(crate) type Stream = KStream<Value, Value>;
pub(crate) type Table = KTable<Value, Value>;
pub(crate) type Global = GlobalKTable<Value, Value>;

const BRANCH: OnFailure = OnFailure {
    failed_input: true,
    error: false,
    outcome: "the record goes on to the next branch",
};

pub(crate) fn named<K: Field, V: Field>(s: KStream<K, V>, name: &Option<String>) -> KStream<K, V> {
    match name {
        Some(n) => s.named(n.clone()),
        None => s,
    }
}

pub(crate) fn filter<K: Field, V: Field>(s: &KStream<K, V>, e: Expr, keep: bool) -> KStream<K, V> {
    let e = Arc::new(e);
    let test = move |k: &K, v: &V| failure::try_test(&e, &[&k.json(), &v.json()]);
    if keep {
        s.try_filter(test)
    } else {
        s.try_filter_not(test)
    }
}

/// `validate`: a record for which the predicate is false is an error of the record (the
/// processing error handler decides: fail, skip, dead-letter), its message the `error`
/// expression's text.
pub(crate) fn validate<K: Field, V: Field>(
    s: &KStream<K, V>,
    e: Expr,
    error: Option<Expr>,
) -> KStream<K, V> {
    let e = Arc::new(e);
    let error = error.map(Arc::new);
    s.try_filter(move |k, v| {
        let (k, v) = (k.json(), v.json());
        let (k, v) = (k.as_ref(), v.as_ref());
        let valid = match failure::try_test(&e, &[k, v]) {
            Ok(valid) => valid,
            // The predicate itself failed: the step's own message first, then why.
            Err(why) => {
                return Err(match &error {
                    Some(m) => match m.eval(&[k, v]) {
                        Ok(Value::String(text)) => format!("{text} (the check failed: {why})"),
                        Ok(other) => format!("{other} (the check failed: {why})"),
                        Err(_) => format!("invalid record (the check failed: {why})"),
                    },
                    None => format!("invalid record (the check failed: {why})"),
                }
                .into());
            }
        };
        if valid {
            return Ok(true);
        }
        let message = match &error {
            Some(m) => match m.eval(&[k, v]) {
                Ok(Value::String(text)) => text,
                Ok(other) => other.to_string(),
                Err(err) => format!("{}: {}", m.label, err.0),
            },
            None => format!("{}: validation failed", e.label),
        };
        Err(message.into())
    })
}

pub(crate) fn map_values<K: Field, V: Field>(s: &KStream<K, V>, e: Expr) -> KStream<K, Value> {
    s.map_values_with_key(move |k, v| failure::eval(&e, &[&k.json(), &v.json()]))
}

pub(crate) fn map<K: Field, V: Field>(s: &KStream<K, V>, key: Expr, value: Expr) -> Stream {
    s.map(move |k, v| {
        let (k, v) = (k.json(), v.json());
        let k2 = failure::eval(&key, &[&k, &v]);
        let v2 = failure::eval(&value, &[&k, &v]);
        (k2, v2)
    })
}

pub(crate) fn select_key<K: Field, V: Field>(s: &KStream<K, V>, e: Expr) -> KStream<Value, V> {
    s.select_key(move |k, v| failure::eval(&e, &[&k.json(), &v.json()]))
}

/// The elements of a list result; anything else becomes one failed value.
fn elements(e: &Expr, out: Value) -> Vec<Value> {
    match out {
        Value::Array(items) => items,
        v if is_failed(&v) => vec![v],
        other => vec![failure::failed(e, &format!("expected a list, got {other}"))],
    }
}

pub(crate) fn flat_map_values<K: Field, V: Field>(s: &KStream<K, V>, e: Expr) -> KStream<K, Value> {
    s.flat_map_values(move |v: V| elements(&e, failure::eval(&e, &[&v.json()])))
}

pub(crate) fn flat_map<K: Field, V: Field>(s: &KStream<K, V>, e: Expr) -> Stream {
    s.flat_map(move |k: K, v: V| {
        elements(&e, failure::eval(&e, &[&k.json(), &v.json()]))
            .into_iter()
            .map(|item| match item {
                Value::Object(mut m) if m.len() == 2 && m.contains_key("key") => {
                    let k2 = m.remove("key").unwrap_or(Value::Null);
                    let v2 = m.remove("value").unwrap_or(Value::Null);
                    (k2, v2)
                }
                f if is_failed(&f) => (f.clone(), f),
                other => {
                    let f = failure::failed(
                        &e,
                        &format!("expected {{\"key\": ..., \"value\": ...}}, got {other}"),
                    );
                    (f.clone(), f)
                }
            })
            .collect::<Vec<_>>()
    })
}

pub(crate) fn log<K: Field, V: Field>(
    s: &KStream<K, V>,
    e: Expr,
    level: Level,
    stream: String,
) -> KStream<K, V> {
    s.peek(move |k, v| {
        let text = match e.eval(&[&k.json(), &v.json()]) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(err) => format!("(log expression {} failed: {})", e.label, err.0),
        };
        match level {
            Level::Trace => tracing::trace!(target: "weir::definition", %stream, "{text}"),
            Level::Debug => tracing::debug!(target: "weir::definition", %stream, "{text}"),
            Level::Info => tracing::info!(target: "weir::definition", %stream, "{text}"),
            Level::Warn => tracing::warn!(target: "weir::definition", %stream, "{text}"),
            Level::Error => tracing::error!(target: "weir::definition", %stream, "{text}"),
        }
    })
}

/// The split: each branch's predicate (none: no record but tombstones), the branch marked
/// `tombstones` taking the tombstones.
pub(crate) fn branch<K: Field, V: Field>(
    s: &KStream<K, V>,
    prefix: &str,
    branches: Vec<BranchDef>,
    default: Option<String>,
) -> std::collections::BTreeMap<String, KStream<K, V>> {
    let mut split = s.split(prefix);
    for b in branches {
        let name = b.name.name;
        let pred = move |k: &K, v: &V| match &b.when {
            Some(e) => failure::test(e, &[&k.json(), &v.json()], BRANCH),
            None => false,
        };
        split = if b.tombstones {
            split.branch_with_tombstones(name, pred)
        } else {
            split.branch(name, pred)
        };
    }
    match default {
        Some(d) => split.default_branch(d),
        None => split.no_default_branch(),
    }
}

/// A source's event time: `e` evaluated on the record (a tombstone's `value` is `null`), its
/// timestamp and the partition time; a failure is the record's invalid timestamp (it goes to
/// the deserialization handler).
pub(crate) fn timestamp_extractor(
    e: Expr,
) -> impl Fn(&Value, Option<&Value>, i64, i64) -> Result<i64, String> + Send + Sync + 'static {
    move |k, v, ts, partition_time| {
        let vals = [
            k,
            v.unwrap_or(&Value::Null),
            &Value::from(ts),
            &Value::from(partition_time),
        ];
        e.eval_millis(&vals).map_err(|err| {
            weir_core::metrics::expression_error(e.application(), &e.label);
            format!("{}: {}", e.label, err.0)
        })
    }
}

/// The value a lookup produces from the record value and the table value (if any).
fn joined(l: &LookupFn, v: Value, t: Option<Value>) -> Value {
    if let Some(f) = first_failed(&[&v]) {
        return f.clone();
    }
    let t = t.unwrap_or(Value::Null);
    match &l.value {
        Some(e) => failure::eval(e, &[&v, &t, &t, &t]),
        None => match v {
            Value::Object(mut m) => {
                m.insert(l.field.clone(), t);
                Value::Object(m)
            }
            other => failure::failed_labelled(
                &l.application,
                &l.label,
                &format!(
                    "the record value {other} is not an object, so the table value cannot be added \
                     as field `{}`; give the lookup a `value:` expression",
                    l.field
                ),
            ),
        },
    }
}

/// What a lookup's joiner needs.
struct LookupFn {
    value: Option<Expr>,
    field: String,
    label: String,
    application: String,
}

/// `[value, matched]`: what an anti-join carries from its join to its filter.
fn pair(v: Value, matched: bool) -> Value {
    Value::Array(vec![v, Value::Bool(matched)])
}

fn unpair(p: Value) -> Value {
    match p {
        Value::Array(mut a) if a.len() == 2 => a.swap_remove(0),
        other => other,
    }
}

fn is_matched(p: &Value) -> bool {
    matches!(p, Value::Array(a) if a.get(1) == Some(&Value::Bool(true)))
}

/// Where a lookup looks.
pub(crate) enum Target<'a> {
    Global(&'a Global),
    Local(&'a Table),
}

/// A `keep: left` lookup of a windowed table (its key's window that ended last at or before the
/// record's time, at most one window size before it): the DSL's `left_join_window`, named
/// `name`. The table value is `null` when there is no such window.
pub(crate) fn lookup_window(
    s: &Stream,
    table: &AnyTable,
    l: Lookup,
    name: &Option<String>,
    label: String,
) -> Stream {
    let application = l
        .value
        .as_ref()
        .map(|e| e.application().to_owned())
        .unwrap_or_default();
    let f = LookupFn {
        application,
        value: l.value,
        field: l.field,
        label,
    };
    let out = match table {
        AnyTable::Counts(t) => s.left_join_window(t, move |v, n: Option<i64>| {
            joined(&f, v, n.map(Value::from))
        }),
        AnyTable::Windowed(t) => s.left_join_window(t, move |v, tv| joined(&f, v, tv)),
        AnyTable::Plain(t) => s.left_join(t, move |v, tv| joined(&f, v, tv)),
    };
    named(out, name)
}

/// The lookup's nodes: the join (named `name`), and for `keep: unmatched` the filter dropping
/// matched records and the map restoring their value.
pub(crate) fn lookup(
    s: &Stream,
    target: Target<'_>,
    l: Lookup,
    name: &Option<String>,
    label: String,
) -> Stream {
    let application = [&l.key, &l.many, &l.value]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.application().to_owned())
        .unwrap_or_default();
    let f = Arc::new(LookupFn {
        application,
        value: l.value,
        field: l.field,
        label,
    });
    let keep = l.keep;
    if let (Target::Global(t), Some(keys)) = (&target, l.many) {
        let keys = Arc::new(keys);
        let sel = move |k: &Value, v: &Value| match failure::eval(&keys, &[k, v]) {
            Value::Array(items) => items,
            // A failed value (or a non-list) as the one key: the key serde refuses it, so the
            // record reaches the processing error handler.
            f if is_failed(&f) => vec![f],
            other => vec![failure::failed(
                &keys,
                &format!("`keys:` must give a list, got {other}"),
            )],
        };
        let joiner = move |v: Value, rows: Vec<(Value, Value)>| {
            let found: serde_json::Map<String, Value> = rows
                .into_iter()
                .map(|(k, tv)| match k {
                    Value::String(s) => (s, tv),
                    other => (other.to_string(), tv),
                })
                .collect();
            joined(&f, v, Some(Value::Object(found)))
        };
        return named(s.left_join_global_many(t, sel, joiner), name);
    }
    let restore_fn = f.clone();
    let joined_stream = match (target, l.key) {
        (Target::Global(t), Some(key)) => {
            let key = Arc::new(key);
            let sel = move |k: &Value, v: &Value| failure::eval(&key, &[k, v]);
            match keep {
                Keep::Inner => s.join_global(t, sel, move |v, tv| joined(&f, v, Some(tv))),
                Keep::Left => s.left_join_global(t, sel, move |v, tv| joined(&f, v, tv)),
                Keep::Unmatched => {
                    s.left_join_global(t, sel, |v, tv: Option<Value>| pair(v, tv.is_some()))
                }
            }
        }
        (Target::Local(t), _) => match keep {
            Keep::Inner => s.join(t, move |v, tv| joined(&f, v, Some(tv))),
            Keep::Left => s.left_join(t, move |v, tv| joined(&f, v, tv)),
            Keep::Unmatched => s.left_join(t, |v, tv: Option<Value>| pair(v, tv.is_some())),
        },
        // The reader requires a key for global tables.
        (Target::Global(t), None) => {
            s.left_join_global(t, |k: &Value, _: &Value| k.clone(), |v, _| v)
        }
    };
    let joined_stream = named(joined_stream, name);
    if keep != Keep::Unmatched {
        return joined_stream;
    }
    let kept = named(joined_stream.filter(|_, p| !is_matched(p)), &l.drop_name);
    // The kept record's value: as it was, or what `value:` makes of it (the table value is
    // `null`: there is no row).
    let restore = move |p: Value| {
        let v = unpair(p);
        match &restore_fn.value {
            Some(_) => joined(&restore_fn, v, None),
            None => v,
        }
    };
    named(kept.map_values(restore), &l.value_name)
}

/// `count` as an aggregation of i64 JSON numbers (the same node and store bytes as the DSL's
/// `count`, which has a fixed `i64` value type).
pub(crate) fn count_update(_: &Value, v: Value, agg: Value) -> Value {
    if is_failed(&v) {
        return v;
    }
    Value::from(agg.as_i64().unwrap_or(0).saturating_add(1))
}

static NULL: Value = Value::Null;

/// A windowed join of two streams: the joined value is `value` evaluated on both values (`null`
/// for the side a `left` or `outer` join emits without a partner).
pub(crate) fn stream_join(
    s: &Stream,
    other: &Stream,
    keep: JoinKeep,
    value: Expr,
    window: JoinWindows,
    joined: StreamJoined<Value, Value, Value>,
) -> Stream {
    match keep {
        JoinKeep::Inner => s.join_stream(
            other,
            move |l: &Value, r: &Value| failure::eval(&value, &[l, r]),
            window,
            joined,
        ),
        JoinKeep::Left => s.left_join_stream(
            other,
            move |l: &Value, r: Option<&Value>| failure::eval(&value, &[l, r.unwrap_or(&NULL)]),
            window,
            joined,
        ),
        JoinKeep::Outer => s.outer_join_stream(
            other,
            move |l: Option<&Value>, r: Option<&Value>| {
                failure::eval(&value, &[l.unwrap_or(&NULL), r.unwrap_or(&NULL)])
            },
            window,
            joined,
        ),
    }
}
