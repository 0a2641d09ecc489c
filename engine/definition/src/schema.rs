//! The typed form of a definition file ([`Definition`]) and the reader that checks the YAML tree
//! against the schema: required keys, unknown keys (with suggestions), formats, table
//! references. Expressions are compiled here, so every mistake up to the CEL level is reported
//! with its position before anything is built. Steps are read in `steps`.
//!
//! Does not own: references between streams (they depend on file order, checked while
//! building) and anything the DSL itself validates.

use std::path::Path;
use std::sync::Arc;

use super::error::{DefinitionError, Errors, Pos};
use super::expr::{Compiler, Expr};
use super::format::{AvroFormat, Format};
use super::read_steps::read_steps;
use super::registry_format::{RegistryAvroFormat, RegistryBinding};
use super::steps::Step;
use super::yaml::{Fields, Kind, Node};
use weir_core::config::StreamsConfig;
use weir_core::error::KeyOrValue;

/// A name given in the file, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Named {
    pub name: String,
    pub pos: Pos,
}

/// A whole definition file.
pub(crate) struct Definition {
    pub application: Named,
    /// Formats declared for topics under `topics:`.
    pub topics: Vec<TopicDecl>,
    pub tables: Vec<TableDef>,
    pub streams: Vec<StreamDef>,
    /// Streams properties under `config:` (checked against [`StreamsConfig`]).
    pub config: Vec<(String, String)>,
    /// The schema source of the file's `{avro: FILE, registry: true}` formats.
    pub registry: Arc<RegistryBinding>,
}

pub(crate) struct TopicDecl {
    pub topic: Named,
    pub key: Option<Format>,
    pub value: Option<Format>,
}

pub(crate) struct TableDef {
    pub name: Named,
    pub topic: Named,
    pub global: bool,
    pub store: String,
    pub key: Option<Format>,
    pub value: Option<Format>,
    /// Name of the table's source node.
    pub node: Option<String>,
    /// The records' event time (`timestamp:`); `None`: their Kafka timestamps.
    pub timestamp: Option<Expr>,
}

pub(crate) enum Origin {
    Topic(Named),
    /// Continues where another stream (or one of its branches, `name.branch`) ended.
    Stream(Named),
}

pub(crate) struct StreamDef {
    pub name: Named,
    pub origin: Origin,
    pub key: Option<Format>,
    pub value: Option<Format>,
    /// Name of the source node (topic origins only).
    pub node: Option<String>,
    /// The records' event time (`timestamp:`, topic origins only); `None`: their Kafka
    /// timestamps.
    pub timestamp: Option<Expr>,
    pub steps: Vec<Step>,
}

/// Shared state of the reader.
pub(crate) struct Reader<'a> {
    pub errs: &'a Errors,
    pub compiler: &'a Compiler,
    /// Directory that relative schema paths start from.
    pub base: &'a Path,
    pub tables: Vec<(String, bool)>,
    /// Streams read so far (a lookup may use one that ends in a table).
    pub streams: Vec<String>,
    pub registry: Arc<RegistryBinding>,
}

const TOP_KEYS: [&str; 5] = ["application", "config", "topics", "tables", "streams"];
const TOPIC_KEYS: [&str; 2] = ["key", "value"];
const TABLE_KEYS: [&str; 7] = [
    "topic",
    "global",
    "store",
    "key",
    "value",
    "name",
    "timestamp",
];
const STREAM_KEYS: [&str; 7] = [
    "from",
    "stream",
    "key",
    "value",
    "name",
    "timestamp",
    "steps",
];

/// The variables of a source's `timestamp:` expression.
pub(crate) const TIMESTAMP_SCOPE: &[&str] = &["key", "value", "timestamp", "partition_time"];

