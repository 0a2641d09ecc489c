//! The Prometheus metrics of a worker against the contract `deploy/metrics.txt`: a small
//! topology (a filter that drops, a global-table lookup, a sink, a counting store) runs on the
//! embedded broker, and every metric listed there must be rendered with an `application` label
//! (histograms with `_bucket` series), with a few values checked. Also: the filter's drop
//! counter is labelled with the processor's name (through the test driver).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::tools::RecordWriter;
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, Grouped, Headers, KafkaStreams, Materialized, Produced, Serdes, StreamsBuilder,
    StreamsConfig, Topology,
};

const APP: &str = "metrics-test";
const INPUT: &str = "metrics-in";
const OUTPUT: &str = "metrics-out";
const GLOBAL: &str = "metrics-global";
const DEAD_LETTERS: &str = "metrics-dlq";
const PARTITIONS: i32 = 2;
const RECORDS: usize = 20;

fn topology(app: &str) -> Topology {
    let b = StreamsBuilder::new(app);
    let table = b.global_table(
        GLOBAL,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("global-store"),
    );
    let input = b
        .stream(INPUT, Consumed::with(Serdes::string(), Serdes::string()))
        .try_filter(|_, v: &String| match v.as_str() {
            "bad" => Err("a bad record".into()),
            _ => Ok(true),
        })
        .named("reject-bad")
        .filter(|_, v: &String| !v.starts_with("drop"))
        .named("drop-marked");
    input
        .left_join_global(
            &table,
            |k: &String, _| k.clone(),
            |v: String, g: Option<String>| format!("{v}/{}", g.unwrap_or_default()),
        )
        .to(OUTPUT, Produced::with(Serdes::string(), Serdes::string()));
    input
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts"));
    b.build().unwrap()
}

/// `(name, labels, value)` of every sample of a Prometheus text rendering.
fn samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            Some((name.to_owned(), labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The sum of `name` over the samples of this test's application whose labels contain `with`.
fn sum(text: &str, name: &str, with: &str) -> f64 {
    let app = format!("application=\"{APP}\"");
    samples(text)
        .into_iter()
        .filter(|(n, l, _)| n == name && l.contains(&app) && l.contains(with))
        .map(|(_, _, v)| v)
        .sum()
}

/// The metrics of the contract: `(name, type)` of each non-comment line.
fn contract() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/metrics.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let mut cols = l.split_whitespace();
            (
                cols.next().unwrap().to_owned(),
                cols.next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Names of the contract that are not (yet) rendered with this application's label.
fn missing(text: &str) -> Vec<String> {
    let app = format!("application=\"{APP}\"");
    let all = samples(text);
    contract()
        .into_iter()
        // Definition-file expressions only: this topology has none.
        .filter(|(name, _)| name != "weir_expression_errors_total")
        .filter(|(name, kind)| {
            let series = match kind.as_str() {
                "histogram" => format!("{name}_bucket"),
                _ => name.clone(),
            };
            !all.iter().any(|(n, l, _)| *n == series && l.contains(&app))
        })
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn a_worker_renders_every_metric_of_the_contract() {
    let metrics = weir_engine::metrics::install_prometheus().unwrap();
    let again = weir_engine::metrics::install_prometheus().unwrap();
    let broker = EmbeddedBroker::start(1).unwrap();
    let bootstrap = broker.bootstrap_servers();
    let topology = topology(APP);
    broker
        .create_topics_of(&topology, PARTITIONS, &[DEAD_LETTERS])
        .unwrap();
    let writer = RecordWriter::new(&bootstrap).unwrap();
    writer.send(GLOBAL, b"k1", Some(b"gold")).unwrap();
    writer.flush(Duration::from_secs(10)).unwrap();

    let state = tempfile::tempdir().unwrap();
    let mut config = StreamsConfig::new(APP);
    for (k, v) in [
        ("bootstrap.servers", bootstrap.as_str()),
        ("processing.guarantee", "at_least_once"),
        ("commit.interval.ms", "100"),
        ("statistics.interval.ms", "200"),
        ("processing.exception.handler", "dead_letter"),
        ("dead.letter.topic", DEAD_LETTERS),
        ("state.dir", &state.path().display().to_string()),
    ] {
        config.set(k, v).unwrap();
    }
    let mut streams = KafkaStreams::new(topology, config);
    streams.start().unwrap();

    let mut dropped = 0usize;
    for i in 0..RECORDS {
        let value = if i % 4 == 0 {
            dropped += 1;
            format!("drop-{i}")
        } else {
            format!("v-{i}")
        };
        writer
            .send(
                INPUT,
                format!("k{}", i % 10).as_bytes(),
                Some(value.as_bytes()),
            )
            .unwrap();
    }
    writer.send(INPUT, b"k0", Some(b"bad")).unwrap();
    writer.flush(Duration::from_secs(10)).unwrap();
    let sent = RECORDS + 1;

    let deadline = Instant::now() + Duration::from_secs(90);
    let text = loop {
        let text = metrics.render();
        let consumed = sum(&text, "weir_records_consumed_total", "");
        if consumed >= sent as f64 && missing(&text).is_empty() {
            break text;
        }
        if Instant::now() > deadline {
            panic!(
                "consumed {consumed} of {sent}; missing {:?}\n{text}",
                missing(&text)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        again.render().contains("weir_records_consumed_total"),
        "the second install returns the same recorder's handle"
    );
    assert_eq!(
        sum(&text, "weir_records_consumed_total", "topic=\"metrics-in\""),
        sent as f64
    );
    assert_eq!(
        sum(
            &text,
            "weir_dead_letter_records_total",
            "topic=\"metrics-in\""
        ),
        1.0
    );
    assert!(text.contains("task=\"0_0\"") && text.contains("task=\"0_1\""));
    assert_eq!(
        sum(
            &text,
            "weir_dropped_records_total",
            "processor=\"drop-marked\""
        ),
        dropped as f64
    );
    assert_eq!(
        sum(
            &text,
            "weir_records_produced_total",
            "topic=\"metrics-out\""
        ),
        (RECORDS - dropped) as f64,
        "only sink outputs, not the store's changelog"
    );
    assert_eq!(
        sum(&text, "weir_tasks", "state=\"running\""),
        PARTITIONS as f64
    );
    assert_eq!(sum(&text, "weir_tasks", "state=\"restoring\""), 0.0);
    // One record in 32 of a poll batch is timed (at least the first of each batch).
    let timed = sum(&text, "weir_process_latency_seconds_count", "");
    assert!(
        timed >= (sent as f64 / 32.0).floor().max(1.0) && timed <= sent as f64,
        "{timed} of {sent} records timed"
    );
    assert!(sum(&text, "weir_end_to_end_latency_seconds_count", "") >= 1.0);
    assert!(sum(&text, "weir_commits_total", "") >= 1.0);
    assert!(sum(&text, "weir_rebalances_total", "") >= 1.0);
    streams.close().unwrap();
}

#[test]
fn the_filter_counts_drops_under_its_processor_name() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let mut d = TopologyTestDriver::new(topology("filter-app")).unwrap();
        for v in ["keep", "drop-1", "drop-2"] {
            d.pipe_raw(INPUT, Some(b"k"), Some(v.as_bytes()), 1, Headers::new())
                .unwrap();
        }
    });
    let text = handle.render();
    assert!(
        text.contains(
            "weir_dropped_records_total{application=\"filter-app\",processor=\"drop-marked\"} 2"
        ),
        "{text}"
    );
}
