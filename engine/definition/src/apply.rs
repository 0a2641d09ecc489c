//! Applying one step to a stream's [`Flow`]: the DSL call(s) of the step, the formats and
//! key-changed state after it, and the checks that need that state (a lookup in a
//! co-partitioned table or a `group_by_key` after a key change, what may follow a grouping or a
//! branch). Aggregations (`count`, `aggregate`, `reduce`) turn a grouped stream into a table;
//! a stream step after a table first takes its updates (`to_stream`).

use std::rc::Rc;

use serde_json::Value;

use super::build::{At, Builder, Flow};
use super::error::{DefinitionError, Pos};
use super::expr::Expr;
use super::format::Format;
use super::ops::{self, Stream, Target};
use super::schema::Named;
use super::steps::{Keep, Op, Step};
use super::typecheck;
use weir_runtime::dsl::{Grouped, Materialized, Produced, Repartitioned};

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
        let label = format!(
            "{}:{}:{} ({})",
            self.errs.file, step.pos.line, step.pos.column, step.kind
        );
        self.type_check(&flow, &step.op)?;
        let name = step.name.clone();
        let next = |at: Stream, f: &Flow| Flow {
            at: At::Stream(ops::named(at, &name)),
            ..f.clone()
        };
        if let Op::Count { .. } | Op::Aggregate { .. } | Op::Reduce { .. } = step.op {
            return self.aggregation(flow, step);
        }
        if let Op::ToStream = step.op {
            let At::Table(t) = &flow.at else {
                return Err(self
                    .errs
                    .at(step.pos, "`to_stream` follows an aggregation (a table)"));
            };
            return Ok(next(t.to_stream(), &flow));
        }
        if let Op::GroupBy { key, repartition } = step.op {
            return self.group(flow, key, repartition, &step.name, step.pos, step.kind);
        }
        let s = self.stream_of(&flow, step.pos, step.kind)?;
        Ok(match step.op {
            Op::Filter { expr, keep } => next(ops::filter(&s, expr, keep), &flow),
            Op::Validate { expr, error } => next(ops::validate(&s, expr, error), &flow),
            Op::MapValues(e) => {
                let f = next(ops::map_values(&s, e), &flow);
                Flow {
                    value: flow.value.computed(),
                    ..f
                }
            }
            Op::Map { key, value } => Flow {
                key: flow.key.computed(),
                value: flow.value.computed(),
                key_changed: true,
                ..next(ops::map(&s, key, value), &flow)
            },
            Op::SelectKey(e) => Flow {
                key: flow.key.computed(),
                key_changed: true,
                ..next(ops::select_key(&s, e), &flow)
            },
            Op::FlatMapValues(e) => Flow {
                value: flow.value.computed(),
                ..next(ops::flat_map_values(&s, e), &flow)
            },
            Op::FlatMap(e) => Flow {
                key: flow.key.computed(),
                value: flow.value.computed(),
                key_changed: true,
                ..next(ops::flat_map(&s, e), &flow)
            },
            Op::Log { expr, level } => next(ops::log(&s, expr, level, stream.to_owned()), &flow),
            Op::Lookup(l) => {
                let target = if l.global {
                    self.globals.get(&l.table.name).map(Target::Global)
                } else {
                    if flow.key_changed {
                        return Err(self.errs.at(
                            step.pos,
                            format!(
                                "an earlier step changed the key, so the stream is not partitioned like table `{}`; add `- repartition: NAME` before the lookup",
                                l.table.name
                            ),
                        ));
                    }
                    self.locals
                        .get(&l.table.name)
                        .map(Target::Local)
                        .or_else(|| {
                            // A stream above that ends in a table (an aggregation).
                            self.flows.iter().find_map(|(n, f)| match &f.at {
                                At::Table(t) if *n == l.table.name => Some(Target::Local(t)),
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
                let out = ops::lookup(&s, target, *l, &step.name, label);
                Flow {
                    at: At::Stream(out),
                    value,
                    ..flow
                }
            }
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
                            at: At::Stream(b),
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
                let At::Stream(os) = &o.at else {
                    return Err(self.errs.at(other.pos, format!("`{}` is not a stream here (it ends in a grouping, a table or a branch)", other.name)));
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
                    ..next(s.merge(os), &flow)
                }
            }
            Op::Repartition(topic) => {
                self.unique("repartition", &topic, step.pos)?;
                let r = Repartitioned::as_(topic).with(flow.key.serde(), flow.value.serde());
                Flow {
                    key_changed: false,
                    ..next(s.repartition(r), &flow)
                }
            }
            Op::To { topic, key, value } => {
                let (k, v) =
                    self.topic_formats(&topic, key, value, (flow.key.clone(), flow.value.clone()))?;
                let mut produced = Produced::with(k.serde(), v.serde());
                if let Some(n) = &step.name {
                    produced = produced.named(n.clone());
                }
                s.to(&topic.name, produced);
                Flow {
                    at: At::Stream(s),
                    ..flow
                }
            }
            Op::GroupBy { .. }
            | Op::Count { .. }
            | Op::Aggregate { .. }
            | Op::Reduce { .. }
            | Op::ToStream => {
                return Err(self.errs.at(step.pos, "internal: step handled above"));
            }
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
        let g = match key {
            Some(e) => {
                let keyed = ops::named(ops::select_key(&s, e), name);
                keyed.group_by_key(grouped(&key_format, &flow.value, &repartition))
            }
            None => s.group_by_key(grouped(&key_format, &flow.value, &repartition)),
        };
        Ok(Flow {
            at: At::Grouped(Rc::new(g)),
            key: key_format,
            value: flow.value,
            key_changed: false,
        })
    }

    fn aggregation(&mut self, flow: Flow, step: Step) -> Result<Flow, DefinitionError> {
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
        let table = match &step.name {
            Some(n) => table.named(n.clone()),
            None => table,
        };
        Ok(Flow {
            at: At::Table(table),
            value,
            key: flow.key,
            key_changed: false,
        })
    }
}
