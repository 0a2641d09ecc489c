//! `weir-bench-ceiling`: the benchmark's ceiling — a bare librdkafka consume → produce
//! pass-through with weir's client settings and no processing, so the harness
//! (`tests/bench/bench.py`) can say how close a weir topology comes to the cost of moving records
//! through librdkafka at all.
//!
//! ```text
//! weir-bench-ceiling --bootstrap-servers HOST:PORT --input TOPIC --output TOPIC --group ID
//!                    [--commit-interval-ms 100] [--set key=value]...
//! ```
//!
//! Every input record is written to the output topic with its key, value, headers and
//! timestamp, to the same partition number; offsets are committed every commit interval (as
//! weir at-least-once does: after the producer flushed what was consumed before). Client
//! settings as weir's defaults (consumer: no auto-commit, `auto.offset.reset=earliest`;
//! producer: idempotent, `acks=all`, `linger.ms=5`); `--set consumer.X=V` / `producer.X=V` change
//! them. Runs until SIGTERM or SIGINT; prints `ceiling started` once subscribed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const USAGE: &str = "usage: weir-bench-ceiling --bootstrap-servers HOST:PORT --input TOPIC \
--output TOPIC --group ID [--commit-interval-ms N] [--set consumer.KEY=VALUE|producer.KEY=VALUE]...";

struct Args {
    bootstrap: String,
    input: String,
    output: String,
    group: String,
    commit_interval: Duration,
    consumer: Vec<(String, String)>,
    producer: Vec<(String, String)>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut bootstrap, mut input, mut output, mut group) = (None, None, None, None);
    let mut args = Args {
        bootstrap: String::new(),
        input: String::new(),
        output: String::new(),
        group: String::new(),
        commit_interval: Duration::from_millis(100),
        consumer: Vec::new(),
        producer: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap-servers" => bootstrap = Some(value()?),
            "--input" => input = Some(value()?),
            "--output" => output = Some(value()?),
            "--group" => group = Some(value()?),
            "--commit-interval-ms" => {
                let v = value()?;
                let ms = v.parse().map_err(|_| format!("--commit-interval-ms {v}"))?;
                args.commit_interval = Duration::from_millis(ms);
            }
            "--set" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or(format!("--set {kv}: KEY=VALUE"))?;
                match (k.strip_prefix("consumer."), k.strip_prefix("producer.")) {
                    (Some(k), _) => args.consumer.push((k.into(), v.into())),
                    (_, Some(k)) => args.producer.push((k.into(), v.into())),
                    _ => return Err(format!("--set {kv}: consumer.KEY or producer.KEY")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    args.bootstrap = bootstrap.ok_or("--bootstrap-servers is required")?;
    args.input = input.ok_or("--input is required")?;
    args.output = output.ok_or("--output is required")?;
    args.group = group.ok_or("--group is required")?;
    Ok(args)
}

fn clients(a: &Args) -> Result<(BaseConsumer, BaseProducer), KafkaError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &a.bootstrap)
        .set("group.id", &a.group)
        .set("client.id", format!("{}-consumer", a.group))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "6000");
    for (k, v) in &a.consumer {
        c.set(k, v);
    }
    let mut p = ClientConfig::new();
    p.set("bootstrap.servers", &a.bootstrap)
        .set("client.id", format!("{}-producer", a.group))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5");
    for (k, v) in &a.producer {
        p.set(k, v);
    }
    Ok((c.create()?, p.create()?))
}

fn run(a: &Args, stop: &AtomicBool) -> Result<u64, KafkaError> {
    let (consumer, producer) = clients(a)?;
    consumer.subscribe(&[&a.input])?;
    println!("ceiling started");
    let mut copied = 0u64;
    let mut last_commit = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            let mut record = BaseRecord::<[u8], [u8]>::to(&a.output)
                .partition(m.partition())
                .timestamp(m.timestamp().to_millis().unwrap_or(0));
            if let Some(k) = m.key() {
                record = record.key(k);
            }
            if let Some(v) = m.payload() {
                record = record.payload(v);
            }
            if let Some(h) = m.headers() {
                record = record.headers(h.detach());
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        producer.poll(Duration::from_millis(10));
                        record = r;
                    }
                    Err((e, _)) => return Err(e),
                }
            }
            consumer.store_offset_from_message(&m)?;
            copied += 1;
        }
        producer.poll(Duration::ZERO);
        if last_commit.elapsed() >= a.commit_interval {
            producer.flush(Duration::from_secs(30))?;
            match consumer.commit_consumer_state(CommitMode::Async) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => return Err(e),
            }
            last_commit = Instant::now();
        }
    }
    producer.flush(Duration::from_secs(30))?;
    let _ = consumer.commit_consumer_state(CommitMode::Sync);
    Ok(copied)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = weir_tests::stop_on_signals("weir-bench-ceiling", stop.clone()) {
        eprintln!("cannot handle signals: {e}");
        return ExitCode::from(1);
    }
    match run(&args, &stop) {
        Ok(n) => {
            println!("ceiling stopped: {n} records copied");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
