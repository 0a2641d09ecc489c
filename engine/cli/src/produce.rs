//! `weir produce shop|client|messages`: writes generated sample records
//! ([`weir_topologies::generate`]) to a Kafka cluster, paced or as fast as possible, with a live
//! counter on stderr and a summary line on stdout.
//!
//! Steps: 1. check the flags (bad ones exit 2); 2. create the topics the data set writes (and
//! `forbidden-products` for `shop --seed-forbidden true`) when missing; 3. for `shop`, write the
//! forbidden set once; 4. write `--count` records at `--rate`; 5. flush and report. Ctrl-C stops
//! step 4 early, then step 5 runs as usual (a second Ctrl-C exits at once).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_engine::kafka::admin::CleanupPolicy;
use weir_engine::kafka::tools::{RecordWriter, ensure_topics};
use weir_topologies::generate::{self, Dataset, GeneratorConfig};

use crate::commands::Failure;

/// How long topic creation and the final flush may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Which sample data set to write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetArg {
    /// `shop-products` (SHOP API), and the forbidden set to `forbidden-products`.
    Shop,
    /// `client-searches` and `client-recommendation-requests` (CLIENT API).
    Client,
    /// `messages`, `blocked-users` and `forbidden-words` (chat).
    Messages,
}

impl DatasetArg {
    fn dataset(self) -> Dataset {
        match self {
            DatasetArg::Shop => Dataset::Shop,
            DatasetArg::Client => Dataset::Client,
            DatasetArg::Messages => Dataset::Messages,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// The data set: shop | client | messages.
    #[arg(value_enum)]
    pub dataset: DatasetArg,
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_servers: String,
    /// Records to write (0: until Ctrl-C).
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Records per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Users `u-0001` ..= `u-{users}`.
    #[arg(long, default_value_t = GeneratorConfig::default().users)]
    pub users: u32,
    /// Catalogue `p-00001` ..= `p-{products}`; every 10th product is forbidden.
    #[arg(long, default_value_t = GeneratorConfig::default().products)]
    pub products: u32,
    /// Share of products drawn from the forbidden set (0..1).
    #[arg(long, default_value_t = GeneratorConfig::default().forbidden_share)]
    pub forbidden_share: f64,
    /// Share of invalid products: empty id or negative price (0..1).
    #[arg(long, default_value_t = GeneratorConfig::default().invalid_share)]
    pub invalid_share: f64,
    /// Every N-th client record is a recommendation request (0: never).
    #[arg(long, default_value_t = GeneratorConfig::default().request_every)]
    pub request_every: u32,
    /// Seed of the generator: the same seed writes the same records.
    #[arg(long, default_value_t = GeneratorConfig::default().seed)]
    pub seed: u64,
    /// Partitions of the topics it creates (existing topics are left as they are).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub partitions: i32,
    /// For `shop`: write the forbidden set to `forbidden-products` first (true | false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_forbidden: bool,
    /// No live counter on stderr.
    #[arg(long)]
    pub quiet: bool,
}

impl ProduceArgs {
    /// Step 1: the generator config, or why the flags are bad.
    fn generator_config(&self) -> Result<GeneratorConfig, Failure> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(Failure::BadInput(
                "--bootstrap-servers: expected host:port[,host:port...]".into(),
            ));
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(Failure::BadInput(format!(
                "--rate: expected records per second (0 or more), not {}",
                self.rate
            )));
        }
        let config = GeneratorConfig {
            seed: self.seed,
            products: self.products,
            users: self.users,
            forbidden_share: self.forbidden_share,
            invalid_share: self.invalid_share,
            request_every: self.request_every,
        };
        config
            .validate()
            .map_err(|e| Failure::BadInput(format!("bad generator flags: {e}")))?;
        Ok(config)
    }
}

/// Compacted for tables (latest value per key), delete for event streams.
fn cleanup_policy(topic: &str) -> CleanupPolicy {
    match topic {
        generate::FORBIDDEN_PRODUCTS | generate::FORBIDDEN_WORDS | generate::BLOCKED_USERS => {
            CleanupPolicy::Compact
        }
        _ => CleanupPolicy::Delete,
    }
}

