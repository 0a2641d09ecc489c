//! Builds a [`Topology`] from a read [`Definition`] through the public DSL, in file order: tables
//! first, then streams, each step in turn (a step is applied in `apply`). Because node names the user does not give are
//! generated from the order of DSL calls, a definition that mirrors a Rust topology's calls
//! gets the same `describe()`.
//!
//! Checks what depends on that order, each at its position: references to streams defined
//! earlier, a topic read twice, a topic given two formats, duplicate node and store names, a
//! join or grouping after a key change without a repartition. Formats of internal topics and
//! stores follow the stream's: a computed key or value keeps the format of what it replaces
//! (Avro becomes JSON), a count is `i64`.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde_json::Value;

use super::error::{DefinitionError, Errors, Pos, hint};
use super::expr::Expr;
use super::format::{Format, WindowedKey};
use super::ops::{self, Global, Table};
use super::schema::{Definition, Named, Origin, StreamDef, TableDef};
use super::typecheck;
use super::typed::{AnyStream, AnyTable, WindowedGroup};
use weir_graph::Topology;
use weir_runtime::dsl::{Consumed, KGroupedStream, Materialized, StreamsBuilder};

/// Key and value format per topic read or written.
pub(crate) type Formats = BTreeMap<String, (Format, Format)>;

/// Where a stream's steps have got to.
#[derive(Clone)]
pub(super) enum At {
    Stream(AnyStream),
    Grouped(Rc<KGroupedStream<Value, Value>>),
    /// Grouped and cut into windows (`group_by` with `window:`).
    Windowed(WindowedGroup),
    Table(AnyTable),
    /// Split by `branch` at this position: continue from a branch.
    Branched(Pos),
}

#[derive(Clone)]
pub(super) struct Flow {
    pub(super) at: At,
    pub(super) key: Format,
    pub(super) value: Format,
    pub(super) key_changed: bool,
}

pub(super) struct Builder<'a> {
    pub(super) b: StreamsBuilder,
    pub(super) errs: &'a Errors,
    pub(super) declared: HashMap<String, (Option<Format>, Option<Format>)>,
    pub(super) formats: BTreeMap<String, (Format, Format, Pos)>,
    pub(super) sources: HashMap<String, (String, Pos)>,
    pub(super) globals: HashMap<String, Global>,
    pub(super) locals: HashMap<String, Table>,
    pub(super) flows: Vec<(String, Flow)>,
    pub(super) names: HashMap<String, Pos>,
    pub(super) stores: HashMap<String, Pos>,
    pub(super) repartitions: HashMap<String, Pos>,
}

pub(crate) fn build(
    def: Definition,
    errs: &Errors,
) -> Result<(Topology, Formats), DefinitionError> {
    let mut bl = Builder {
        b: StreamsBuilder::new(def.application.name.clone()),
        errs,
        declared: def
            .topics
            .into_iter()
            .map(|t| (t.topic.name, (t.key, t.value)))
            .collect(),
        formats: BTreeMap::new(),
        sources: HashMap::new(),
        globals: HashMap::new(),
        locals: HashMap::new(),
        flows: Vec::new(),
        names: HashMap::new(),
        stores: HashMap::new(),
        repartitions: HashMap::new(),
    };
    for t in def.tables {
        bl.table(t)?;
    }
    for s in def.streams {
        bl.stream(s)?;
    }
    let formats = bl
        .formats
        .into_iter()
        .map(|(t, (k, v, _))| (t, (k, v)))
        .collect();
    let topology =
        bl.b.build()
            .map_err(|e| errs.at(def.application.pos, e.to_string()))?;
    Ok((topology, formats))
}

