//! `weir`: run, check, describe and try topologies; write sample data (`produce`) and edit the
//! forbidden-products table (`forbid`).
//!
//! ```text
//! weir run (-f FILE | --topology NAME) [--bootstrap-servers H:P] [--config FILE] [--state-dir DIR]
//!          [--processing-guarantee at_least_once|exactly_once_v2] [--threads N] [--http ADDR]
//!          [--http-token T] [--set key=value]...
//! weir check FILE... [--registry URL]
//! weir describe (-f FILE | --topology NAME) [--format text|dot|mermaid]
//! weir try -f FILE --input TOPIC=records.jsonl ... [--output-dir DIR]
//! weir produce shop|client|messages [--bootstrap-servers H:P] [--count N] [--rate R] [--seed S]
//!              [--users N] [--products N] [--forbidden-share X] [--partitions P] [--quiet] ...
//! weir forbid add ID [--reason TEXT] | remove ID | list   [--bootstrap-servers H:P] [--topic T]
//! ```
//!
//! Exit codes: 0 success, 1 a failure while running, 2 bad input (a definition file with errors,
//! bad flags, bad records for `try`). `anyhow` is used here only, at the binary's edge.

mod check_registry;
mod commands;
mod demo;
mod forbid;
mod mock_broker;
mod produce;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "A stream-processing engine with a Kafka Streams-style DSL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a topology comes from: a definition file or a built-in topology's name.
#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// A topology definition file (YAML).
    #[arg(short = 'f', long = "file")]
    pub file: Option<std::path::PathBuf>,
    /// A built-in topology: product-filter | user-recommendations | message-filter | user-interests.
    #[arg(long)]
    pub topology: Option<String>,
}

/// How `weir describe` prints a topology.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescribeFormat {
    Text,
    Dot,
    Mermaid,
}

#[derive(Subcommand)]
enum Command {
    /// Run a topology on a Kafka cluster until SIGTERM/SIGINT (a second signal exits at once).
    Run {
        #[command(flatten)]
        source: Source,
        #[arg(long)]
        bootstrap_servers: Option<String>,
        /// A properties file (Kafka Streams' names: application.id, processing.guarantee, ...).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        #[arg(long)]
        state_dir: Option<std::path::PathBuf>,
        #[arg(long, value_parser = ["at_least_once", "exactly_once_v2"])]
        processing_guarantee: Option<String>,
        #[arg(long)]
        threads: Option<usize>,
        /// Serve the state inspection endpoint here (`127.0.0.1:8080`; property `http.addr`).
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// Bearer token the endpoint requires (property `http.token`, env `WEIR_HTTP_TOKEN`).
        #[arg(long)]
        http_token: Option<String>,
        /// Any property, `key=value` (repeatable; wins over the file and the environment).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Validate definition files: errors as FILE:LINE:COL, exit code 2 when any file is bad.
    Check {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Also check the schemas of registry-Avro topics against this Schema Registry: exit 2
        /// when one is incompatible, 1 when the registry cannot be reached.
        #[arg(long, value_name = "URL")]
        registry: Option<String>,
    },
    /// Print a topology's sub-topologies, sources, processors, stores and sinks.
    Describe {
        #[command(flatten)]
        source: Source,
        /// `text` (Kafka Streams' TopologyDescription), `dot` (Graphviz) or `mermaid`.
        #[arg(long, value_enum, default_value_t = DescribeFormat::Text)]
        format: DescribeFormat,
    },
    /// Run a definition file over sample records with no broker (the test driver).
    Try {
        #[arg(short = 'f', long = "file")]
        file: std::path::PathBuf,
        /// `TOPIC=records.jsonl`: one `{"key":..,"value":..,"timestamp":..}` per line (repeatable).
        #[arg(long = "input", value_name = "TOPIC=FILE", required = true)]
        inputs: Vec<String>,
        /// Write `TOPIC.jsonl` per output topic here (default: stdout, lines prefixed by the topic).
        #[arg(long)]
        output_dir: Option<std::path::PathBuf>,
    },
    /// Write generated sample records (shop products, client searches, chat) to Kafka.
    Produce(produce::ProduceArgs),
    /// Add, remove or list the product ids of the forbidden-products table.
    Forbid(forbid::ForbidArgs),
    /// The marketplace on an embedded broker: three topologies, generators, a live summary.
    Demo(demo::DemoArgs),
    /// librdkafka's mock cluster on its own (prints `bootstrap HOST:PORT`; runs until SIGTERM).
    MockBroker(mock_broker::MockBrokerArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The tools report their own errors; librdkafka's client log (which calls reaching the end
    // of a partition a "Global error") would only add noise to their output. RUST_LOG wins.
    let default_filter = match cli.command {
        Command::Produce(_) | Command::Forbid(_) => "warn,rdkafka::client=off",
        // The summary is the demo's output; warnings and errors still show.
        Command::Demo(_) | Command::MockBroker(_) => "warn,rdkafka::client=off",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run {
            source,
            bootstrap_servers,
            config,
            state_dir,
            processing_guarantee,
            threads,
            http,
            http_token,
            sets,
        } => commands::run(commands::RunArgs {
            source,
            bootstrap_servers,
            config,
            state_dir,
            processing_guarantee,
            threads,
            http,
            http_token,
            sets,
        }),
        Command::Check { files, registry } => {
            commands::check(&files).and_then(|()| match registry {
                Some(url) => check_registry::check(&files, &url),
                None => Ok(()),
            })
        }
        Command::Describe { source, format } => commands::describe(&source, format),
        Command::Try {
            file,
            inputs,
            output_dir,
        } => commands::try_file(&file, &inputs, output_dir.as_deref()),
        Command::Produce(args) => produce::produce(&args),
        Command::Forbid(args) => forbid::forbid(&args),
        Command::Demo(args) => demo::demo(args),
        Command::MockBroker(args) => mock_broker::mock_broker(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::BadInput(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
        Err(commands::Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