/// Reads the whole tree.
pub(crate) fn read(
    root: &Node,
    errs: &Errors,
    compiler: &Compiler,
    base: &Path,
) -> Result<Definition, DefinitionError> {
    let mut top = Fields::of(root, errs, "the definition")?;
    let app = top.required("application")?;
    let application = Named {
        name: app.name(errs, "`application`")?,
        pos: app.pos,
    };
    let mut config = Vec::new();
    let mut check = StreamsConfig::new(application.name.clone());
    if let Some(node) = top.take("config") {
        // Checked by setting them on a config of this application: bad keys and values are
        // errors of the file, at the value.
        for (k, v) in Fields::of(node, errs, "`config` (streams properties)")?.all() {
            let value = v.text(errs, &format!("property `{}`", k.name))?;
            check
                .set(&k.name, &value)
                .map_err(|e| errs.at(v.pos, e.to_string()))?;
            config.push((k.name.clone(), value));
        }
    }
    let mut r = Reader {
        errs,
        compiler,
        base,
        tables: Vec::new(),
        streams: Vec::new(),
        registry: Arc::new(RegistryBinding::new(check.schema_registry.clone())),
    };
    let mut topics = Vec::new();
    if let Some(node) = top.take("topics") {
        for (k, v) in Fields::of(node, errs, "`topics`")?.all() {
            let what = format!("topic `{}`", k.name);
            let mut f = Fields::of(v, errs, &what)?;
            let key = r.format_of(f.take("key"), KeyOrValue::Key)?;
            let value = r.format_of(f.take("value"), KeyOrValue::Value)?;
            f.finish(&TOPIC_KEYS)?;
            topics.push(TopicDecl {
                topic: Named {
                    name: k.name.clone(),
                    pos: k.pos,
                },
                key,
                value,
            });
        }
    }
    let mut tables = Vec::new();
    if let Some(node) = top.take("tables") {
        for (k, v) in Fields::of(node, errs, "`tables`")?.all() {
            let t = r.table(&k.name, k.pos, v)?;
            r.tables.push((t.name.name.clone(), t.global));
            tables.push(t);
        }
    }
    let streams_node = top.required("streams")?;
    top.finish(&TOP_KEYS)?;
    let mut streams = Vec::new();
    for (k, v) in Fields::of(streams_node, errs, "`streams`")?.all() {
        if k.name.contains('.') {
            return Err(errs.at(
                k.pos,
                format!(
                    "stream name `{}` must not contain `.` (it separates a stream from its branches)",
                    k.name
                ),
            ));
        }
        streams.push(r.stream(&k.name, k.pos, v)?);
        r.streams.push(k.name.clone());
    }
    Ok(Definition {
        application,
        topics,
        tables,
        streams,
        config,
        registry: r.registry,
    })
}

