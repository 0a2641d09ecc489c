//! `weir demo`: the marketplace on a laptop with nothing installed.
//!
//! Shop products are Avro in Confluent's wire format (the embedded schema table stands in for a
//! Schema Registry); searches, requests and messages are JSON.
//!
//! Steps: 1. start the embedded broker (librdkafka's mock cluster on 127.0.0.1) and create every
//! topic the three topologies use (it has no CreateTopics API); 2. seed the forbidden-products
//! table; 3. start product-filter, user-recommendations and message-filter (at-least-once: the
//! mock cluster's transactions do not isolate) with state under a temporary directory;
//! 4. run the SHOP, CLIENT and chat generators at `--rate` records/s each; 5. print a summary
//! every second from the workers' own metrics (records in/out per second, forbidden products
//! dropped, dead letters, recommendations answered, messages blocked); 6. on Ctrl-C (or after
//! `--duration`) stop the generators, close the workers (commit, leave the group), stop the
//! broker and print the totals.
//!
//! The mock cluster keeps at most 100,000 batches or 5 MiB per partition and silently drops
//! older data, so the generators run at a rate the workers keep up with.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use weir_engine::http::{EndpointConfig, StateEndpoint};
use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::tools::RecordWriter;
use weir_engine::{KafkaStreams, StreamsConfig, Topology};
use weir_topologies::avro::AvroProducts;
use weir_topologies::generate::{self, Dataset, GeneratorConfig};
use weir_topologies::{message_filter, product_filter, user_recommendations};

use crate::commands::Failure;

/// Partitions of every demo topic.
const PARTITIONS: i32 = 3;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Records per second of each generator (shop, client, chat).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Users of the client and chat generators.
    #[arg(long, default_value_t = 50)]
    pub users: u32,
    /// Share of shop products drawn from the forbidden set.
    #[arg(long, default_value_t = 0.1)]
    pub forbidden_share: f64,
    /// No live summary; only the totals at the end.
    #[arg(long, short)]
    pub quiet: bool,
    /// Where the state inspection endpoint listens (`off`: none).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
}

struct Worker {
    name: &'static str,
    streams: KafkaStreams,
}

fn run_failure(e: impl std::fmt::Display) -> Failure {
    Failure::Run(anyhow::anyhow!("{e}"))
}

pub fn demo(args: DemoArgs) -> Result<(), Failure> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(Failure::BadInput(format!(
            "--rate must be a positive number, not {}",
            args.rate
        )));
    }
    let gen_config = GeneratorConfig {
        users: args.users,
        forbidden_share: args.forbidden_share,
        ..GeneratorConfig::default()
    };
    gen_config.validate().map_err(Failure::BadInput)?;
    let metrics = weir_engine::metrics::install_prometheus().map_err(run_failure)?;

    // Products travel as Avro in Confluent's wire format (schema topologies/schemas/product.avsc,
    // ids from the embedded schema table: no Schema Registry needed).
    let avro = AvroProducts::local().map_err(run_failure)?;
    // Step 1
    let broker = EmbeddedBroker::start(1).map_err(run_failure)?;
    let bootstrap = broker.bootstrap_servers();
    let topologies: Vec<(&'static str, Topology, Vec<(String, String)>)> = vec![
        (
            "shop-filter",
            avro.topology("shop-filter").map_err(run_failure)?,
            product_filter::config(),
        ),
        (
            "user-recommendations",
            user_recommendations::topology("user-recommendations").map_err(run_failure)?,
            Vec::new(),
        ),
        (
            "message-filter",
            message_filter::topology("message-filter").map_err(run_failure)?,
            Vec::new(),
        ),
    ];
    for (_, t, _) in &topologies {
        broker
            .create_topics_of(t, PARTITIONS, &[product_filter::DEAD_LETTERS])
            .map_err(run_failure)?;
    }
    // Step 2
    let writer = RecordWriter::new(&bootstrap).map_err(run_failure)?;
    for (topic, key, value) in generate::forbidden_records(&gen_config) {
        writer
            .send(topic, &key, value.as_deref())
            .map_err(run_failure)?;
    }
    writer.flush(Duration::from_secs(30)).map_err(run_failure)?;
    // Step 3
    let state = tempfile::Builder::new()
        .prefix("weir-demo-")
        .tempdir()
        .map_err(run_failure)?;
    let mut workers = Vec::new();
    for (app, topology, defaults) in topologies {
        let overrides = [
            ("bootstrap.servers", bootstrap.as_str()),
            ("processing.guarantee", "at_least_once"),
            ("commit.interval.ms", "1000"),
            ("state.dir", &state.path().join(app).display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let mut all_defaults = vec![("application.id".to_owned(), app.to_owned())];
        all_defaults.extend(defaults);
        let config =
            StreamsConfig::load_with_defaults(&all_defaults, None, std::iter::empty(), &overrides)
                .map_err(|e| Failure::BadInput(e.to_string()))?;
        let mut streams = KafkaStreams::new(topology, config);
        streams.start().map_err(run_failure)?;
        workers.push(Worker { name: app, streams });
    }
    let endpoint = if args.http == "off" {
        None
    } else {
        let render = metrics.clone();
        let config = EndpointConfig {
            bind: args.http.clone(),
            token: None,
            metrics: Some(Arc::new(move || render.render())),
            tls: None,
        };
        let apps = workers
            .iter()
            .map(|w| weir_engine::http::AppState::of(&w.streams))
            .collect();
        Some(StateEndpoint::start(config, apps).map_err(|e| {
            Failure::BadInput(format!(
                "{e} (another weir demo running? choose another address with --http, or --http off)"
            ))
        })?)
    };
    let stop = Arc::new(AtomicBool::new(false));
    crate::signals::stop_on_signals(
        stop.clone(),
        "stopping: generators first, then the workers commit and leave",
    );
    print_intro(
        &bootstrap,
        &args,
        endpoint.as_ref().map(StateEndpoint::local_addr),
    );
    // Step 4
    let generators: Vec<_> = [Dataset::Shop, Dataset::Client, Dataset::Messages]
        .into_iter()
        .map(|d| {
            let avro = (d == Dataset::Shop).then(|| avro.clone());
            spawn_generator(
                d,
                gen_config.clone(),
                &bootstrap,
                args.rate,
                avro,
                stop.clone(),
            )
        })
        .collect::<Result<_, _>>()?;
    // Step 5
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + Duration::from_secs(d));
    let mut summary = Summary::new(metrics, args.quiet);
    let mut failed = None;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(250));
        summary.tick(started);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if let Some(w) = workers
            .iter()
            .find(|w| w.streams.shutdown_flag().load(Ordering::Acquire))
        {
            failed = Some(w.name);
            break;
        }
    }
    // Step 6
    stop.store(true, Ordering::Release);
    let mut produced = 0;
    for g in generators {
        produced += g.join().unwrap_or(0);
    }
    // Let the workers take in what was sent last, then stop them.
    std::thread::sleep(Duration::from_secs(2));
    let mut errors = Vec::new();
    for w in workers.iter_mut() {
        w.streams.shutdown_flag().store(true, Ordering::Release);
    }
    for w in workers {
        let name = w.name;
        let mut streams = w.streams;
        if let Err(e) = streams.wait().and_then(|()| streams.close()) {
            errors.push(format!("{name}: {e}"));
        }
    }
    summary.finish(started, produced);
    drop(endpoint);
    drop(broker);
    if let Some(name) = failed {
        errors.push(format!("{name} stopped by itself (see the log above)"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Run(anyhow::anyhow!(errors.join("; "))))
    }
}

