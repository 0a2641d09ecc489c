//! [`LocalSchemas`]: the embedded schema table used when no `schema.registry.url` is set —
//! the same [`SchemaRegistry`] interface, in memory, so Avro topics keep the Confluent wire
//! format and switching to a real registry changes only configuration.
//!
//! # Ids
//!
//! A schema's id is the low 31 bits of its CRC-64-AVRO (Rabin) fingerprint over its Parsing
//! Canonical Form (the Avro specification's schema fingerprint), or 1 if that is 0. So the id
//! of a schema file does not depend on which other files exist or in what order they load,
//! and every worker computes the same ids. Two different schemas with the same id are refused
//! at load time (a clear error, not a silent mix-up). Ids are not those a real registry would
//! assign: data written with the embedded table is read back with it.
//!
//! # Subjects
//!
//! Schema files name no subject. [`LocalSchemas::from_dir`] registers each file's schema under
//! its record's full name; registering under any other subject (a sink at start-up) adds it
//! there. A lookup finds a schema under a subject, or anywhere in the table: the files are the
//! registry. Compatibility is BACKWARD against the latest version (a new schema must read data
//! written with the latest), checked with apache-avro's schema compatibility.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use apache_avro::Schema;
use apache_avro::rabin::Rabin;
use apache_avro::schema_compatibility::SchemaCompatibility;

use super::{Compatibility, RegisteredSchema, SchemaRegistry};
use weir_core::error::StreamsError;

#[derive(Default)]
struct Table {
    by_id: HashMap<u32, Arc<Schema>>,
    /// Ids by subject, in version order.
    subjects: HashMap<String, Vec<u32>>,
}

/// An in-memory schema table with fingerprint ids (see the module doc).
#[derive(Default)]
pub struct LocalSchemas {
    table: RwLock<Table>,
}

impl std::fmt::Debug for LocalSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.table.read().map(|t| t.by_id.len()).unwrap_or(0);
        f.debug_struct("LocalSchemas").field("schemas", &n).finish()
    }
}

fn poisoned() -> StreamsError {
    StreamsError::Internal("schema table lock poisoned".into())
}

impl LocalSchemas {
    /// An empty table.
    pub fn new() -> LocalSchemas {
        LocalSchemas::default()
    }

    /// The id the embedded table gives `schema`.
    pub fn local_id(schema: &Schema) -> u32 {
        let fp = schema.fingerprint::<Rabin>().bytes;
        let mut low = [0u8; 4];
        for (d, s) in low.iter_mut().zip(fp.iter()) {
            *d = *s;
        }
        match u32::from_le_bytes(low) & 0x7fff_ffff {
            0 => 1,
            id => id,
        }
    }

    /// A table of every `*.avsc` file in `dir` (not recursive), each registered under its
    /// record's full name. A missing directory is an empty table.
    pub fn from_dir(dir: &Path) -> Result<LocalSchemas, StreamsError> {
        let table = LocalSchemas::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
            Err(e) => {
                return Err(StreamsError::SerdeSetup(format!(
                    "cannot read schema directory {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "avsc"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                StreamsError::SerdeSetup(format!("cannot read {}: {e}", path.display()))
            })?;
            let schema = Schema::parse_str(&text)
                .map_err(|e| StreamsError::SerdeSetup(format!("{}: {e}", path.display())))?;
            let subject = schema
                .name()
                .map(|n| n.fullname(None))
                .unwrap_or_else(|| path.display().to_string());
            table
                .register(&subject, &schema)
                .map_err(|e| StreamsError::SerdeSetup(format!("{}: {e}", path.display())))?;
        }
        Ok(table)
    }

    /// Adds `schema` to the table (under no subject) and returns its id.
    pub fn add(&self, schema: &Schema) -> Result<u32, StreamsError> {
        let id = LocalSchemas::local_id(schema);
        let mut t = self.table.write().map_err(|_| poisoned())?;
        match t.by_id.get(&id) {
            Some(known) if known.as_ref() != schema => Err(StreamsError::SerdeSetup(format!(
                "schemas `{}` and `{}` have the same embedded id {id}; rename one",
                known.canonical_form(),
                schema.canonical_form()
            ))),
            Some(_) => Ok(id),
            None => {
                t.by_id.insert(id, Arc::new(schema.clone()));
                Ok(id)
            }
        }
    }
}

impl SchemaRegistry for LocalSchemas {
    fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, StreamsError> {
        let t = self.table.read().map_err(|_| poisoned())?;
        t.by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| StreamsError::SchemaRegistry {
                operation: format!("embedded schema table: id {id}"),
                status: None,
                error_code: Some(40403),
                message: format!("schema {id} not found in the embedded schema table"),
            })
    }

    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, StreamsError> {
        let id = self.add(schema)?;
        let mut t = self.table.write().map_err(|_| poisoned())?;
        let versions = t.subjects.entry(subject.to_string()).or_default();
        if !versions.contains(&id) {
            versions.push(id);
        }
        Ok(id)
    }