fn run_failure(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

pub fn produce(args: &ProduceArgs) -> Result<(), Failure> {
    let config = args.generator_config()?;
    let dataset = args.dataset.dataset();
    let seed_forbidden = args.dataset == DatasetArg::Shop && args.seed_forbidden;
    // Step 2: topics.
    let mut topics: Vec<&str> = dataset.topics().to_vec();
    if seed_forbidden {
        topics.push(generate::FORBIDDEN_PRODUCTS);
    }
    let specs: Vec<(&str, i32, CleanupPolicy)> = topics
        .iter()
        .map(|t| (*t, args.partitions, cleanup_policy(t)))
        .collect();
    ensure_topics(&args.bootstrap_servers, &specs, TIMEOUT).map_err(run_failure)?;
    let writer = RecordWriter::new(&args.bootstrap_servers).map_err(run_failure)?;
    // Step 3: the forbidden set.
    let mut seeded = 0u64;
    if seed_forbidden {
        for (topic, key, value) in generate::forbidden_records(&config) {
            writer
                .send(topic, &key, value.as_deref())
                .map_err(run_failure)?;
            seeded += 1;
        }
    }
    // Step 4: the records.
    let stop = Arc::new(AtomicBool::new(false));
    crate::signals::stop_on_signals(stop.clone(), "stopping: flushing what was sent");
    let mut progress = Progress::new(args.quiet);
    let t0 = Instant::now();
    let mut per_topic: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut sent = 0u64;
    for (topic, key, value) in dataset.records(config) {
        if (args.count > 0 && sent >= args.count) || stop.load(Ordering::Acquire) {
            break;
        }
        if args.rate > 0.0 {
            // Record n is due n / rate seconds after the start: no bursts after a slow phase
            // beyond what the schedule allows, and no drift.
            let due = t0 + Duration::from_secs_f64(sent as f64 / args.rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        writer
            .send(topic, &key, value.as_deref())
            .map_err(run_failure)?;
        sent += 1;
        *per_topic.entry(topic).or_default() += 1;
        progress.tick(sent, &writer, t0);
    }
    // Step 5: flush and report.
    progress.finish();
    let flushed = writer.flush(TIMEOUT);
    let secs = t0.elapsed().as_secs_f64().max(1e-3);
    let topics: Vec<String> = per_topic.iter().map(|(t, n)| format!("{t}: {n}")).collect();
    let seeded = if seed_forbidden {
        format!(
            " (+{seeded} forbidden ids to {})",
            generate::FORBIDDEN_PRODUCTS
        )
    } else {
        String::new()
    };
    println!(
        "produced {sent} records [{}]{seeded} in {secs:.1} s ({:.0} records/s); delivered {}, failed {}",
        topics.join(", "),
        sent as f64 / secs,
        writer.delivered(),
        writer.failed()
    );
    flushed.map_err(run_failure)
}

/// A live counter on stderr, about once a second: in place on a terminal, a line otherwise.
struct Progress {
    enabled: bool,
    terminal: bool,
    last: Instant,
    printed: bool,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Progress {
            enabled: !quiet,
            terminal: std::io::stderr().is_terminal(),
            last: Instant::now(),
            printed: false,
        }
    }

    fn tick(&mut self, sent: u64, writer: &RecordWriter, t0: Instant) {
        if !self.enabled || self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let rate = sent as f64 / t0.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "{sent} sent, {} delivered, {} failed, {rate:.0} records/s",
            writer.delivered(),
            writer.failed()
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.printed = true;
    }

    fn finish(&self) {
        if self.enabled && self.terminal && self.printed {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ProduceArgs,
    }

    fn parse(argv: &[&str]) -> Result<ProduceArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("produce").chain(argv.iter().copied())).map(|w| w.args)
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&["shop"]).unwrap();
        assert_eq!(a.count, 10_000);
        assert_eq!(a.partitions, 3);
        assert!(a.seed_forbidden);
        assert_eq!(a.bootstrap_servers, "localhost:9092");
        assert_eq!(a.generator_config().ok(), Some(GeneratorConfig::default()));
        let a = parse(&["client", "--seed-forbidden", "false", "--rate", "50"]).unwrap();
        assert!(!a.seed_forbidden);
        assert_eq!(a.dataset, DatasetArg::Client);
    }

    #[test]
    fn bad_flags_are_bad_input() {
        assert!(parse(&["shoes"]).is_err());
        assert!(parse(&["shop", "--partitions", "0"]).is_err());
        assert!(parse(&["shop", "--count", "-1"]).is_err());
        let bad = |argv: &[&str]| match parse(argv).unwrap().generator_config() {
            Err(Failure::BadInput(m)) => m,
            _ => panic!("{argv:?} accepted"),
        };
        assert!(bad(&["shop", "--rate=-3"]).contains("--rate"));
        assert!(bad(&["shop", "--forbidden-share", "1.5"]).contains("forbidden share"));
        assert!(bad(&["shop", "--products", "0"]).contains("products"));
        assert!(bad(&["shop", "--bootstrap-servers", " "]).contains("--bootstrap-servers"));
    }
}