fn print_intro(bootstrap: &str, args: &DemoArgs, http: Option<std::net::SocketAddr>) {
    println!("weir demo: embedded Kafka-protocol broker at {bootstrap}");
    if let Some(a) = http {
        println!("  state endpoint at http://{a}; try:");
        println!("    curl -s http://{a}/ready");
        println!("    curl -s http://{a}/tasks");
        println!("    curl -s http://{a}/stores");
        println!("    curl -s http://{a}/stores/user-interests/keys/u-0001");
        println!(
            "    curl -s 'http://{a}/stores/forbidden-products/range?limit=5&application=shop-filter'"
        );
        println!("    curl -s http://{a}/metrics | grep weir_dropped");
    }
    println!(
        "  product-filter, user-recommendations and message-filter are running; generators write {} records/s each",
        args.rate
    );
    println!("  try, in another terminal:");
    println!("    weir forbid add p-00001 --bootstrap-servers {bootstrap}");
    println!("    weir forbid list --bootstrap-servers {bootstrap}");
    println!(
        "    weir produce client --count 100 --rate 20 --bootstrap-servers {bootstrap} --seed-forbidden false"
    );
    match args.duration {
        Some(d) => println!("  stopping after {d} s (Ctrl-C stops earlier)"),
        None => println!("  Ctrl-C stops"),
    }
}

