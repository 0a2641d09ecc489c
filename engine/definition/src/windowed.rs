//! Applying windows and stream–stream joins: `window:` on a grouping cuts the grouped stream
//! into windows ([`WindowedGroup`]); `count`, `aggregate` and `reduce` of it are the DSL's
//! windowed aggregations, whose tables have windowed keys (`count`'s values are `i64`, see
//! `typed`); `join: STREAM` is the DSL's windowed stream–stream join.
//!
//! Checks, each at its position: a session aggregation has a `merger` and no other has one;
//! the stores these add (a sliding window's `-records`, emit-on-close's `-suppress-buffer`, a
//! join's `-this-join-store`, `-other-join-store` and `-unmatched-join-store`) have names no
//! other store has; joined streams are partitioned by their key, with keys of one format.

use std::rc::Rc;

use serde_json::Value;

use super::build::{At, Builder, Flow};
use super::error::{DefinitionError, Pos};
use super::failure;
use super::format::Format;
use super::ops::{self, Stream};
use super::steps::{JoinKeep, Keep, Lookup, Op, Step, StreamJoin};
use super::typed::{AnyStream, AnyTable, GroupWindows, WindowedGroup};
use super::windows::{Windowing, Windows};
use weir_runtime::dsl::{EmitStrategy, Materialized, StreamJoined};