impl Reader<'_> {
    /// The format at `node`, if given, for the `what` half of records.
    pub fn format_of(
        &self,
        node: Option<&Node>,
        what: KeyOrValue,
    ) -> Result<Option<Format>, DefinitionError> {
        node.map(|n| self.format(n, what)).transpose()
    }

    /// A format: `string`, `json`, `i64`, `{avro: FILE}` or `{avro: FILE, registry: true}`
    /// (Confluent wire format), for the `what` half of records (it names the subject).
    pub fn format(&self, node: &Node, what: KeyOrValue) -> Result<Format, DefinitionError> {
        let errs = self.errs;
        match &node.kind {
            Kind::Str(s) => match s.as_str() {
                "string" => Ok(Format::String),
                "json" => Ok(Format::Json),
                "i64" => Ok(Format::I64),
                "avro" => Err(errs.at(
                    node.pos,
                    "format avro needs its schema: write `{avro: path/to/schema.avsc}`",
                )),
                other => Err(errs.unknown(node.pos, "format", other, &Format::NAMES)),
            },
            Kind::Map(_) => {
                let mut f = Fields::of(node, errs, "a format")?;
                let path = f.required("avro")?;
                let file = path.name(errs, "the Avro schema file")?;
                let registry = f
                    .take("registry")
                    .map(|n| n.boolean(errs, "`registry` (Confluent wire format)"))
                    .transpose()?
                    .unwrap_or(false);
                f.finish(&["avro", "registry"])?;
                let avro = AvroFormat::from_file(&self.base.join(&file))
                    .map_err(|m| errs.at(path.pos, m))?;
                Ok(if registry {
                    Format::RegistryAvro(RegistryAvroFormat::new(
                        &avro.path,
                        avro.schema_arc(),
                        what,
                        &self.registry,
                    ))
                } else {
                    Format::Avro(avro)
                })
            }
            _ => Err(errs.at(
                node.pos,
                format!(
                    "expected a format (string, json, i64, {{avro: FILE}} or {{avro: FILE, registry: true}}), found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn table(&self, name: &str, pos: Pos, node: &Node) -> Result<TableDef, DefinitionError> {
        let errs = self.errs;
        let what = format!("table `{name}`");
        let mut f = Fields::of(node, errs, &what)?;
        let topic = f.required("topic")?;
        let topic = Named {
            name: topic.name(errs, "`topic`")?,
            pos: topic.pos,
        };
        let global = f
            .take("global")
            .map(|n| n.boolean(errs, "`global`"))
            .transpose()?
            .unwrap_or(false);
        let store = f
            .take("store")
            .map(|n| n.name(errs, "`store`"))
            .transpose()?
            .unwrap_or_else(|| name.to_owned());
        let key = self.format_of(f.take("key"), KeyOrValue::Key)?;
        let value = self.format_of(f.take("value"), KeyOrValue::Value)?;
        let node_name = f.take("name").map(|n| n.name(errs, "`name`")).transpose()?;
        let timestamp = match f.take("timestamp") {
            Some(n) if global => {
                return Err(errs.at(
                    n.pos,
                    "a global table is read in full before processing starts, so the time of its \
                     records is not used: remove `timestamp`",
                ));
            }
            Some(n) => Some(self.compiler.compile(n, "`timestamp`", TIMESTAMP_SCOPE)?),
            None => None,
        };
        f.finish(&TABLE_KEYS)?;
        Ok(TableDef {
            name: Named {
                name: name.to_owned(),
                pos,
            },
            topic,
            global,
            store,
            key,
            value,
            node: node_name,
            timestamp,
        })
    }

    fn stream(&self, name: &str, pos: Pos, node: &Node) -> Result<StreamDef, DefinitionError> {
        let errs = self.errs;
        let what = format!("stream `{name}`");
        let mut f = Fields::of(node, errs, &what)?;
        let origin = match (f.take("from"), f.take("stream")) {
            (Some(t), None) => Origin::Topic(Named {
                name: t.name(errs, "`from` (a topic)")?,
                pos: t.pos,
            }),
            (None, Some(s)) => Origin::Stream(Named {
                name: s.name(errs, "`stream`")?,
                pos: s.pos,
            }),
            (Some(_), Some(s)) => {
                return Err(errs.at(
                    s.pos,
                    format!("{what} has both `from` and `stream`; give one"),
                ));
            }
            (None, None) => {
                if let Some(e) = f.misspelt(&["from", "stream"]) {
                    return Err(e);
                }
                return Err(errs.at(
                    pos,
                    format!(
                        "{what} needs `from: TOPIC` or `stream: NAME` (another stream to continue)"
                    ),
                ));
            }
        };
        let mut format_key = |k: &str| -> Result<Option<Format>, DefinitionError> {
            match f.take(k) {
                Some(n) if matches!(origin, Origin::Stream(_)) => Err(errs.at(
                    n.pos,
                    format!("`{k}` sets a topic's format; a stream continuing another has none"),
                )),
                Some(n) => {
                    let what = if k == "key" {
                        KeyOrValue::Key
                    } else {
                        KeyOrValue::Value
                    };
                    self.format(n, what).map(Some)
                }
                None => Ok(None),
            }
        };
        let key = format_key("key")?;
        let value = format_key("value")?;
        let node_name = match f.take("name") {
            Some(n) if matches!(origin, Origin::Stream(_)) => {
                return Err(errs.at(
                    n.pos,
                    "`name` names a stream's source node; a stream continuing another has none (name its steps)",
                ));
            }
            Some(n) => Some(n.name(errs, "`name`")?),
            None => None,
        };
        let timestamp = match f.take("timestamp") {
            Some(n) if matches!(origin, Origin::Stream(_)) => {
                return Err(errs.at(
                    n.pos,
                    "`timestamp` sets the time of a topic's records where they are read; a stream \
                     continuing another has its records' times already",
                ));
            }
            Some(n) => Some(self.compiler.compile(n, "`timestamp`", TIMESTAMP_SCOPE)?),
            None => None,
        };
        let steps = match f.take("steps") {
            Some(s) => read_steps(self, s)?,
            None => Vec::new(),
        };
        f.finish(&STREAM_KEYS)?;
        Ok(StreamDef {
            name: Named {
                name: name.to_owned(),
                pos,
            },
            origin,
            key,
            value,
            node: node_name,
            timestamp,
            steps,
        })
    }
}
