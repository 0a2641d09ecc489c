//! At-least-once through crashes: a product-filter worker SIGKILLed twice in the middle of
//! 100,000 products and restarted on the same state directory still writes every allowed
//! product (duplicates allowed) and never a forbidden or invalid one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use weir_tests::{
    Broker, Consumed, TopicTail, WorkerArgs, WorkerProcess, committed_offsets, create_topic,
    produce, temp_state_dir, unique_name,
};
use weir_topologies::model::Product;
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");
const PRODUCTS: usize = 100_000;

fn id(i: usize) -> String {
    format!("p-{i:06}")
}

/// Every 10th product is forbidden (10,000 ids).
fn forbidden(i: usize) -> bool {
    i % 10 == 7
}

/// Every 40th product has a negative price (2,500, none of them forbidden).
fn invalid(i: usize) -> bool {
    i % 40 == 13
}

fn product(i: usize) -> Product {
    Product {
        product_id: id(i),
        name: format!("product number {i}"),
        shop_id: format!("shop-{}", i % 17),
        category: ["toys", "books", "garden", "tools"][i % 4].into(),
        price: if invalid(i) {
            -1.0 - i as f64
        } else {
            0.5 + (i % 1000) as f64
        },
    }
}

fn decode(r: &Consumed) -> Product {
    serde_json::from_slice(r.value.as_deref().expect("a product, not a tombstone")).unwrap_or_else(
        |e| {
            panic!(
                "output at {}/{} is not a product: {e}",
                r.partition, r.offset
            )
        },
    )
}

fn distinct_keys(records: &[Consumed]) -> BTreeSet<String> {
    records.iter().map(|r| r.key_str().unwrap()).collect()
}

/// Polls `out` until at least `n` distinct products were written; panics after `timeout`.
fn wait_distinct(out: &mut TopicTail, n: usize, timeout: Duration, worker: &WorkerProcess) {
    let ok = out.wait_for(timeout, |rs| distinct_keys(rs).len() >= n);
    assert!(
        ok,
        "only {} distinct products written after {timeout:?}, waiting for {n}\n{}",
        distinct_keys(out.records()).len(),
        worker.log_tail(30)
    );
}

/// The number of records the `global tables bootstrapped` line of `log` reports.
fn bootstrapped(log: &str) -> Option<u64> {
    let line = log
        .lines()
        .find(|l| l.contains("global tables bootstrapped"))?;
    let at = line.find(" records=")? + " records=".len();
    line[at..].split_whitespace().next()?.parse().ok()
}

