//! The `weir` subcommands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir_engine::definition::{self, Format};
use weir_engine::http::{EndpointConfig, StateEndpoint};
use weir_engine::{KafkaStreams, StreamsConfig, Topology};
use weir_topologies::golden::{self, GoldenRecord};
use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};

use crate::{DescribeFormat, Source};

/// Why a command failed: bad input (exit 2) or a failure while running (exit 1).
pub enum Failure {
    BadInput(String),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

const BUILT_IN: &[&str] = &[
    "product-filter",
    "user-recommendations",
    "message-filter",
    "user-interests",
];

/// The topology, its default application id and the streams properties it brings along (a
/// definition file's `config:`, a built-in topology's own).
fn topology(
    source: &Source,
    application: Option<&str>,
) -> Result<(Topology, String, Vec<(String, String)>), Failure> {
    if let Some(file) = &source.file {
        let loaded = match application {
            Some(id) => definition::load_as(file, id),
            None => definition::load(file),
        }
        .map_err(|e| Failure::BadInput(e.to_string()))?;
        return Ok((loaded.topology, loaded.application, loaded.config));
    }
    let name = source.topology.as_deref().unwrap_or_default();
    let app = application.unwrap_or(name).to_owned();
    let (t, config) = match name {
        "product-filter" => (product_filter::topology(&app), product_filter::config()),
        "user-interests" => (user_interests::topology(&app), Vec::new()),
        "user-recommendations" => (user_recommendations::topology(&app), Vec::new()),
        "message-filter" => (message_filter::topology(&app), Vec::new()),
        other => {
            return Err(Failure::BadInput(format!(
                "unknown topology `{other}`; built-in topologies: {}",
                BUILT_IN.join(", ")
            )));
        }
    };
    Ok((t.map_err(|e| Failure::Run(e.into()))?, app, config))
}

pub struct RunArgs {
    pub source: Source,
    pub bootstrap_servers: Option<String>,
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub processing_guarantee: Option<String>,
    pub threads: Option<usize>,
    pub http: Option<String>,
    pub http_token: Option<String>,
    pub sets: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let mut overrides: Vec<(String, String)> = Vec::new();
    if let Some(v) = &args.bootstrap_servers {
        overrides.push(("bootstrap.servers".into(), v.clone()));
    }
    if let Some(v) = &args.state_dir {
        overrides.push(("state.dir".into(), v.display().to_string()));
    }
    if let Some(v) = &args.processing_guarantee {
        overrides.push(("processing.guarantee".into(), v.clone()));
    }
    if let Some(v) = args.threads {
        overrides.push(("num.stream.threads".into(), v.to_string()));
    }
    if let Some(v) = &args.http {
        overrides.push(("http.addr".into(), v.clone()));
    }
    if let Some(v) = &args.http_token {
        overrides.push(("http.token".into(), v.clone()));
    }
    for s in &args.sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Failure::BadInput(format!("--set {s}: expected KEY=VALUE")))?;
        overrides.push((k.trim().into(), v.trim().into()));
    }
    // The topology's application id and properties are defaults; the properties file, the
    // environment and the flags may change them.
    let (probe, default_app, topology_config) = topology(&args.source, None)?;
    drop(probe);
    let mut defaults = vec![("application.id".to_owned(), default_app)];
    defaults.extend(topology_config);
    let config = StreamsConfig::load_with_defaults(
        &defaults,
        args.config.as_deref(),
        std::env::vars(),
        &overrides,
    )
    .map_err(|e| Failure::BadInput(e.to_string()))?;
    let (topology, _, _) = topology(&args.source, Some(&config.application_id))?;
    let mut streams = KafkaStreams::new(topology, config);
    crate::signals::stop_on_signals(
        streams.shutdown_flag(),
        "stopping: finishing the current batch, committing, leaving the group",
    );
    // The endpoint serves before the worker started: `/ready` says what start-up waits for
    // (an unreachable cluster, a restore), `/health` that the process is alive.
    let _endpoint = match config_for_endpoint(streams.config())? {
        Some(c) => Some(
            StateEndpoint::start(c, vec![weir_engine::http::AppState::of(&streams)])
                .map_err(|e| Failure::Run(e.into()))?,
        ),
        None => None,
    };
    streams.start().map_err(|e| Failure::Run(e.into()))?;
    tracing::info!("weir running");
    streams.wait().map_err(|e| Failure::Run(e.into()))
}