/// A generator thread: writes `dataset` at `rate` records/s until `stop`; returns how many.
fn spawn_generator(
    dataset: Dataset,
    config: GeneratorConfig,
    bootstrap: &str,
    rate: f64,
    avro: Option<AvroProducts>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<u64>, Failure> {
    let writer = RecordWriter::new(bootstrap).map_err(run_failure)?;
    std::thread::Builder::new()
        .name(format!("weir-demo-{dataset:?}").to_lowercase())
        .spawn(move || {
            let t0 = Instant::now();
            let mut sent = 0u64;
            let records = match &avro {
                Some(a) => a.encode_records(dataset.records(config)),
                None => dataset.records(config),
            };
            for (topic, key, value) in records {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let due = t0 + Duration::from_secs_f64(sent as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if let Err(e) = writer.send(topic, &key, value.as_deref()) {
                    tracing::error!(error = %e, "generator stopped");
                    break;
                }
                sent += 1;
            }
            let _ = writer.flush(Duration::from_secs(10));
            sent
        })
        .map_err(run_failure)
}

/// The live summary, from the workers' metrics.
struct Summary {
    metrics: PrometheusHandle,
    quiet: bool,
    terminal: bool,
    last: Option<(Instant, Counters)>,
    last_print: Instant,
}

/// The counters the summary shows.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    shop_in: f64,
    products_out: f64,
    forbidden_dropped: f64,
    dead_letters: f64,
    searches_in: f64,
    requests_in: f64,
    answered: f64,
    messages_in: f64,
    messages_out: f64,
    blocked: f64,
}

impl Counters {
    fn read(text: &str) -> Counters {
        let m = parse_metrics(text);
        let get = |name: &str, label: &str, value: &str| {
            m.get(&(name.to_owned(), label.to_owned(), value.to_owned()))
                .copied()
                .unwrap_or(0.0)
        };
        let consumed = |t: &str| get("weir_records_consumed_total", "topic", t);
        let produced = |t: &str| get("weir_records_produced_total", "topic", t);
        let dropped = |p: &str| get("weir_dropped_records_total", "processor", p);
        Counters {
            shop_in: consumed(product_filter::INPUT),
            products_out: produced(product_filter::OUTPUT),
            forbidden_dropped: dropped("drop-forbidden"),
            dead_letters: get(
                "weir_dead_letter_records_total",
                "topic",
                product_filter::INPUT,
            ),
            searches_in: consumed(user_recommendations::SEARCHES),
            requests_in: consumed(user_recommendations::REQUESTS),
            answered: produced(user_recommendations::OUTPUT),
            messages_in: consumed(message_filter::INPUT),
            messages_out: produced(message_filter::OUTPUT),
            blocked: dropped("drop-blocked"),
        }
    }
}

/// `(metric, label, label value) → value`, summed over the other labels, for every sample of
/// the Prometheus text format.
fn parse_metrics(text: &str) -> BTreeMap<(String, String, String), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                let key = (
                    name.to_owned(),
                    k.to_owned(),
                    v.trim_matches('"').to_owned(),
                );
                *out.entry(key).or_insert(0.0) += value;
            }
        }
    }
    out
}

impl Summary {
    fn new(metrics: PrometheusHandle, quiet: bool) -> Summary {
        Summary {
            metrics,
            quiet,
            terminal: std::io::stdout().is_terminal(),
            last: None,
            last_print: Instant::now(),
        }
    }

    fn tick(&mut self, started: Instant) {
        if self.last_print.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_print = Instant::now();
        let now = Instant::now();
        let c = Counters::read(&self.metrics.render());
        if let Some((then, prev)) = self.last
            && !self.quiet
        {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            let rate = |a: f64, b: f64| (a - b) / secs;
            let line = format!(
                "[{:>4}s] shop {:>4.0}/s in {:>4.0}/s out, {} forbidden dropped, {} dead letters | client {:>4.0} searches/s, {} recommendations answered | chat {:>4.0}/s in {:>4.0}/s out, {} blocked",
                started.elapsed().as_secs(),
                rate(c.shop_in, prev.shop_in),
                rate(c.products_out, prev.products_out),
                c.forbidden_dropped,
                c.dead_letters,
                rate(c.searches_in, prev.searches_in),
                c.answered,
                rate(c.messages_in, prev.messages_in),
                rate(c.messages_out, prev.messages_out),
                c.blocked,
            );
            let mut out = std::io::stdout().lock();
            let _ = if self.terminal {
                write!(out, "\r{line}\x1b[K")
            } else {
                writeln!(out, "{line}")
            };
            let _ = out.flush();
        }
        self.last = Some((now, c));
    }

    fn finish(&self, started: Instant, produced: u64) {
        let c = Counters::read(&self.metrics.render());
        if self.terminal && !self.quiet {
            println!();
        }
        println!(
            "weir demo ran {} s: generators wrote {produced} records",
            started.elapsed().as_secs()
        );
        println!(
            "  product-filter:       {} products in, {} out, {} forbidden products dropped, {} dead letters",
            c.shop_in, c.products_out, c.forbidden_dropped, c.dead_letters
        );
        println!(
            "  user-recommendations: {} searches, {} requests, {} recommendations answered",
            c.searches_in, c.requests_in, c.answered
        );
        println!(
            "  message-filter:       {} messages in, {} out, {} from blocked senders dropped",
            c.messages_in, c.messages_out, c.blocked
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn metrics_text_is_summed_per_label() {
        let text = "# TYPE weir_records_consumed_total counter\n\
            weir_records_consumed_total{application=\"shop-filter\",topic=\"shop-products\",task=\"0_0\"} 10\n\
            weir_records_consumed_total{application=\"shop-filter\",topic=\"shop-products\",task=\"0_1\"} 5\n\
            weir_dropped_records_total{application=\"shop-filter\",processor=\"drop-forbidden\"} 3\n\
            weir_commits_total 7\n";
        let c = Counters::read(text);
        assert_eq!(c.shop_in, 15.0);
        assert_eq!(c.forbidden_dropped, 3.0);
        assert_eq!(c.products_out, 0.0);
    }
}
