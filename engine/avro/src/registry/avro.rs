//! Avro serdes in the Confluent wire format: [`GenericConfluentAvroSerde`] over apache-avro's
//! generic [`Value`] (definition files) and [`ConfluentAvroSerde<T>`] over serde types (Rust
//! topologies). Both share one core that turns bytes into a resolved [`Value`] and back.
//!
//! Reading: the payload's schema id is looked up (cached by the registry client) and the datum
//! decoded with that writer schema, then resolved against the serde's own schema, the reader
//! schema (Avro schema resolution: added fields take their defaults, removed fields are
//! skipped, numeric types promote). Any failure — not framed, unknown id, registry down,
//! corrupt datum, trailing bytes — is a [`StreamsError::Deserialize`], which the runtime gives
//! to the deserialization error handler.
//!
//! Writing: the serde's schema is written with the id of its subject (see
//! [`super::subject_name`]). [`Serde::prepare`] (or [`ConfluentAvroSerde::schema_id`]) resolves that id at start-up:
//! register it (`auto.register.schemas=true`) or look it up (`false`; a missing schema is a
//! start-up error naming the subject). `serialize` calls it on first use of a topic if
//! start-up did not.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use apache_avro::Schema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::datum::{DatumReaders, DatumWriter};
use super::{RegistryConfig, SchemaRegistry, SubjectNameStrategy, subject_name, wire};
use weir_core::error::{BoxError, KeyOrValue, StreamsError};
use weir_core::serde::Serde;

/// The shared core: bytes ↔ resolved [`Value`].
struct Core {
    registry: Arc<dyn SchemaRegistry>,
    schema: Arc<Schema>,
    what: KeyOrValue,
    strategy: SubjectNameStrategy,
    auto_register: bool,
    /// Schema id to write with, per topic.
    ids: RwLock<HashMap<String, u32>>,
    /// A reader per writer schema id, resolving to `schema`.
    readers: DatumReaders,
    /// The writer of `schema`; `None` when it cannot be built (each write then says why).
    writer: Option<DatumWriter>,
}

impl Core {
    fn new(
        registry: Arc<dyn SchemaRegistry>,
        schema: Schema,
        what: KeyOrValue,
        config: &RegistryConfig,
    ) -> Core {
        let schema = Arc::new(schema);
        Core {
            registry,
            writer: DatumWriter::build(schema.clone()).ok(),
            readers: DatumReaders::default(),
            schema,
            what,
            strategy: match what {
                KeyOrValue::Key => config.key_subject_name_strategy,
                KeyOrValue::Value => config.value_subject_name_strategy,
            },
            auto_register: config.auto_register_schemas,
            ids: RwLock::new(HashMap::new()),
        }
    }

    fn prepare(&self, topic: &str) -> Result<u32, StreamsError> {
        if let Some(id) = self.ids.read().ok().and_then(|m| m.get(topic).copied()) {
            return Ok(id);
        }
        let subject = subject_name(self.strategy, topic, self.what, &self.schema)?;
        let id = if self.auto_register {
            self.registry.register(&subject, &self.schema)?
        } else {
            self.registry
                .lookup(&subject, &self.schema)?
                .ok_or_else(|| {
                    StreamsError::SerdeSetup(format!(
                        "the {} schema of topic `{topic}` is not registered under subject \
                         `{subject}` in {} and auto.register.schemas=false: register it \
                         (or set auto.register.schemas=true)",
                        self.what,
                        self.registry.describe()
                    ))
                })?
        };
        if let Ok(mut m) = self.ids.write() {
            m.insert(topic.to_string(), id);
        }
        Ok(id)
    }

    fn ser_error(&self, topic: &str, source: impl Into<BoxError>) -> StreamsError {
        StreamsError::Serialize {
            topic: topic.into(),
            what: self.what,
            source: source.into(),
        }
    }

    fn de_error(&self, topic: &str, source: impl Into<BoxError>) -> StreamsError {
        StreamsError::Deserialize {
            topic: topic.into(),
            what: self.what,
            source: source.into(),
        }
    }

    /// Encodes a value that already matches (or resolves to) the serde's schema.
    fn encode(&self, topic: &str, value: Value) -> Result<Vec<u8>, StreamsError> {
        let id = self.prepare(topic).map_err(|e| self.ser_error(topic, e))?;
        let value = value
            .resolve(&self.schema)
            .map_err(|e| self.ser_error(topic, e))?;
        let datum = self.write(value).map_err(|e| self.ser_error(topic, e))?;
        Ok(wire::frame(id, &datum))
    }

    /// `value`, resolved to the schema, as an Avro datum.
    fn write(&self, value: Value) -> apache_avro::AvroResult<Vec<u8>> {
        match &self.writer {
            Some(w) => w.write(value),
            None => GenericDatumWriter::builder(&self.schema)
                .build()
                .and_then(|w| w.write_value_to_vec(value)),
        }
    }

