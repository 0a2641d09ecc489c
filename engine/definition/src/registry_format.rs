//! The `{avro: FILE, registry: true}` format of definition files: Avro in the Confluent wire
//! format (magic byte, schema id, datum), over the same avro ↔ JSON mapping as `{avro: FILE}`.
//!
//! Owns: [`RegistryAvroFormat`] (one per key or value of a topic) and [`RegistryBinding`], the
//! one schema source all such formats of a file share. Loading a file needs no network: the
//! binding opens its registry on first use. A worker binds it first, at start
//! (`Topology::prepare` runs the start hook `load` adds), with the worker's
//! `schema.registry.*` properties; anything else that encodes or decodes (the test driver,
//! `weir try`) binds it with the file's `config:` section. Without `schema.registry.url` the
//! registry is the embedded table (`LocalSchemas`): every `.avsc` file in the directory of the
//! file's first registry schema, plus every schema the file names, each under its full name.
//!
//! Invariant: once bound, a binding never changes (the serdes built from it cache ids).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use apache_avro::Schema;
use serde_json::Value;

use weir_avro::json::{avro_to_json, json_to_avro};
use weir_avro::registry::{self, GenericConfluentAvroSerde, LocalSchemas, SchemaRegistry};
use weir_core::config::RegistryConfig;
use weir_core::error::{KeyOrValue, StreamsError};
use weir_core::serde::Serde;

type Bound = (Arc<dyn SchemaRegistry>, RegistryConfig);

/// The schema source shared by a definition's registry formats (see the module doc).
#[derive(Default)]
pub struct RegistryBinding {
    /// The file's `config:` registry properties (used when nothing else binds first).
    default: RegistryConfig,
    /// Schemas the file names, with their files.
    schemas: Mutex<Vec<(PathBuf, Arc<Schema>)>>,
    bound: Mutex<Option<Bound>>,
}

impl std::fmt::Debug for RegistryBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryBinding")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> StreamsError {
    StreamsError::Internal("registry binding lock poisoned".into())
}

impl RegistryBinding {
    /// A binding whose default is `default` (the file's `config:`).
    pub(crate) fn new(default: RegistryConfig) -> RegistryBinding {
        RegistryBinding {
            default,
            ..RegistryBinding::default()
        }
    }

    /// Whether any format of the file uses the binding.
    pub(crate) fn is_used(&self) -> bool {
        self.schemas.lock().map(|s| !s.is_empty()).unwrap_or(true)
    }

    fn add_schema(&self, path: &Path, schema: Arc<Schema>) {
        if let Ok(mut s) = self.schemas.lock() {
            s.push((path.to_owned(), schema));
        }
    }

    /// Binds to the registry `config` names (the embedded table without a URL), unless already
    /// bound; no request is made here.
    pub fn bind(&self, config: &RegistryConfig) -> Result<(), StreamsError> {
        let mut bound = self.bound.lock().map_err(|_| poisoned())?;
        if bound.is_none() {
            *bound = Some((self.open(config)?, config.clone()));
        }
        Ok(())
    }

    /// The bound registry and its config (bound with the file's `config:` if nothing bound it).
    pub fn registry(&self) -> Result<(Arc<dyn SchemaRegistry>, RegistryConfig), StreamsError> {
        self.bind(&self.default)?;
        let bound = self.bound.lock().map_err(|_| poisoned())?;
        bound
            .clone()
            .ok_or_else(|| StreamsError::Internal("registry binding not bound".into()))
    }

    fn open(&self, config: &RegistryConfig) -> Result<Arc<dyn SchemaRegistry>, StreamsError> {
        if config.is_remote() {
            return registry::open(config, Path::new(""));
        }
        let schemas = self.schemas.lock().map_err(|_| poisoned())?.clone();
        let dir = schemas
            .first()
            .and_then(|(p, _)| p.parent())
            .unwrap_or(Path::new("."));
        let table = LocalSchemas::from_dir(dir)?;
        for (path, schema) in &schemas {
            let subject = schema
                .name()
                .map(|n| n.fullname(None))
                .unwrap_or_else(|| path.display().to_string());
            table
                .register(&subject, schema)
                .map_err(|e| StreamsError::SerdeSetup(format!("{}: {e}", path.display())))?;
        }
        Ok(Arc::new(table))
    }
}

/// Confluent wire-format Avro with the schema of one file, for the keys or the values of a
/// topic (the subject depends on which).
#[derive(Clone)]
pub struct RegistryAvroFormat {
    pub path: PathBuf,
    schema: Arc<Schema>,
    what: KeyOrValue,
    binding: Arc<RegistryBinding>,
    /// Built on first use from the binding (it caches the schema ids per topic).
    serde: Arc<Mutex<Option<Arc<GenericConfluentAvroSerde>>>>,
}

impl RegistryAvroFormat {
    pub(crate) fn new(
        path: &Path,
        schema: Arc<Schema>,
        what: KeyOrValue,
        binding: &Arc<RegistryBinding>,
    ) -> RegistryAvroFormat {
        binding.add_schema(path, schema.clone());
        RegistryAvroFormat {
            path: path.to_owned(),
            schema,
            what,
            binding: binding.clone(),
            serde: Arc::default(),
        }
    }

    /// The reader and writer schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Whether this is the format of keys or of values.
    pub fn what(&self) -> KeyOrValue {
        self.what
    }

    /// The registry and config this format uses (binding it if nothing did yet).
    pub fn registry(&self) -> Result<(Arc<dyn SchemaRegistry>, RegistryConfig), StreamsError> {
        self.binding.registry()
    }

    fn serde(&self) -> Result<Arc<GenericConfluentAvroSerde>, StreamsError> {
        let mut slot = self.serde.lock().map_err(|_| poisoned())?;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let (registry, config) = self.binding.registry()?;
        let s = Arc::new(GenericConfluentAvroSerde::new(
            registry,
            (*self.schema).clone(),
            self.what,
            &config,
        ));
        *slot = Some(s.clone());
        Ok(s)
    }

    pub(crate) fn encode(&self, topic: &str, value: &Value) -> Result<Vec<u8>, StreamsError> {
        let serde = self.serde().map_err(|e| StreamsError::Serialize {
            topic: topic.to_owned(),
            what: self.what,
            source: e.into(),
        })?;
        serde.serialize(topic, &json_to_avro(value))
    }

    pub(crate) fn decode(&self, topic: &str, bytes: &[u8]) -> Result<Value, StreamsError> {
        let de = |source: weir_core::error::BoxError| StreamsError::Deserialize {
            topic: topic.to_owned(),
            what: self.what,
            source,
        };
        let serde = self.serde().map_err(|e| de(e.into()))?;
        let datum = serde.deserialize(topic, bytes)?;
        avro_to_json(datum).map_err(|m| de(m.into()))
    }

    /// Encodes for a JSON view with an id already resolved, registering nothing.
    pub(crate) fn encode_view(&self, value: &Value) -> Result<Vec<u8>, String> {
        let serde = self.serde().map_err(|e| e.to_string())?;
        serde.encode_view(&json_to_avro(value))
    }

    pub(crate) fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.serde()?.prepare(topic)
    }
}
