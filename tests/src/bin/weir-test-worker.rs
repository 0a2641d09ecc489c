//! `weir-test-worker`: one weir worker process running a marketplace topology on
//! `KafkaStreams`, for the end-to-end crash tests (which start it, SIGKILL it, SIGTERM it).
//!
//! ```text
//! weir-test-worker --topology product-filter|user-interests|user-recommendations|message-filter|ad-clicks|file:DEFINITION.yaml --bootstrap HOST:PORT --app ID
//!                  --state-dir DIR [--guarantee at_least_once|exactly_once_v2]
//!                  [--commit-interval-ms N] [--threads N] [--set key=value]...
//! ```
//!
//! Prints `worker started` on stdout once `KafkaStreams::start` returned, and `worker stopped`
//! after a clean close. SIGTERM or SIGINT sets the shutdown flag (a clean close: finish the
//! batch, commit, leave the group); a second signal exits at once with status 130. Exit status
//! 0 after a clean close, 1 when the worker failed, 2 on bad arguments. Logs (tracing, filter
//! from `WEIR_LOG`, default `info`) go to stderr.
//!
//! Defaults for a tansu broker, overridable with `--set`: `session.timeout.ms=3000` and
//! `consumer.heartbeat.interval.ms=500` (tansu answers a group's first join only after half the
//! session timeout; librdkafka's 45 s would cost ~23 s per join).

use std::io::Write as _;
use std::process::ExitCode;

use weir_engine::KafkaStreams;
use weir_engine::config::StreamsConfig;

const USAGE: &str = "usage: weir-test-worker --topology product-filter|user-interests|user-recommendations|message-filter|ad-clicks|file:DEFINITION.yaml --bootstrap HOST:PORT \
--app ID --state-dir DIR [--guarantee at_least_once|exactly_once_v2] [--commit-interval-ms N] \
[--threads N] [--set key=value]...";

/// The parsed command line.
#[derive(Debug)]
struct Args {
    topology: String,
    app: String,
    /// Properties in the order they apply (later wins).
    properties: Vec<(String, String)>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut topology = None;
    let mut app = None;
    let mut bootstrap = None;
    let mut state_dir = None;
    // Step 1: the tansu-friendly defaults; the flags and `--set`s below win.
    let mut properties: Vec<(String, String)> = vec![
        ("session.timeout.ms".into(), "3000".into()),
        ("consumer.heartbeat.interval.ms".into(), "500".into()),
    ];
    let mut sets = Vec::new();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--topology" => topology = Some(value),
            "--bootstrap" => bootstrap = Some(value),
            "--app" => app = Some(value),
            "--state-dir" => state_dir = Some(value),
            "--guarantee" => properties.push(("processing.guarantee".into(), value)),
            "--commit-interval-ms" => properties.push(("commit.interval.ms".into(), value)),
            "--threads" => properties.push(("num.stream.threads".into(), value)),
            "--set" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--set {value}: expected key=value"))?;
                sets.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    let topology = topology.ok_or_else(|| missing("--topology"))?;
    let app = app.ok_or_else(|| missing("--app"))?;
    properties.push(("application.id".into(), app.clone()));
    properties.push((
        "bootstrap.servers".into(),
        bootstrap.ok_or_else(|| missing("--bootstrap"))?,
    ));
    properties.push((
        "state.dir".into(),
        state_dir.ok_or_else(|| missing("--state-dir"))?,
    ));
    properties.extend(sets);
    Ok(Args {
        topology,
        app,
        properties,
    })
}

fn run(args: Args) -> Result<(), String> {
    use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};
    let (topology, defaults) = match args.topology.as_str() {
        // A definition file: its own application id (which --app must repeat) and config.
        file if file.starts_with("file:") => {
            let path = std::path::Path::new(&file["file:".len()..]);
            let loaded = weir_engine::definition::load(path).map_err(|e| e.to_string())?;
            if loaded.application != args.app {
                return Err(format!(
                    "--app {} differs from the definition's application `{}`",
                    args.app, loaded.application
                ));
            }
            (Ok(loaded.topology), loaded.config)
        }
        "product-filter" => (
            product_filter::topology(&args.app),
            product_filter::config(),
        ),
        "user-interests" => (user_interests::topology(&args.app), Vec::new()),
        "user-recommendations" => (user_recommendations::topology(&args.app), Vec::new()),
        "message-filter" => (message_filter::topology(&args.app), Vec::new()),
        "ad-clicks" => (weir_tests::ad_clicks::topology(&args.app), Vec::new()),
        other => {
            return Err(format!(
                "unknown topology `{other}` (product-filter, user-interests, user-recommendations, message-filter, ad-clicks)"
            ));
        }
    };
    let topology = topology.map_err(|e| format!("building topology {}: {e}", args.topology))?;
    // The environment is not read: a test's worker is configured by its command line only (over
    // the topology's own defaults, e.g. product-filter's dead-letter topic).
    let config =
        StreamsConfig::load_with_defaults(&defaults, None, std::iter::empty(), &args.properties)
            .map_err(|e| e.to_string())?;

    let mut streams = KafkaStreams::new(topology, config);
    weir_tests::stop_on_signals("weir-test-worker", streams.shutdown_flag())
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    // `--set http.addr=HOST:PORT` serves the state endpoint (routing tests), from before the
    // worker starts (`/ready` says what start-up waits for).
    let _endpoint = match streams.config().http_addr.clone() {
        Some(bind) => Some(
            weir_engine::http::StateEndpoint::start(
                weir_engine::http::EndpointConfig {
                    bind,
                    token: streams.config().http_token.clone(),
                    metrics: None,
                    tls: None,
                },
                vec![weir_engine::http::AppState::of(&streams)],
            )
            .map_err(|e| format!("state endpoint: {e}"))?,
        ),
        None => None,
    };
    streams.start().map_err(|e| format!("start: {e}"))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "worker started");
        let _ = out.flush();
    }
    // Returns when the shutdown flag is set (signal) or a thread fails (which sets it too).
    let waited = streams.wait().map_err(|e| format!("worker failed: {e}"));
    let closed = streams.close().map_err(|e| format!("close: {e}"));
    waited.and(closed)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "worker stopped");
    let _ = out.flush();
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("weir-test-worker: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir-test-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
