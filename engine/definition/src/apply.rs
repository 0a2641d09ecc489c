//! Applying one step to a stream's [`Flow`]: the DSL call(s) of the step, the formats and
//! key-changed state after it, and the checks that need that state (a lookup in a
//! co-partitioned table or a `group_by_key` after a key change, what may follow a grouping or a
//! branch). Aggregations (`count`, `aggregate`, `reduce`) turn a grouped stream into a table;
//! a stream step after a table first takes its updates (`to_stream`). Record steps run on
//! streams of every type (`typed`: windowed keys, counts); lookups, joins and `group_by_key`
//! need plain keys. Windows and stream–stream joins are applied in `windowed`.

use std::rc::Rc;

use serde_json::Value;

use super::build::{At, Builder, Flow};
use super::error::{DefinitionError, Pos};
use super::expr::Expr;
use super::format::Format;
use super::ops::{self, Stream, Target};
use super::schema::Named;
use super::steps::{Keep, Lookup, Op, Step};
use super::typecheck;
use super::typed::{AnyStream, AnyTable, Field, Typed, each_stream};
use weir_core::serde::SerdeRef;
use weir_runtime::dsl::{Grouped, KStream, Materialized, Produced, Repartitioned};

impl Builder<'_> {
    /// The expressions of `op` that read the record (`key`, `value`) checked against the shape
    /// the stream's formats declare (see `typecheck`).
    fn type_check(&self, flow: &Flow, op: &Op) -> Result<(), DefinitionError> {
        let exprs: Vec<&Expr> = match op {
            Op::Filter { expr, .. } | Op::Log { expr, .. } => vec![expr],
            Op::Validate { expr, error } => std::iter::once(expr).chain(error).collect(),
            Op::MapValues(e) | Op::SelectKey(e) | Op::FlatMapValues(e) | Op::FlatMap(e) => vec![e],
            Op::Map { key, value } => vec![key, value],
            Op::GroupBy { key: Some(e), .. } => vec![e],
            Op::Branch { branches, .. } => {
                branches.iter().filter_map(|b| b.when.as_ref()).collect()
            }
            _ => return Ok(()),
        };
        let (keys, values) = (
            typecheck::samples(&flow.key),
            typecheck::samples(&flow.value),
        );
        for e in exprs {
            if let Some(problem) = typecheck::problem(e, keys.as_deref(), values.as_deref()) {
                let schema = match (&flow.value, &flow.key) {
                    (Format::Avro(a), _) | (_, Format::Avro(a)) => a.path.display().to_string(),
                    (Format::RegistryAvro(a), _) | (_, Format::RegistryAvro(a)) => {
                        a.path.display().to_string()
                    }
                    _ => format!("{} / {}", flow.key.name(), flow.value.name()),
                };
                return Err(self.errs.at(
                    e.pos,
                    format!(
                        "{} fails on every record of this stream ({schema}): {problem}",
                        e.what
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn step(
        &mut self,
        stream: &str,
        flow: Flow,
        step: Step,
    ) -> Result<Flow, DefinitionError> {
        self.node_name(&step.name, step.pos)?;
        self.type_check(&flow, &step.op)?;
        if let Op::Count { .. } | Op::Aggregate { .. } | Op::Reduce { .. } = step.op {
            return self.aggregation(flow, step);
        }
        if let Op::ToStream = step.op {
            let At::Table(t) = &flow.at else {
                return Err(self
                    .errs
                    .at(step.pos, "`to_stream` follows an aggregation (a table)"));
            };
            return Ok(Flow {
                at: At::Stream(t.to_stream().named(&step.name)),
                ..flow
            });
        }
        if let Op::GroupBy {
            key,
            repartition,
            window,
        } = step.op
        {
            let grouped = self.group(flow, key, repartition, &step.name, step.pos, step.kind)?;
            return match window {
                Some(w) => self.window(grouped, w),
                None => Ok(grouped),
            };
        }
        let any = self.stream_of(&flow, step.pos, step.kind)?;
        if let Op::Lookup(_) | Op::Join(_) = step.op {
            let s = match any {
                AnyStream::Plain(s) => s,
                other => return Err(self.not_plain(&other, step.pos, step.kind)),
            };
            return match step.op {
                Op::Lookup(l) => {
                    let label = format!(
                        "{}:{}:{} ({})",
                        self.errs.file, step.pos.line, step.pos.column, step.kind
                    );
                    self.lookup(s, flow, *l, &step.name, step.pos, label)
                }
                Op::Join(j) => self.join(s, flow, *j, &step.name, step.pos),
                _ => Err(self.errs.at(step.pos, "internal: not a join")),
            };
        }
        each_stream!(any, s => self.stream_step(stream, s, flow, step))
    }

    /// A step of a stream of any type: keys and values are JSON to its expressions.
    fn stream_step<K: Field, V: Field>(
        &mut self,
        stream: &str,
        s: KStream<K, V>,
        flow: Flow,
        step: Step,
    ) -> Result<Flow, DefinitionError>
    where
        KStream<K, V>: Typed,
        KStream<K, Value>: Typed,
        KStream<Value, V>: Typed,
    {
        let name = step.name.clone();
        let same = |at: KStream<K, V>, f: &Flow| Flow {
            at: At::Stream(ops::named(at, &name).into_any()),
            ..f.clone()
        };
        let valued = |at: KStream<K, Value>, f: &Flow| Flow {
            at: At::Stream(ops::named(at, &name).into_any()),
            value: f.value.computed(),
            ..f.clone()
        };
        let keyed = |at: Stream, f: &Flow| Flow {
            at: At::Stream(AnyStream::Plain(ops::named(at, &name))),
            key: f.key.computed(),
            value: f.value.computed(),
            key_changed: true,
        };
        Ok(match step.op {
            Op::Filter { expr, keep } => same(ops::filter(&s, expr, keep), &flow),
            Op::Validate { expr, error } => same(ops::validate(&s, expr, error), &flow),
            Op::MapValues(e) => valued(ops::map_values(&s, e), &flow),
            Op::Map { key, value } => keyed(ops::map(&s, key, value), &flow),
            Op::SelectKey(e) => Flow {
                at: At::Stream(ops::named(ops::select_key(&s, e), &name).into_any()),
                key: flow.key.computed(),
                key_changed: true,
                ..flow
            },
            Op::FlatMapValues(e) => valued(ops::flat_map_values(&s, e), &flow),
            Op::FlatMap(e) => keyed(ops::flat_map(&s, e), &flow),
            Op::Log { expr, level } => same(ops::log(&s, expr, level, stream.to_owned()), &flow),
            Op::Branch { branches, default } => {
                let prefix = step.name.clone().unwrap_or_else(|| format!("{stream}-"));
                let mut names: Vec<&str> = Vec::new();
                for n in branches.iter().map(|b| &b.name).chain(default.iter()) {
                    if names.contains(&n.name.as_str()) {
                        return Err(self
                            .errs
                            .at(n.pos, format!("two branches are named `{}`", n.name)));
                    }
                    names.push(&n.name);
                    self.unique("node", &format!("{prefix}{}", n.name), n.pos)?;
                }
                let short: Vec<(String, String)> = names
                    .iter()
                    .map(|n| ((*n).to_owned(), format!("{prefix}{n}")))
                    .collect();
                let mut out = ops::branch(&s, &prefix, branches, default.map(|d| d.name));
                for (n, full) in short {
                    if let Some(b) = out.remove(&full) {
                        let f = Flow {
                            at: At::Stream(b.into_any()),
                            ..flow.clone()
                        };
                        self.flows.push((format!("{stream}.{n}"), f));
                    }
                }
                Flow {
                    at: At::Branched(step.pos),
                    ..flow
                }
            }
            Op::Merge(other) => {
                let o = self.flow(&other)?;
                let os = match &o.at {
                    At::Stream(any) => KStream::<K, V>::of_any(any),
                    _ => None,
                };
                let Some(os) = os else {
                    return Err(self.errs.at(
                        other.pos,
                        format!(
                            "`{}` is not a stream of the same kind here (it ends in a grouping, a \
                             table or a branch, or one of the two has windowed keys)",
                            other.name
                        ),
                    ));
                };
                if o.key != flow.key || o.value != flow.value {
                    return Err(self.errs.at(
                        other.pos,
                        format!(
                            "cannot merge `{}` ({} / {}) into a stream of {} / {}: merged streams have the same formats",
                            other.name, o.key.name(), o.value.name(), flow.key.name(), flow.value.name()
                        ),
                    ));
                }
                Flow {
                    key_changed: flow.key_changed || o.key_changed,
                    ..same(s.merge(os), &flow)
                }
            }
            Op::Repartition(topic) => {
                self.unique("repartition", &topic, step.pos)?;
                let r = Repartitioned::as_(topic).with(
                    self.serde_of(&flow.key, step.pos)?,
                    self.serde_of(&flow.value, step.pos)?,
                );
                Flow {
                    key_changed: false,
                    ..same(s.repartition(r), &flow)
                }
            }
            Op::To { topic, key, value } => {
                let (k, v) =
                    self.topic_formats(&topic, key, value, (flow.key.clone(), flow.value.clone()))?;
                let mut produced =
                    Produced::with(self.serde_of(&k, topic.pos)?, self.serde_of(&v, topic.pos)?);
                if let Some(n) = &step.name {
                    produced = produced.named(n.clone());
                }
                s.to(&topic.name, produced);
                Flow {
                    at: At::Stream(s.into_any()),
                    ..flow
                }
            }
            Op::Lookup(_)
            | Op::Join(_)
            | Op::GroupBy { .. }
            | Op::Count { .. }
            | Op::Aggregate { .. }
            | Op::Reduce { .. }
            | Op::ToStream => {
                return Err(self.errs.at(step.pos, "internal: step handled above"));
            }
        })
    }

    /// Why a step that needs a stream of JSON keys and values cannot take `s`.
    pub(super) fn not_plain(&self, s: &AnyStream, pos: Pos, kind: &str) -> DefinitionError {
        let why = match s {
            AnyStream::Counts(_) | AnyStream::Counted(_) => {
                "this stream's values are the `i64` counts of a windowed `count`: make them JSON \
                 first (`map_values: value`)"
            }
            _ => {
                "this stream's keys are windowed (`key.key`, `key.start`, `key.end`): give it a \
                 plain key first (`select_key: key.key`, then `repartition`, or `group_by: key.key`)"
            }
        };
        self.errs.at(
            pos,
            format!("`{kind}` needs a stream of JSON keys and values; {why}"),
        )
    }

    /// The serde of `T` in `format`.
    fn serde_of<T: Field>(
        &self,
        format: &Format,
        pos: Pos,
    ) -> Result<SerdeRef<T>, DefinitionError> {
        T::serde_of(format).ok_or_else(|| {
            self.errs.at(
                pos,
                format!(
                    "internal: format {} does not fit this stream",
                    format.name()
                ),
            )
        })
    }

    /// `lookup`: a join of a plain stream with a table.
    fn lookup(
        &mut self,
        s: Stream,
        flow: Flow,
        l: Lookup,
        name: &Option<String>,
        pos: Pos,
        label: String,
    ) -> Result<Flow, DefinitionError> {
        let target = if l.global {
            self.globals.get(&l.table.name).map(Target::Global)
        } else {
            if flow.key_changed {
                return Err(self.errs.at(
                    pos,
                    format!(
                        "an earlier step changed the key, so the stream is not partitioned like table `{}`; add `- repartition: NAME` before the lookup",
                        l.table.name
                    ),
                ));
            }
            // A stream above that ends in a windowed table: the window of the record's time.
            let windowed = self.flows.iter().find_map(|(n, f)| match &f.at {
                At::Table(t @ (AnyTable::Windowed(_) | AnyTable::Counts(_)))
                    if *n == l.table.name =>
                {
                    Some(t.clone())
                }
                _ => None,
            });
            if let Some(t) = windowed {
                let value = flow.value.computed();
                let out = self.lookup_window(&s, &t, l, name, pos, label)?;
                return Ok(Flow {
                    at: At::Stream(AnyStream::Plain(out)),
                    value,
                    ..flow
                });
            }
            self.locals
                .get(&l.table.name)
                .map(Target::Local)
                .or_else(|| {
                    // A stream above that ends in a table (an aggregation).
                    self.flows.iter().find_map(|(n, f)| match &f.at {
                        At::Table(AnyTable::Plain(t)) if *n == l.table.name => {
                            Some(Target::Local(t))
                        }
                        _ => None,
                    })
                })
        };
        let Some(target) = target else {
            return Err(self.errs.at(
                l.table.pos,
                format!(
                    "`{}` is not a table here: name a table of `tables:` or a stream above that ends in an aggregation",
                    l.table.name
                ),
            ));
        };
        let value = if l.keep == Keep::Unmatched {
            flow.value.clone()
        } else {
            flow.value.computed()
        };
        let out = ops::lookup(&s, target, l, name, label);
        Ok(Flow {
            at: At::Stream(AnyStream::Plain(out)),
            value,
            ..flow
        })
    }

    fn group(
        &mut self,
        flow: Flow,
        key: Option<Expr>,
        repartition: Option<Named>,
        name: &Option<String>,
        pos: Pos,
        kind: &str,
    ) -> Result<Flow, DefinitionError> {
        let s = self.stream_of(&flow, pos, kind)?;
        let key_changes = key.is_some() || flow.key_changed;
        let grouped = |f: &Format, v: &Format, rep: &Option<Named>| {
            let g = match rep {
                Some(r) => Grouped::as_(r.name.clone()),
                None => Grouped::default(),
            };
            g.with(f.serde(), v.serde())
        };
        match (&repartition, key_changes) {
            (None, true) => {
                return Err(self.errs.at(
                    pos,
                    format!("`{kind}` repartitions by the new key: name the topic with `repartition: NAME` (it becomes `APPLICATION-NAME-repartition`)"),
                ));
            }
            (Some(r), false) => {
                return Err(self.errs.at(
                    r.pos,
                    "the key is unchanged, so `group_by_key` does not repartition; remove `repartition` (or add a `- repartition: NAME` step to force one)",
                ));
            }
            _ => {}
        }
        if let Some(r) = &repartition {
            self.unique("repartition", &r.name, r.pos)?;
        }
        let key_format = if key.is_some() {
            flow.key.computed()
        } else {
            flow.key.clone()
        };
        let g = match (key, s) {
            (Some(e), AnyStream::Plain(s)) => ops::named(ops::select_key(&s, e), name)
                .group_by_key(grouped(&key_format, &flow.value, &repartition)),
            (Some(e), AnyStream::Windowed(s)) => ops::named(ops::select_key(&s, e), name)
                .group_by_key(grouped(&key_format, &flow.value, &repartition)),
            (None, AnyStream::Plain(s)) => {
                s.group_by_key(grouped(&key_format, &flow.value, &repartition))
            }
            (_, other) => return Err(self.not_plain(&other, pos, kind)),
        };
        Ok(Flow {
            at: At::Grouped(Rc::new(g)),
            key: key_format,
            value: flow.value,
            key_changed: false,
        })
    }

    fn aggregation(&mut self, flow: Flow, step: Step) -> Result<Flow, DefinitionError> {
        if let At::Windowed(w) = &flow.at {
            let w = w.clone();
            return self.windowed_aggregation(flow, w, step);
        }
        if let Op::Aggregate {
            merger: Some(m), ..
        } = &step.op
        {
            return Err(self.errs.at(
                m.pos,
                "`merger` merges the aggregates of two sessions: it belongs to an aggregation \
                 of session windows (`window: {session: GAP}` on the grouping)",
            ));
        }
        let At::Grouped(g) = &flow.at else {
            return Err(self.errs.at(
                step.pos,
                format!(
                    "`{}` aggregates a grouped stream: put `group_by` or `group_by_key` before it",
                    step.kind
                ),
            ));
        };
        let k = flow.key.serde();
        let (table, value) = match step.op {
            Op::Count { store } => {
                self.unique("store", &store, step.pos)?;
                let m = Materialized::as_(store).with(k, Format::I64.serde());
                (
                    g.aggregate(|| Value::from(0), ops::count_update, m),
                    Format::I64,
                )
            }
            Op::Aggregate {
                store,
                initial,
                update,
                ..
            } => {
                self.unique("store", &store, step.pos)?;
                let m = Materialized::as_(store).with(k, Format::Json.serde());
                let t = g.aggregate(
                    move || initial.clone(),
                    move |k, v, agg| super::failure::eval(&update, &[k, &v, &agg]),
                    m,
                );
                (t, Format::Json)
            }
            Op::Reduce { store, update } => {
                self.unique("store", &store, step.pos)?;
                let value = flow.value.computed();
                let m = Materialized::as_(store).with(k, value.serde());
                let t = g.reduce(move |agg, v| super::failure::eval(&update, &[&v, &agg]), m);
                (t, value)
            }
            _ => return Err(self.errs.at(step.pos, "internal: not an aggregation")),
        };
        Ok(Flow {
            at: At::Table(AnyTable::Plain(table).named(&step.name)),
            value,
            key: flow.key,
            key_changed: false,
        })
    }
}