/// The endpoint's settings from the worker's config (`http.addr`, `http.token`), with the
/// process's Prometheus metrics; `None` without `http.addr`.
pub fn config_for_endpoint(config: &StreamsConfig) -> Result<Option<EndpointConfig>, Failure> {
    let Some(bind) = &config.http_addr else {
        return Ok(None);
    };
    let handle = weir_engine::metrics::install_prometheus().map_err(|e| Failure::Run(e.into()))?;
    let tls = match (&config.http_tls_cert, &config.http_tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => {
            return Err(Failure::BadInput(
                "HTTPS needs both http.tls.cert.location and http.tls.key.location".into(),
            ));
        }
    };
    Ok(Some(EndpointConfig {
        bind: bind.clone(),
        token: config.http_token.clone(),
        metrics: Some(std::sync::Arc::new(move || handle.render())),
        tls,
    }))
}

pub fn check(files: &[PathBuf]) -> Result<(), Failure> {
    let mut bad = Vec::new();
    for f in files {
        match definition::load(f) {
            Ok(l) => {
                println!("{}: ok (application {})", f.display(), l.application);
                for topic in l.topology.feedback_topics() {
                    eprintln!(
                        "{}: warning: topic `{topic}` is written and read by this topology: \
                         every record written there is processed again (a loop unless the \
                         steps end it); `weir try` stops after {} generations",
                        f.display(),
                        weir_engine::testkit::MAX_GENERATIONS
                    );
                }
            }
            Err(e) => bad.push(e.to_string()),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failure::BadInput(bad.join("\n")))
    }
}

pub fn describe(source: &Source, format: DescribeFormat) -> Result<(), Failure> {
    let (t, _, _) = topology(source, None)?;
    let text = match format {
        DescribeFormat::Text => t.describe(),
        DescribeFormat::Dot => t.to_dot(),
        DescribeFormat::Mermaid => t.to_mermaid(),
    };
    print!("{text}");
    Ok(())
}

fn golden_format(topic: &str, f: &Format) -> Result<golden::Format, Failure> {
    match f {
        Format::String => Ok(golden::Format::String),
        Format::Json => Ok(golden::Format::Json),
        Format::I64 => Ok(golden::Format::I64),
        Format::Avro(_) | Format::RegistryAvro(_) | Format::Windowed(_) => {
            Ok(golden::Format::Definition(f.clone()))
        }
        _ => Err(Failure::BadInput(format!(
            "topic `{topic}`: weir try reads and writes string, json and i64 records; this topic's format is not supported by try yet"
        ))),
    }
}

pub fn try_file(file: &Path, inputs: &[String], output_dir: Option<&Path>) -> Result<(), Failure> {
    let loaded = definition::load(file).map_err(|e| Failure::BadInput(e.to_string()))?;
    let mut formats = golden::Formats::default();
    for (topic, (k, v)) in &loaded.formats {
        if let (Ok(k), Ok(v)) = (golden_format(topic, k), golden_format(topic, v)) {
            formats.insert(topic.clone(), (k, v));
        }
    }
    let mut records = Vec::new();
    for input in inputs {
        let (topic, path) = input
            .split_once('=')
            .ok_or_else(|| Failure::BadInput(format!("--input {input}: expected TOPIC=FILE")))?;
        let rs =
            golden::read_jsonl(Path::new(path)).map_err(|e| Failure::BadInput(e.to_string()))?;
        records.push((topic.to_owned(), rs));
    }
    // The file's `config:` decides what a failed record does (fail, skip, dead letter), as in a
    // worker; dead letters are written like any output topic.
    let handlers = loaded
        .streams_config()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    // Records written before a failure are shown too, as a worker stopped by the `fail`
    // handler has written them.
    let (out, failed): (BTreeMap<String, Vec<GoldenRecord>>, _) =
        golden::run_until_error(loaded.topology, &records, &formats, Some(handlers));
    match output_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Failure::Run(e.into()))?;
            for (topic, rs) in &out {
                let path = dir.join(format!("{topic}.jsonl"));
                std::fs::write(&path, golden::to_jsonl(rs)).map_err(|e| Failure::Run(e.into()))?;
                println!("{}: {} records", path.display(), rs.len());
            }
        }
        None => {
            for (topic, rs) in &out {
                for line in golden::to_jsonl(rs).lines() {
                    println!("{topic}\t{line}");
                }
            }
        }
    }
    match failed {
        None => Ok(()),
        Some(e) => Err(Failure::BadInput(located(e, inputs))),
    }
}

/// `e` with the input file of its topic in front of a record's line (`in.jsonl:3: ...`).
fn located(e: golden::GoldenError, inputs: &[String]) -> String {
    if let golden::GoldenError::Record {
        topic,
        line,
        message,
    } = &e
    {
        let file = inputs
            .iter()
            .filter_map(|i| i.split_once('='))
            .find(|(t, _)| t == topic)
            .map(|(_, f)| f);
        if let Some(file) = file {
            return format!("{file}:{line}: topic `{topic}`: {message}");
        }
    }
    e.to_string()
}