    fn lookup(&self, subject: &str, schema: &Schema) -> Result<Option<u32>, StreamsError> {
        let id = LocalSchemas::local_id(schema);
        let t = self.table.read().map_err(|_| poisoned())?;
        let under_subject = t.subjects.get(subject).is_some_and(|v| v.contains(&id));
        let known = t.by_id.get(&id).is_some_and(|s| s.as_ref() == schema);
        Ok((under_subject || known).then_some(id))
    }

    fn latest(&self, subject: &str) -> Result<Option<RegisteredSchema>, StreamsError> {
        let t = self.table.read().map_err(|_| poisoned())?;
        let Some(versions) = t.subjects.get(subject) else {
            return Ok(None);
        };
        let Some((n, id)) = versions.iter().enumerate().next_back() else {
            return Ok(None);
        };
        let Some(schema) = t.by_id.get(id).cloned() else {
            return Ok(None);
        };
        Ok(Some(RegisteredSchema {
            subject: subject.to_string(),
            id: *id,
            version: u32::try_from(n + 1).unwrap_or(u32::MAX),
            schema,
        }))
    }

    fn check_compatibility(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<Compatibility, StreamsError> {
        let Some(latest) = self.latest(subject)? else {
            return Ok(Compatibility {
                compatible: true,
                messages: vec![format!("no version registered under `{subject}` yet")],
            });
        };
        Ok(
            match SchemaCompatibility::can_read(&latest.schema, schema) {
                Ok(_) => Compatibility {
                    compatible: true,
                    messages: Vec::new(),
                },
                Err(e) => Compatibility {
                    compatible: false,
                    messages: vec![e.to_string()],
                },
            },
        )
    }

    fn describe(&self) -> String {
        "embedded schema table".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"P","namespace":"m","fields":[
        {"name":"id","type":"string"}]}"#;
    const V2: &str = r#"{"type":"record","name":"P","namespace":"m","fields":[
        {"name":"id","type":"string"},{"name":"n","type":"int","default":0}]}"#;
    const BAD: &str = r#"{"type":"record","name":"P","namespace":"m","fields":[
        {"name":"id","type":"string"},{"name":"n","type":"int"}]}"#;

    #[test]
    fn ids_are_fingerprints_and_stable() {
        let v1 = Schema::parse_str(V1).unwrap();
        let t = LocalSchemas::new();
        let id = t.register("m.P", &v1).unwrap();
        assert_eq!(id, LocalSchemas::local_id(&v1));
        assert!(id > 0 && id <= 0x7fff_ffff);
        assert_eq!(
            t.register("other", &v1).unwrap(),
            id,
            "same schema, same id"
        );
        assert_eq!(t.schema_by_id(id).unwrap().as_ref(), &v1);
        assert!(t.schema_by_id(id ^ 1).is_err());
        assert_eq!(t.lookup("anything", &v1).unwrap(), Some(id));
    }

    #[test]
    fn compatibility_is_backward_against_the_latest() {
        let t = LocalSchemas::new();
        let [v1, v2, bad] = [V1, V2, BAD].map(|s| Schema::parse_str(s).unwrap());
        assert!(t.check_compatibility("s", &v1).unwrap().compatible);
        t.register("s", &v1).unwrap();
        assert!(t.check_compatibility("s", &v2).unwrap().compatible);
        let c = t.check_compatibility("s", &bad).unwrap();
        assert!(!c.compatible && !c.messages.is_empty(), "{c:?}");
        t.register("s", &v2).unwrap();
        assert_eq!(t.latest("s").unwrap().unwrap().version, 2);
    }

    #[test]
    fn loads_a_directory_of_schema_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.avsc"), V1).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let t = LocalSchemas::from_dir(dir.path()).unwrap();
        let latest = t.latest("m.P").unwrap().unwrap();
        assert_eq!(
            latest.id,
            LocalSchemas::local_id(&Schema::parse_str(V1).unwrap())
        );
        std::fs::write(dir.path().join("bad.avsc"), "{").unwrap();
        let e = LocalSchemas::from_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bad.avsc"), "{e}");
        assert!(LocalSchemas::from_dir(&dir.path().join("none")).is_ok());
    }
}
