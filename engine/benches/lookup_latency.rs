//! Latency of the state endpoint's key lookups on a partitioned store, answered by the stream
//! thread that owns the key: idle, and while the worker processes a steady input rate.
//!
//! A worker (one stream thread, counts per key) on the embedded broker (librdkafka's mock
//! cluster, in process), its endpoint on 127.0.0.1; each lookup is `GET
//! /stores/counts/keys/{key}` over a fresh TCP connection. Prints p50/p99/max per phase.
//!
//! Run: `cargo bench --profile dev -p weir-engine --bench lookup_latency` (`WEIR_BENCH_RATE`:
//! records/s of the loaded phase, default 20000; `WEIR_BENCH_LOOKUPS`: lookups per phase,
//! default 300). The mock cluster drops data past 5 MiB per partition, so keep the rate modest.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_engine::http::{EndpointConfig, StateEndpoint};
use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::tools::RecordWriter;
use weir_engine::{
    Consumed, Grouped, KafkaStreams, Materialized, Serdes, StreamsBuilder, StreamsConfig,
};

fn get(addr: SocketAddr, path: &str) -> Result<u16, Box<dyn std::error::Error>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    Ok(raw.get(9..12).unwrap_or("0").parse()?)
}

fn percentiles(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
    println!(
        "{label}: {} lookups, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        at(0.50),
        at(0.99),
        ms[ms.len() - 1]
    );
}

fn lookups(addr: SocketAddr, n: usize) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("k{}", i % 100);
        let started = Instant::now();
        let status = get(addr, &format!("/stores/counts/keys/{key}"))?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            return Err(format!("lookup of {key} answered {status}").into());
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rate = env("WEIR_BENCH_RATE", 20_000);
    let n = env("WEIR_BENCH_LOOKUPS", 300) as usize;
    let broker = EmbeddedBroker::start(1)?;
    let b = StreamsBuilder::new("latency");
    b.stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts"));
    let topology = b.build()?;
    broker.create_topics_of(&topology, 2, &[])?;
    let state = tempfile::tempdir()?;
    let config = StreamsConfig::new("latency")
        .with("bootstrap.servers", &broker.bootstrap_servers())?
        .with("state.dir", &state.path().display().to_string())?
        .with("commit.interval.ms", "1000")?;
    let mut streams = KafkaStreams::new(topology, config);
    streams.start()?;
    let endpoint = StateEndpoint::start(
        EndpointConfig {
            bind: "127.0.0.1:0".into(),
            token: None,
            metrics: None,
            tls: None,
        },
        vec![weir_engine::http::AppState::of(&streams)],
    )?;
    let addr = endpoint.local_addr();
    let w = RecordWriter::new(&broker.bootstrap_servers())?;
    for i in 0..100 {
        w.send("words", format!("k{i}").as_bytes(), Some(b"x"))?;
    }
    w.flush(Duration::from_secs(10))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..100 {
        while get(addr, &format!("/stores/counts/keys/k{i}"))? != 200 {
            if Instant::now() > deadline {
                return Err("the worker did not count the first records in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    percentiles("idle", lookups(addr, n)?);

    // Loaded: a producer thread sends `rate` records/s in 10 ms slices.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = stop.clone();
        let bootstrap = broker.bootstrap_servers();
        std::thread::spawn(move || -> Result<u64, String> {
            let w = RecordWriter::new(&bootstrap).map_err(|e| e.to_string())?;
            let per_slice = (rate / 100).max(1);
            let mut sent = 0u64;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..per_slice {
                    let key = format!("k{}", sent % 100);
                    w.send("words", key.as_bytes(), Some(b"x"))
                        .map_err(|e| e.to_string())?;
                    sent += 1;
                }
                next += Duration::from_millis(10);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            w.flush(Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            Ok(sent)
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let loaded = lookups(addr, n);
    stop.store(true, Ordering::Relaxed);
    let sent = producer.join().map_err(|_| "producer panicked")??;
    percentiles(&format!("under load ({rate} records/s offered)"), loaded?);
    println!("records sent during the loaded phase: {sent}");
    drop(endpoint);
    streams.close()?;
    Ok(())
}
