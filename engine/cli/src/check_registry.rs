//! `weir check --registry URL`: the schemas of every registry-Avro topic of the files
//! (`{avro: FILE, registry: true}` keys and values of sources, tables and sinks) against the
//! latest version of their subject in a Schema Registry, as the worker would register them.
//!
//! Per subject it prints `ok`, `incompatible: MESSAGES` or `no schema registered yet (would be
//! registered)`. Exit: 2 when a schema is incompatible (bad input), 1 when the registry cannot be
//! asked (unreachable, refused, an error answer). Subjects follow the file's `config:`
//! (`value.subject.name.strategy`...; TopicNameStrategy by default); `--registry` replaces its
//! `schema.registry.url`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use weir_engine::definition::{self, Format};
use weir_engine::error::KeyOrValue;
use weir_engine::serde::registry::{SchemaRegistry, SchemaRegistryClient, subject_name};

use crate::commands::Failure;

/// One subject's verdict.
enum Verdict {
    Ok,
    New,
    Incompatible(Vec<String>),
}

pub fn check(files: &[PathBuf], url: &str) -> Result<(), Failure> {
    let mut incompatible = Vec::new();
    for file in files {
        let loaded = definition::load(file).map_err(|e| Failure::BadInput(e.to_string()))?;
        let mut config = loaded
            .streams_config()
            .map_err(|e| Failure::BadInput(e.to_string()))?
            .schema_registry;
        config
            .set("schema.registry.url", url)
            .map_err(|e| Failure::BadInput(format!("--registry {url}: {e}")))?;
        let client = SchemaRegistryClient::new(&config).map_err(|e| Failure::Run(e.into()))?;
        let mut seen = BTreeSet::new();
        let mut checked = 0;
        for (topic, (key, value)) in &loaded.formats {
            for format in [key, value] {
                let Format::RegistryAvro(a) = format else {
                    continue;
                };
                let strategy = match a.what() {
                    KeyOrValue::Key => config.key_subject_name_strategy,
                    KeyOrValue::Value => config.value_subject_name_strategy,
                };
                let subject = subject_name(strategy, topic, a.what(), a.schema())
                    .map_err(|e| Failure::BadInput(format!("{}: {e}", file.display())))?;
                if !seen.insert(subject.clone()) {
                    continue;
                }
                checked += 1;
                let verdict = verdict(&client, &subject, a.schema()).map_err(|e| {
                    Failure::Run(anyhow::anyhow!(
                        "{}: subject `{subject}`: {e}",
                        file.display()
                    ))
                })?;
                let text = match verdict {
                    Verdict::Ok => "ok".to_owned(),
                    Verdict::New => "no schema registered yet (would be registered)".to_owned(),
                    Verdict::Incompatible(m) => {
                        incompatible.push(format!("{}: subject `{subject}`", file.display()));
                        format!("incompatible: {}", m.join("; "))
                    }
                };
                println!(
                    "{}: {subject} ({}): {text}",
                    file.display(),
                    a.path.display()
                );
            }
        }
        if checked == 0 {
            println!("{}: no registry Avro topics", file.display());
        }
    }
    if incompatible.is_empty() {
        Ok(())
    } else {
        Err(Failure::BadInput(format!(
            "incompatible schemas:\n{}",
            incompatible.join("\n")
        )))
    }
}

fn verdict(
    client: &SchemaRegistryClient,
    subject: &str,
    schema: &apache_avro::Schema,
) -> Result<Verdict, weir_engine::StreamsError> {
    if client.latest(subject)?.is_none() {
        return Ok(Verdict::New);
    }
    let c = client.check_compatibility(subject, schema)?;
    Ok(if c.compatible {
        Verdict::Ok
    } else {
        Verdict::Incompatible(c.messages)
    })
}