    /// Encodes for a JSON view (the state endpoint's keys): with an id already resolved for
    /// some topic (one schema has one id in a registry), registering nothing.
    fn encode_view(&self, value: Value) -> Result<Vec<u8>, String> {
        let id = self
            .ids
            .read()
            .ok()
            .and_then(|m| m.values().next().copied())
            .ok_or("no schema id known yet (nothing was written with this serde)")?;
        let value = value.resolve(&self.schema).map_err(|e| e.to_string())?;
        let datum = self.write(value).map_err(|e| e.to_string())?;
        Ok(wire::frame(id, &datum))
    }

    fn view_json(&self, bytes: &[u8]) -> Result<serde_json::Value, String> {
        let v = self.decode("", bytes).map_err(|e| e.to_string())?;
        crate::json::avro_to_json(v)
    }

    fn view_bytes(&self, text: &str) -> Result<Vec<u8>, String> {
        let json = weir_core::serde::text_as_json(text);
        self.encode_view(crate::json::json_to_avro(&json))
    }

    fn decode(&self, topic: &str, bytes: &[u8]) -> Result<Value, StreamsError> {
        let (id, datum) = wire::unframe(bytes).map_err(|e| self.de_error(topic, e))?;
        let reader = self
            .readers
            .get(
                id,
                || self.registry.schema_by_id(id).map_err(BoxError::from),
                &self.schema,
            )
            .map_err(|e| self.de_error(topic, format!("schema id {id}: {e}")))?;
        let mut rest = datum;
        let value = reader
            .read(&mut rest)
            .map_err(|e| self.de_error(topic, format!("schema id {id}: {e}")))?;
        if !rest.is_empty() {
            return Err(self.de_error(
                topic,
                format!(
                    "schema id {id}: {} trailing bytes after the Avro datum",
                    rest.len()
                ),
            ));
        }
        Ok(value)
    }
}

/// Confluent wire-format Avro over generic [`Value`]s (for definition files).
pub struct GenericConfluentAvroSerde {
    core: Core,
}

impl GenericConfluentAvroSerde {
    /// A serde for the `what` half of records, writing and reading with `schema` (the reader
    /// schema), subjects and registration as `config` says.
    pub fn new(
        registry: Arc<dyn SchemaRegistry>,
        schema: Schema,
        what: KeyOrValue,
        config: &RegistryConfig,
    ) -> Self {
        GenericConfluentAvroSerde {
            core: Core::new(registry, schema, what, config),
        }
    }

    /// The schema id written to `topic`: registered or looked up on first call (start-up, via
    /// [`Serde::prepare`]), cached after.
    pub fn schema_id(&self, topic: &str) -> Result<u32, StreamsError> {
        self.core.prepare(topic)
    }

    /// The reader and writer schema.
    pub fn schema(&self) -> &Schema {
        &self.core.schema
    }

    /// `value` encoded with an id already resolved (see [`Serde::text_to_bytes`]): for views
    /// of written data, registering nothing.
    pub fn encode_view(&self, value: &Value) -> Result<Vec<u8>, String> {
        self.core.encode_view(value.clone())
    }
}

impl Serde<Value> for GenericConfluentAvroSerde {
    fn serialize(&self, topic: &str, value: &Value) -> Result<Vec<u8>, StreamsError> {
        self.core.encode(topic, value.clone())
    }

    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<Value, StreamsError> {
        self.core.decode(topic, bytes)
    }

    fn name(&self) -> &'static str {
        "avro-registry"
    }

    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.core.prepare(topic).map(|_| ())
    }

    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(self.core.view_json(bytes))
    }

    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(self.core.view_bytes(text))
    }
}

/// Confluent wire-format Avro over a serde type `T` (for Rust topologies): `T` maps onto the
/// schema through apache-avro's serde support.
pub struct ConfluentAvroSerde<T> {
    core: Core,
    _t: PhantomData<fn() -> T>,
}

impl<T> ConfluentAvroSerde<T> {
    /// See [`GenericConfluentAvroSerde::new`].
    pub fn new(
        registry: Arc<dyn SchemaRegistry>,
        schema: Schema,
        what: KeyOrValue,
        config: &RegistryConfig,
    ) -> Self {
        ConfluentAvroSerde {
            core: Core::new(registry, schema, what, config),
            _t: PhantomData,
        }
    }

    /// The schema id written to `topic`: registered or looked up on first call (start-up, via
    /// [`Serde::prepare`]), cached after.
    pub fn schema_id(&self, topic: &str) -> Result<u32, StreamsError> {
        self.core.prepare(topic)
    }