#[test]
fn product_filter_survives_two_sigkills_without_losing_an_allowed_product() {
    let t0 = Instant::now();
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, product_filter::INPUT, 3, false);
    create_topic(&bootstrap, product_filter::FORBIDDEN, 1, true);
    create_topic(&bootstrap, product_filter::OUTPUT, 3, false);

    // Step 1: the forbidden table, then all the products, before the worker starts.
    let forbidden_ids: Vec<usize> = (0..PRODUCTS).filter(|&i| forbidden(i)).collect();
    produce(
        &bootstrap,
        product_filter::FORBIDDEN,
        forbidden_ids.iter().map(|&i| {
            (
                Some(id(i).into_bytes()),
                Some(format!("counterfeit #{i}").into_bytes()),
            )
        }),
    );
    produce(
        &bootstrap,
        product_filter::INPUT,
        (0..PRODUCTS).map(|i| {
            (
                Some(id(i).into_bytes()),
                Some(serde_json::to_vec(&product(i)).unwrap()),
            )
        }),
    );
    let allowed: BTreeSet<String> = (0..PRODUCTS)
        .filter(|&i| !forbidden(i) && !invalid(i))
        .map(id)
        .collect();
    assert_eq!(allowed.len(), 87_500);
    eprintln!(
        "{} forbidden ids and {PRODUCTS} products produced after {:?}",
        forbidden_ids.len(),
        t0.elapsed()
    );

    // Where each product sits in the input (counted by consuming, never from watermarks), and
    // each input partition's allowed products in offset order.
    let mut input = TopicTail::uncommitted(&bootstrap, product_filter::INPUT);
    assert!(
        input.wait_for(Duration::from_secs(60), |rs| rs.len() >= PRODUCTS),
        "only {} products read back from the input",
        input.len()
    );
    let mut by_partition: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for r in input.records() {
        let i: usize = r.key_str().unwrap()[2..].parse().unwrap();
        by_partition
            .entry(r.partition)
            .or_default()
            .push((r.offset, i));
    }
    drop(input);
    for list in by_partition.values_mut() {
        list.sort_unstable();
        list.retain(|&(_, i)| !forbidden(i) && !invalid(i));
    }

    let state = temp_state_dir();
    let app = unique_name("pf");
    // Throttled output (a producer queue of 2,000 records sent every 100 ms: ~20,000 products a
    // second) so that the run lasts seconds and commits (every 500 ms) cover a few thousand
    // products each: unthrottled, the worker writes all 100,000 to tansu in under a second.
    let args = WorkerArgs::new("product-filter", &bootstrap, &app, state.path())
        .commit_interval_ms(500)
        .set("producer.queue.buffering.max.messages", "2000")
        .set("producer.linger.ms", "100");
    let mut out = TopicTail::uncommitted(&bootstrap, product_filter::OUTPUT);
    let committed = || -> Vec<i64> {
        committed_offsets(&bootstrap, &app, product_filter::INPUT)
            .into_iter()
            .map(|o| o.unwrap_or(0))
            .collect()
    };

    // Step 2: run, SIGKILL once the worker committed part of the input (and so written its
    // output: flush comes before the offset commit): in run 1 a sixth of it, in run 2 anything
    // more than run 1. Each kill lands mid-run: after it, neither the committed input nor the
    // output is complete.
    let mut commits_at_kill: Vec<Vec<i64>> = Vec::new();
    for run in 1..=2 {
        let kill_at = match commits_at_kill.last() {
            None => PRODUCTS as i64 / 6,
            Some(c) => c.iter().sum::<i64>() + 1,
        };
        let t = Instant::now();
        let mut w = WorkerProcess::start(WORKER, &format!("pf-run{run}"), &args);
        let deadline = Instant::now() + Duration::from_secs(60);
        while committed().iter().sum::<i64>() < kill_at {
            assert!(
                Instant::now() < deadline,
                "run {run}: committed input {:?} after 60 s, waiting for {kill_at}\n{}",
                committed(),
                w.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        w.kill();
        let at_kill = committed();
        // What the killed worker had sent in time arrives; nothing more.
        out.wait_idle(Duration::from_secs(1), Duration::from_secs(20));
        let distinct = distinct_keys(out.records()).len();
        eprintln!(
            "run {run}: killed after {:?} with input offsets {at_kill:?} committed; output {} records ({distinct} distinct); global bootstrap read {:?} records",
            t.elapsed(),
            out.len(),
            bootstrapped(&w.log())
        );
        assert!(
            at_kill.iter().sum::<i64>() < PRODUCTS as i64 && distinct < allowed.len(),
            "run {run} finished before it was killed: kill earlier"
        );
        commits_at_kill.push(at_kill);
    }

    // Step 3: the third run completes the output.
    let t = Instant::now();
    let mut w = WorkerProcess::start(WORKER, "pf-run3", &args);
    wait_distinct(&mut out, allowed.len(), Duration::from_secs(120), &w);
    out.wait_idle(Duration::from_secs(3), Duration::from_secs(60));
    eprintln!(
        "run 3: complete after {:?}; global bootstrap read {:?} records",
        t.elapsed(),
        bootstrapped(&w.log())
    );
    w.terminate(Duration::from_secs(30));

    // Every allowed product, at least once, unchanged; no forbidden or invalid one.
    let keys = distinct_keys(out.records());
    let unexpected: Vec<&String> = keys.difference(&allowed).take(10).collect();
    assert!(
        unexpected.is_empty(),
        "forbidden or invalid products written (first 10): {unexpected:?}"
    );
    let missing: Vec<&String> = allowed.difference(&keys).take(10).collect();
    assert!(
        missing.is_empty(),
        "allowed products missing (first 10): {missing:?}"
    );
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for r in out.records() {
        let p = decode(r);
        let i: usize = p.product_id[2..].parse().unwrap();
        assert_eq!(p, product(i), "output record {}/{}", r.partition, r.offset);
        assert_eq!(r.key_str().unwrap(), p.product_id);
        *copies.entry(p.product_id).or_default() += 1;
    }

    // The duplicates are exactly the re-reads from the committed offsets: per partition the
    // output (same key, same partition) is a run of consecutive allowed products from the
    // start, and each restart goes back to the first allowed product at or after the offset
    // committed when it was killed — never before it, and never past a product not yet written.
    let mut out_by_partition: BTreeMap<i32, Vec<&Consumed>> = BTreeMap::new();
    for r in out.records() {
        out_by_partition.entry(r.partition).or_default().push(r);
    }
    for (p, list) in &by_partition {
        let position: BTreeMap<usize, usize> = list
            .iter()
            .enumerate()
            .map(|(pos, &(_, i))| (i, pos))
            .collect();
        let restart_at: Vec<usize> = commits_at_kill
            .iter()
            .map(|c| list.partition_point(|&(o, _)| o < c[*p as usize]))
            .collect();
        let mut outs: Vec<&Consumed> = out_by_partition.get(p).cloned().unwrap_or_default();
        outs.sort_by_key(|r| r.offset);
        let seq: Vec<usize> = outs
            .iter()
            .map(|r| position[&r.key_str().unwrap()[2..].parse::<usize>().unwrap()])
            .collect();
        check_runs(*p, &seq, &restart_at, list.len());
    }
    let duplicates = out.len() - allowed.len();
    let most = copies.values().copied().max().unwrap();
    eprintln!(
        "{} output records for {} allowed products: {duplicates} duplicates (max {most} copies of one product); total {:?}",
        out.len(),
        allowed.len(),
        t0.elapsed()
    );
}

/// Checks one output partition: `seq` (positions in the partition's allowed products, in output
/// order) is a concatenation of runs of consecutive positions; the first starts at 0, the last
/// ends at `len - 1`, and each later run starts at the next restart point (`restart_at`, in kill
/// order; a restart that continues the previous run exactly makes no break) that the previous
/// run reached.
fn check_runs(partition: i32, seq: &[usize], restart_at: &[usize], len: usize) {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &pos in seq {
        match runs.last_mut() {
            Some((_, end)) if pos == *end + 1 => *end = pos,
            _ => runs.push((pos, pos)),
        }
    }
    assert_eq!(
        runs.first().map(|r| r.0),
        Some(0),
        "partition {partition}: runs {runs:?}"
    );
    assert_eq!(
        runs.last().map(|r| r.1),
        Some(len - 1),
        "partition {partition}: runs {runs:?}"
    );
    let mut next_restart = 0;
    for w in runs.windows(2) {
        let ((_, end), (start, _)) = (w[0], w[1]);
        let k = restart_at[next_restart..]
            .iter()
            .position(|&r| r == start)
            .map(|k| k + next_restart)
            .unwrap_or_else(|| {
                panic!(
                    "partition {partition}: a run starts at {start}, not at a restart point \
                     {restart_at:?} (runs {runs:?})"
                )
            });
        assert!(
            end + 1 >= start,
            "partition {partition}: products {}..{start} lost before the restart (runs {runs:?})",
            end + 1
        );
        next_restart = k + 1;
    }
}