impl Builder<'_> {
    pub(super) fn unique(
        &mut self,
        what: &str,
        name: &str,
        pos: Pos,
    ) -> Result<(), DefinitionError> {
        let seen = match what {
            "store" => &mut self.stores,
            "repartition" => &mut self.repartitions,
            _ => &mut self.names,
        };
        match seen.get(name) {
            Some(p) => Err(self.errs.at(
                pos,
                format!("{what} name `{name}` is already used at line {}", p.line),
            )),
            None => {
                seen.insert(name.to_owned(), pos);
                Ok(())
            }
        }
    }

    pub(super) fn node_name(
        &mut self,
        name: &Option<String>,
        pos: Pos,
    ) -> Result<(), DefinitionError> {
        match name {
            Some(n) => self.unique("node", n, pos),
            None => Ok(()),
        }
    }

    /// The formats of `topic`: given here, else under `topics:`, else `fallback`; one topic has
    /// one pair of formats in the whole file. For a stream of windowed keys (`fallback`), a key
    /// format given is that of the grouping key, written with the window.
    pub(super) fn topic_formats(
        &mut self,
        topic: &Named,
        key: Option<Format>,
        value: Option<Format>,
        fallback: (Format, Format),
    ) -> Result<(Format, Format), DefinitionError> {
        let (dk, dv) = self
            .declared
            .get(&topic.name)
            .cloned()
            .unwrap_or((None, None));
        // A windowed stream's keys: a format given names the format of the grouping key.
        let k = match (key.or(dk), fallback.0) {
            (Some(k @ Format::Windowed(_)), _) | (None, k) => k,
            (Some(k), Format::Windowed(w)) => Format::Windowed(WindowedKey {
                inner: Box::new(k),
                window: w.window,
            }),
            (Some(k), _) => k,
        };
        let v = value.or(dv).unwrap_or(fallback.1);
        if let Some((pk, pv, at)) = self.formats.get(&topic.name)
            && (*pk != k || *pv != v)
        {
            return Err(self.errs.at(
                topic.pos,
                format!(
                    "topic `{}` is used with formats {} / {} here but {} / {} at line {}; \
                     declare its formats once under `topics:`",
                    topic.name,
                    k.name(),
                    v.name(),
                    pk.name(),
                    pv.name(),
                    at.line
                ),
            ));
        }
        self.formats
            .entry(topic.name.clone())
            .or_insert_with(|| (k.clone(), v.clone(), topic.pos));
        Ok((k, v))
    }

    fn source(&mut self, topic: &Named, reader: String) -> Result<(), DefinitionError> {
        if let Some((other, at)) = self.sources.get(&topic.name) {
            return Err(self.errs.at(
                topic.pos,
                format!(
                    "topic `{}` is already read by {other} (line {}); a topic has one source: \
                     continue that stream with `stream: NAME`",
                    topic.name, at.line
                ),
            ));
        }
        self.sources.insert(topic.name.clone(), (reader, topic.pos));
        Ok(())
    }

    fn table(&mut self, t: TableDef) -> Result<(), DefinitionError> {
        self.source(&t.topic, format!("table `{}`", t.name.name))?;
        self.unique("store", &t.store, t.name.pos)?;
        self.node_name(&t.node, t.name.pos)?;
        let (k, v) =
            self.topic_formats(&t.topic, t.key, t.value, (Format::String, Format::Json))?;
        let mut consumed = Consumed::with(k.serde(), v.serde());
        if let Some(n) = t.node {
            consumed = consumed.named(n);
        }
        if let Some(e) = t.timestamp {
            self.check_timestamp(&e, &k, &v)?;
            consumed = consumed.with_timestamp_extractor(ops::timestamp_extractor(e));
        }
        if t.global {
            let g = self
                .b
                .global_table(&t.topic.name, consumed, Materialized::as_(t.store));
            self.globals.insert(t.name.name, g);
        } else {
            let m = Materialized::as_(t.store).with(k.serde(), v.serde());
            let table = self.b.table(&t.topic.name, consumed, m);
            self.locals.insert(t.name.name, table);
        }
        Ok(())
    }

    pub(super) fn flow(&self, r: &Named) -> Result<Flow, DefinitionError> {
        match self.flows.iter().rev().find(|(n, _)| *n == r.name) {
            Some((_, f)) => Ok(f.clone()),
            None => {
                let names: Vec<&str> = self.flows.iter().map(|(n, _)| n.as_str()).collect();
                Err(self.errs.at(
                    r.pos,
                    format!(
                        "unknown stream `{}`{} (a stream can only continue streams defined above it)",
                        r.name,
                        hint(&r.name, &names)
                    ),
                ))
            }
        }
    }

    fn stream(&mut self, s: StreamDef) -> Result<(), DefinitionError> {
        let mut flow = match &s.origin {
            Origin::Topic(topic) => {
                self.source(topic, format!("stream `{}`", s.name.name))?;
                self.node_name(&s.node, s.name.pos)?;
                let (k, v) =
                    self.topic_formats(topic, s.key, s.value, (Format::String, Format::Json))?;
                let mut consumed = Consumed::with(k.serde(), v.serde());
                if let Some(n) = &s.node {
                    consumed = consumed.named(n.clone());
                }
                if let Some(e) = s.timestamp {
                    self.check_timestamp(&e, &k, &v)?;
                    consumed = consumed.with_timestamp_extractor(ops::timestamp_extractor(e));
                }
                Flow {
                    at: At::Stream(AnyStream::Plain(self.b.stream(&topic.name, consumed))),
                    key: k,
                    value: v,
                    key_changed: false,
                }
            }
            Origin::Stream(other) => self.flow(other)?,
        };
        for step in s.steps {
            flow = self.step(&s.name.name, flow, step)?;
        }
        self.flows.push((s.name.name, flow));
        Ok(())
    }

    /// A `timestamp:` expression checked against the shape the source's formats declare.
    fn check_timestamp(&self, e: &Expr, k: &Format, v: &Format) -> Result<(), DefinitionError> {
        let (keys, values) = (typecheck::samples(k), typecheck::samples(v));
        match typecheck::problem(e, keys.as_deref(), values.as_deref()) {
            Some(problem) => Err(self.errs.at(
                e.pos,
                format!("{} fails on every record of this source: {problem}", e.what),
            )),
            None => Ok(()),
        }
    }

    /// The flow as a stream: a table's updates (an implicit `to_stream`), else an error.
    pub(super) fn stream_of(
        &self,
        flow: &Flow,
        pos: Pos,
        kind: &str,
    ) -> Result<AnyStream, DefinitionError> {
        match &flow.at {
            At::Stream(s) => Ok(s.clone()),
            At::Table(t) => Ok(t.to_stream()),
            At::Grouped(_) | At::Windowed(_) => Err(self.errs.at(
                pos,
                format!("`{}` cannot follow a grouping: group_by is followed by count, aggregate or reduce", kind),
            )),
            At::Branched(at) => Err(self.errs.at(
                pos,
                format!(
                    "the stream was split by `branch` at line {}; continue a branch in another stream with `stream: NAME.BRANCH`",
                    at.line
                ),
            )),
        }
    }
}
