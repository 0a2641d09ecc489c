//! Topology definition files: a topology written in YAML, with CEL expressions, built into the
//! same [`Topology`] the Rust DSL builds (through that DSL), so it runs on the same runtime and
//! test driver and `describe()` prints the same.
//!
//! ```yaml
//! application: shop-filter
//! tables:
//!   forbidden: { topic: forbidden-products, global: true, value: string }
//! streams:
//!   products:
//!     from: shop-products                  # key string, value json unless told
//!     steps:
//!       - filter: value.price >= 0.0 && value.product_id != ""
//!       - lookup: forbidden                # a join with a table
//!         key: value.product_id
//!         keep: unmatched                  # anti-join
//!       - to: products
//! ```
//!
//! The schema, every step and the CEL functions are documented in
//! `topologies/definitions/README.md`. In short: `application`, `topics` (formats per topic),
//! `tables` (global or co-partitioned) and `streams`; a stream reads a topic (`from:`) or
//! continues another (`stream: NAME`, or `NAME.BRANCH` after a `branch`), and runs `steps`, each
//! a mapping whose first step-named key is its kind: `filter`, `filter_not`, `map_values`, `map`,
//! `select_key`, `flat_map_values`, `flat_map`, `log`, `lookup`, `join`, `branch`, `merge`,
//! `group_by`, `group_by_key`, `count`, `aggregate`, `reduce`, `to_stream`, `repartition`, `to`.
//! Every step takes `name:` (the name of the node it adds). Time: `window:` and `emit:` on a
//! grouping make its aggregation windowed (keys `{"key", "start", "end"}` to expressions),
//! `join:` joins two streams within a window, `timestamp:` on a source gives its event time.
//!
//! Layers: `yaml` (tree with positions) → `schema` + `read_steps` + `windows` (the typed
//! definition of `steps`; expressions compiled by `expr` in the environment of `functions`,
//! durations read by `duration`, errors placed by `locate`) → `build` + `apply` + `windowed` +
//! `ops` (DSL calls). Records are `serde_json::Value` encoded by a [`Format`], but for the types
//! the DSL fixes (windowed keys, windowed counts: `typed`); `convert` maps them to CEL and back;
//! `failure` says what a failing expression does to its record.
//!
//! Invariants: every load error is a [`DefinitionError`] naming `file:line:col`; nothing
//! evaluated per record panics (a failed expression becomes a `StreamsError::Process` at the
//! record's next write, see `failure`). Not supported (yet): the record's timestamp (outside a
//! source's `timestamp:`) and headers in expressions and topics chosen per record, since the
//! DSL's operators give closures neither.

mod apply;
mod build;
mod calls;
mod convert;
mod duration;
mod error;
mod expr;
mod failure;
mod format;
mod functions;
mod locate;
mod ops;
mod passthrough;
mod read_steps;
mod registry_format;
mod schema;
mod steps;
mod typecheck;
mod typed;
mod windowed;
mod windows;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use error::{DefinitionError, Pos};
pub use expr::Expression;
pub use format::{AvroFormat, Format, WindowedKey};
pub use registry_format::{RegistryAvroFormat, RegistryBinding};

use weir_graph::Topology;

/// A loaded definition: the application id, the built topology, and the formats of the topics
/// it reads and writes (what a tool needs to encode input and decode output records).
pub struct Loaded {
    pub application: String,
    pub topology: Topology,
    /// Topic → (key format, value format), for every topic a source, table or `to` names.
    pub formats: BTreeMap<String, (Format, Format)>,
    /// The schema source of the file's registry Avro formats (see [`RegistryBinding`]): bind
    /// it to a registry before use to override the file's `config:`.
    pub registry: Arc<RegistryBinding>,
    /// Streams properties of the file's `config:` section, in file order: a worker applies
    /// them over its defaults (a properties file, `WEIR_*` variables and flags win).
    pub config: Vec<(String, String)>,
}

impl Loaded {
    /// A config of this application with the file's `config:` applied (for the test driver's
    /// error handlers and for tools; a worker loads its full config with
    /// [`StreamsConfig::load`](weir_core::StreamsConfig::load)).
    pub fn streams_config(&self) -> Result<weir_core::StreamsConfig, weir_core::StreamsError> {
        let mut c = weir_core::StreamsConfig::new(self.application.clone());
        for (k, v) in &self.config {
            c.set(k, v)?;
        }
        Ok(c)
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("application", &self.application)
            .field("formats", &self.formats)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Loads the definition file at `path` (Avro schema paths are relative to its directory).
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, DefinitionError> {
    load_path(path.as_ref(), None)
}

/// As [`load`], for the application id `application` instead of the file's `application:` (a
/// worker whose `application.id` property is set: internal topics, store directories and the
/// consumer group follow the id it runs as, as in Kafka Streams).
pub fn load_as(path: impl AsRef<Path>, application: &str) -> Result<Loaded, DefinitionError> {
    load_path(path.as_ref(), Some(application))
}

fn load_path(path: &Path, application: Option<&str>) -> Result<Loaded, DefinitionError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DefinitionError {
        file: file.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read the file: {e}"),
    })?;
    let text = utf8(bytes, &file)?;
    load_from(
        &text,
        &file,
        path.parent().unwrap_or(Path::new(".")),
        application,
    )
}

/// The file's text, or an error at its first byte that is not UTF-8 (the column counts the
/// characters before it on its line, plus one).
fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, DefinitionError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let byte = bytes.get(at).copied().unwrap_or(0);
        // Everything before `at` is valid UTF-8.
        let before = std::str::from_utf8(bytes.get(..at).unwrap_or_default()).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        DefinitionError {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            message: format!(
                "the file is not valid UTF-8: byte 0x{byte:02x} at byte offset {at} \
                 (save it as UTF-8)"
            ),
        }
    })
}

/// Loads a definition from `text`, naming it `file_name` in errors (Avro schema paths are
/// relative to the directory of `file_name`).
pub fn load_str(text: &str, file_name: &str) -> Result<Loaded, DefinitionError> {
    let base = Path::new(file_name).parent().unwrap_or(Path::new("."));
    load_from(text, file_name, base, None)
}

fn load_from(
    text: &str,
    file: &str,
    base: &Path,
    application: Option<&str>,
) -> Result<Loaded, DefinitionError> {
    let errs = error::Errors { file: file.into() };
    let env = functions::environment()
        .map_err(|e| errs.at(Pos::new(1, 1), format!("internal: CEL environment: {e}")))?;
    let compiler = expr::Compiler::new(Arc::new(env), errs.clone(), text.into());
    let root = yaml::parse(text, &errs)?;
    let mut def = schema::read(&root, &errs, &compiler, base)?;
    if let Some(id) = application {
        def.application.name = id.to_owned();
    }
    let application = def.application.name.clone();
    let _ = compiler.application.set(application.clone());
    let config = def.config.clone();
    let registry = def.registry.clone();
    let (mut topology, formats) = build::build(def, &errs)?;
    if registry.is_used() {
        // A worker binds the file's registry formats to its own `schema.registry.*` first.
        let hook = registry.clone();
        topology.add_start_hook(Arc::new(move |c: &weir_core::StreamsConfig| {
            hook.bind(&c.schema_registry)
        }));
    }
    Ok(Loaded {
        application,
        topology,
        formats,
        config,
        registry,
    })
}