    /// The reader and writer schema.
    pub fn schema(&self) -> &Schema {
        &self.core.schema
    }
}

impl<T> Serde<T> for ConfluentAvroSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>, StreamsError> {
        let v = apache_avro::to_value(value).map_err(|e| self.core.ser_error(topic, e))?;
        self.core.encode(topic, v)
    }

    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, StreamsError> {
        let v = self.core.decode(topic, bytes)?;
        apache_avro::from_value(&v).map_err(|e| self.core.de_error(topic, e))
    }

    fn name(&self) -> &'static str {
        "avro-registry"
    }

    fn prepare(&self, topic: &str) -> Result<(), StreamsError> {
        self.core.prepare(topic).map(|_| ())
    }

    fn bytes_to_json(&self, bytes: &[u8]) -> Option<Result<serde_json::Value, String>> {
        Some(self.core.view_json(bytes))
    }

    fn text_to_bytes(&self, text: &str) -> Option<Result<Vec<u8>, String>> {
        Some(self.core.view_bytes(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::LocalSchemas;

    const V1: &str = r#"{"type":"record","name":"P","namespace":"m","fields":[
        {"name":"id","type":"string"},{"name":"price","type":"double"}]}"#;
    const V2: &str = r#"{"type":"record","name":"P","namespace":"m","fields":[
        {"name":"id","type":"string"},{"name":"price","type":"double"},
        {"name":"stock","type":"int","default":7}]}"#;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct P {
        id: String,
        price: f64,
    }

    fn serde<T>(reg: &Arc<LocalSchemas>, schema: &str) -> ConfluentAvroSerde<T> {
        let r: Arc<dyn SchemaRegistry> = reg.clone();
        ConfluentAvroSerde::new(
            r,
            Schema::parse_str(schema).unwrap(),
            KeyOrValue::Value,
            &RegistryConfig::default(),
        )
    }

    #[test]
    fn round_trips_with_the_wire_header() {
        let reg = Arc::new(LocalSchemas::new());
        let s = serde::<P>(&reg, V1);
        let p = P {
            id: "p1".into(),
            price: 2.5,
        };
        let b = s.serialize("t", &p).unwrap();
        let id = LocalSchemas::local_id(s.schema());
        assert_eq!(&b[..5], &wire::frame(id, &[])[..]);
        assert_eq!(s.deserialize("t", &b).unwrap(), p);
        assert_eq!(reg.latest("t-value").unwrap().unwrap().id, id);
    }

    #[test]
    fn old_readers_skip_new_fields_and_new_readers_fill_defaults() {
        let reg = Arc::new(LocalSchemas::new());
        let v1 = serde::<P>(&reg, V1);
        let v2 = GenericConfluentAvroSerde::new(
            reg.clone(),
            Schema::parse_str(V2).unwrap(),
            KeyOrValue::Value,
            &RegistryConfig::default(),
        );
        let old = v1
            .serialize(
                "t",
                &P {
                    id: "a".into(),
                    price: 1.0,
                },
            )
            .unwrap();
        let Value::Record(fields) = v2.deserialize("t", &old).unwrap() else {
            panic!("not a record")
        };
        assert_eq!(fields[2], ("stock".to_string(), Value::Int(7)));
        let new = v2.serialize("u", &Value::Record(fields)).unwrap();
        assert_eq!(v1.deserialize("u", &new).unwrap().id, "a");
    }

    #[test]
    fn bad_payloads_are_deserialize_errors() {
        let reg = Arc::new(LocalSchemas::new());
        let s = serde::<P>(&reg, V1);
        let good = s
            .serialize(
                "t",
                &P {
                    id: "p".into(),
                    price: 1.0,
                },
            )
            .unwrap();
        let mut unknown = good.clone();
        unknown[4] ^= 0xff;
        let mut trailing = good.clone();
        trailing.push(0);
        for bad in [
            &[][..],
            &[1, 0, 0, 0, 1][..],
            &good[..7],
            &unknown,
            &trailing,
        ] {
            let e = s.deserialize("t", bad).unwrap_err();
            assert!(matches!(e, StreamsError::Deserialize { .. }), "{e:?}");
        }
    }

    #[test]
    fn without_auto_register_a_missing_schema_is_a_setup_error() {
        let reg: Arc<dyn SchemaRegistry> = Arc::new(LocalSchemas::new());
        let mut config = RegistryConfig::default();
        config.auto_register_schemas = false;
        let s = ConfluentAvroSerde::<P>::new(
            reg,
            Schema::parse_str(V1).unwrap(),
            KeyOrValue::Value,
            &config,
        );
        let e = s.schema_id("products").unwrap_err().to_string();
        assert!(
            e.contains("products-value") && e.contains("auto.register.schemas"),
            "{e}"
        );
    }
}