impl Builder<'_> {
    /// `lookup:` of a stream that ends in a windowed table (see `ops::lookup_window`): only
    /// `keep: left`, on the record key.
    pub(super) fn lookup_window(
        &mut self,
        s: &Stream,
        table: &AnyTable,
        l: Lookup,
        name: &Option<String>,
        pos: Pos,
        label: String,
    ) -> Result<Stream, DefinitionError> {
        if l.keep != Keep::Left || l.key.is_some() || l.many.is_some() {
            return Err(self.errs.at(
                pos,
                format!(
                    "`{}` ends in a windowed table: a lookup of it is `keep: left` on the record key (it finds the key's window that ended last, at most one window size before the record); add `keep: left` and no `key:`/`keys:`",
                    l.table.name
                ),
            ));
        }
        Ok(ops::lookup_window(s, table, l, name, label))
    }

    /// Cuts the grouped stream of `flow` into the windows of `w`.
    pub(super) fn window(&mut self, flow: Flow, w: Windowing) -> Result<Flow, DefinitionError> {
        let At::Grouped(g) = &flow.at else {
            return Err(self
                .errs
                .at(w.pos, "internal: windows of a stream not grouped"));
        };
        let streams = match w.windows {
            Windows::Time(t) => GroupWindows::Time(Rc::new(g.windowed_by(t).emit_strategy(w.emit))),
            Windows::Sliding(s) => {
                GroupWindows::Time(Rc::new(g.windowed_by_sliding(s).emit_strategy(w.emit)))
            }
            Windows::Session(s) => {
                GroupWindows::Session(Rc::new(g.windowed_by_session(s).emit_strategy(w.emit)))
            }
        };
        Ok(Flow {
            at: At::Windowed(WindowedGroup {
                streams,
                windowing: w,
            }),
            ..flow
        })
    }

    /// The store `store` of a windowed aggregation and the ones the DSL adds next to it.
    fn window_stores(
        &mut self,
        store: &str,
        w: &Windowing,
        pos: Pos,
    ) -> Result<(), DefinitionError> {
        self.unique("store", store, pos)?;
        if let Windows::Sliding(_) = w.windows {
            self.unique("store", &format!("{store}-records"), pos)?;
        }
        if w.emit == EmitStrategy::OnWindowClose {
            self.unique("store", &format!("{store}-suppress-buffer"), pos)?;
        }
        Ok(())
    }

    /// `count`, `aggregate` or `reduce` of a windowed grouped stream: a table of windowed keys.
    pub(super) fn windowed_aggregation(
        &mut self,
        flow: Flow,
        group: WindowedGroup,
        step: Step,
    ) -> Result<Flow, DefinitionError> {
        let k = flow.key.serde();
        let key = group.key_format(&flow.key);
        let (table, value) = match step.op {
            Op::Count { store } => {
                self.window_stores(&store, &group.windowing, step.pos)?;
                let m = Materialized::as_(store).with_key_serde(k);
                let t = match &group.streams {
                    GroupWindows::Time(w) => w.count(m),
                    GroupWindows::Session(w) => w.count(m),
                };
                (AnyTable::Counts(t), Format::I64)
            }
            Op::Aggregate {
                store,
                initial,
                update,
                merger,
            } => {
                self.window_stores(&store, &group.windowing, step.pos)?;
                let m = Materialized::as_(store).with(k, Format::Json.serde());
                let init = move || initial.clone();
                let update =
                    move |k: &Value, v: Value, agg: Value| failure::eval(&update, &[k, &v, &agg]);
                let t = match (&group.streams, merger) {
                    (GroupWindows::Time(w), None) => w.aggregate(init, update, m),
                    (GroupWindows::Session(w), Some(merger)) => w.aggregate(
                        init,
                        update,
                        move |k: &Value, a: Value, b: Value| failure::eval(&merger, &[k, &a, &b]),
                        m,
                    ),
                    (GroupWindows::Time(_), Some(merger)) => {
                        return Err(self.errs.at(
                            merger.pos,
                            "`merger` merges the aggregates of two sessions; these windows are \
                             not sessions: remove it",
                        ));
                    }
                    (GroupWindows::Session(_), None) => {
                        return Err(self.errs.at(
                            step.pos,
                            "an aggregation of sessions needs `merger:`, the expression that \
                             merges the aggregates of two sessions a record joins into one (it \
                             sees `key`, `aggregate` and `other`)",
                        ));
                    }
                };
                (AnyTable::Windowed(t), Format::Json)
            }
            Op::Reduce { store, update } => {
                self.window_stores(&store, &group.windowing, step.pos)?;
                let value = flow.value.computed();
                let m = Materialized::as_(store).with(k, value.serde());
                let reducer = move |agg: Value, v: Value| failure::eval(&update, &[&v, &agg]);
                let t = match &group.streams {
                    GroupWindows::Time(w) => w.reduce(reducer, m),
                    GroupWindows::Session(w) => w.reduce(reducer, m),
                };
                (AnyTable::Windowed(t), value)
            }
            _ => return Err(self.errs.at(step.pos, "internal: not an aggregation")),
        };
        Ok(Flow {
            at: At::Table(table.named(&step.name)),
            key,
            value,
            key_changed: false,
        })
    }

    /// `join: STREAM`: a windowed join of two plain streams on their keys.
    pub(super) fn join(
        &mut self,
        s: Stream,
        flow: Flow,
        j: StreamJoin,
        name: &Option<String>,
        pos: Pos,
    ) -> Result<Flow, DefinitionError> {
        let other = &j.other;
        let is_table =
            self.globals.contains_key(&other.name) || self.locals.contains_key(&other.name);
        let o = match self.flow(other) {
            Ok(o) => o,
            Err(_) if is_table => {
                return Err(self.errs.at(
                    other.pos,
                    format!(
                        "`{}` is a table: join a stream with a table with `lookup: {}`",
                        other.name, other.name
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        let os = match &o.at {
            At::Stream(AnyStream::Plain(os)) => os.clone(),
            At::Table(_) => {
                return Err(self.errs.at(
                    other.pos,
                    format!(
                        "stream `{}` ends in a table (an aggregation): join it with `lookup: {}`, \
                         or end it with `to_stream: true` to join its updates",
                        other.name, other.name
                    ),
                ));
            }
            At::Stream(_) => {
                return Err(self.errs.at(
                    other.pos,
                    format!(
                        "stream `{}` has windowed keys: give it a plain key first (`select_key`, \
                         then `repartition`)",
                        other.name
                    ),
                ));
            }
            At::Grouped(_) | At::Windowed(_) | At::Branched(_) => {
                return Err(self.errs.at(
                    other.pos,
                    format!(
                        "`{}` is not a stream here (it ends in a grouping or a branch)",
                        other.name
                    ),
                ));
            }
        };
        if flow.key_changed {
            return Err(self.errs.at(
                pos,
                "an earlier step changed the key, so the stream is not partitioned by it; add \
                 `- repartition: NAME` before the join",
            ));
        }
        if o.key_changed {
            return Err(self.errs.at(
                other.pos,
                format!(
                    "stream `{}` changed its key, so it is not partitioned by it; end it with \
                     `- repartition: NAME`",
                    other.name
                ),
            ));
        }
        if o.key != flow.key {
            return Err(self.errs.at(
                other.pos,
                format!(
                    "joined streams have keys of one format: `{}` has {} keys, this stream {}",
                    other.name,
                    o.key.name(),
                    flow.key.name()
                ),
            ));
        }
        let store = &j.store.name;
        let mut stores = vec!["this-join-store", "other-join-store"];
        if j.keep != JoinKeep::Inner {
            stores.push("unmatched-join-store");
        }
        for suffix in stores {
            self.unique("store", &format!("{store}-{suffix}"), j.store.pos)?;
        }
        let joined = StreamJoined::with(flow.key.serde(), flow.value.serde(), o.value.serde())
            .with_store_name(store.clone());
        let out = ops::stream_join(&s, &os, j.keep, j.value, j.window, joined);
        Ok(Flow {
            at: At::Stream(AnyStream::Plain(ops::named(out, name))),
            value: flow.value.computed(),
            ..flow
        })
    }
}
