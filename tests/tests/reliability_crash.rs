//! Reliability scenarios 1 and 2 (RELIABILITY.md): a product-filter worker process SIGKILLed at
//! random points of its output and restarted on the same state directory each time, on a real
//! tansu broker; the verifier (`weir_tests::verify`) then compares the output with what the
//! generator says must come out.
//!
//! 1. at_least_once, at Kafka Streams' commit interval (30 s) and at weir's default (1 s): 0
//!    lost, nothing forbidden or invalid; duplicates counted per crash (the figure that chose
//!    the default).
//! 2. exactly_once_v2: every allowed product exactly once in the read-committed output (read by
//!    the harness's abort-aware reader: tansu does not filter aborted data for librdkafka).
//!
//! CI runs the short version (30,000 products, 3 kills); `WEIR_RELIABILITY_FULL=1` the full one
//! (200,000 products, 5 kills). `WEIR_RELIABILITY_SEED` replays the kill points of a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use weir_tests::scenario::{self, Rng};
use weir_tests::verify::{self, Verdict};
use weir_tests::{Broker, TopicTail, WorkerArgs, WorkerProcess, temp_state_dir, unique_name};
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

/// What one crash run measured.
struct CrashRun {
    verdict: Verdict,
    kills: usize,
    /// Seconds from each restart to its first new distinct output.
    recover_s: Vec<f64>,
    total_s: f64,
}

fn distinct(tail: &TopicTail, seen: &mut HashSet<Vec<u8>>, from: &mut usize) -> usize {
    for r in &tail.records()[*from..] {
        if let Some(k) = &r.key {
            seen.insert(k.clone());
        }
    }
    *from = tail.records().len();
    seen.len()
}

/// Runs product-filter over `n` products under `guarantee`, SIGKILLing it `kills` times at
/// random points of its distinct output, then lets a last run finish.
fn crash_run(
    name: &str,
    guarantee: &str,
    commit_interval_ms: Option<u64>,
    n: usize,
    kills: usize,
) -> CrashRun {
    let t0 = Instant::now();
    let broker = Broker::start();
    let b = broker.bootstrap();
    let (inputs, expected) = scenario::product_filter_input(&b, n);

    let state = temp_state_dir();
    let app = unique_name("rel-crash");
    // Throttled output (2,000 queued records sent every 100 ms, ~20,000 products/s) so that a
    // run lasts seconds and a kill lands mid-run, as in a production worker with a backlog.
    let mut args = WorkerArgs::new("product-filter", &b, &app, state.path())
        .set("producer.queue.buffering.max.messages", "2000")
        .set("producer.linger.ms", "100");
    args.guarantee = guarantee.to_owned();
    args.commit_interval_ms = commit_interval_ms;

    let mut rng = Rng::for_scenario(name);
    let points = rng.points(kills, expected / 10, expected * 9 / 10);
    let mut out = TopicTail::uncommitted(&b, product_filter::OUTPUT);
    let (mut seen, mut read) = (HashSet::new(), 0);
    let mut recover_s = Vec::new();
    for (run, &point) in points.iter().enumerate() {
        let before = distinct(&out, &mut seen, &mut read);
        let started = Instant::now();
        let mut w = WorkerProcess::start(WORKER, &format!("{name}-run{run}"), &args);
        let mut recovered = false;
        let deadline = Instant::now() + Duration::from_secs(120);
        while distinct(&out, &mut seen, &mut read) < point {
            assert!(
                Instant::now() < deadline,
                "{name} run {run}: {} distinct products after 120 s, waiting for {point}\n{}",
                seen.len(),
                w.log_tail(30)
            );
            out.poll(Duration::from_millis(50));
            if !recovered && distinct(&out, &mut seen, &mut read) > before {
                recovered = true;
                recover_s.push(started.elapsed().as_secs_f64());
            }
        }
        w.kill();
        out.wait_idle(Duration::from_secs(1), Duration::from_secs(20));
        eprintln!(
            "{name} run {run}: killed at {} distinct outputs ({} records) after {:?}",
            distinct(&out, &mut seen, &mut read),
            out.len(),
            started.elapsed()
        );
    }
    let started = Instant::now();
    let before = distinct(&out, &mut seen, &mut read);
    let mut w = WorkerProcess::start(WORKER, &format!("{name}-last"), &args);
    let deadline = Instant::now() + Duration::from_secs(180);
    while distinct(&out, &mut seen, &mut read) < expected {
        assert!(
            Instant::now() < deadline,
            "{name} last run: {} of {expected} distinct products after 180 s\n{}",
            seen.len(),
            w.log_tail(30)
        );
        out.poll(Duration::from_millis(50));
        if recover_s.len() == kills && distinct(&out, &mut seen, &mut read) > before {
            recover_s.push(started.elapsed().as_secs_f64());
        }
    }
    out.wait_idle(Duration::from_secs(3), Duration::from_secs(60));
    w.terminate(Duration::from_secs(30));

    let output = if guarantee == "exactly_once_v2" {
        let mut committed = TopicTail::committed(&b, product_filter::OUTPUT);
        committed.wait_idle(Duration::from_secs(2), Duration::from_secs(60));
        committed.records().to_vec()
    } else {
        out.records().to_vec()
    };
    let verdict = verify::expect_products(&inputs, scenario::product_passes, &output);
    eprintln!("{name}: {verdict}");
    CrashRun {
        verdict,
        kills,
        recover_s,
        total_s: t0.elapsed().as_secs_f64(),
    }
}

fn report(scenario_name: &str, guarantee: &str, commit: &str, n: usize, run: &CrashRun) {
    let max_recover = run.recover_s.iter().copied().fold(0.0, f64::max);
    scenario::report(
        scenario_name,
        &[
            ("guarantee", guarantee.to_owned()),
            ("commit_interval", commit.to_owned()),
            ("products", n.to_string()),
            ("kills", run.kills.to_string()),
            ("expected", run.verdict.expected.to_string()),
            ("lost", run.verdict.lost.to_string()),
            ("duplicated", run.verdict.duplicated.to_string()),
            (
                "duplicates_per_crash",
                format!("{:.0}", run.verdict.duplicated as f64 / run.kills as f64),
            ),
            ("wrong", run.verdict.wrong.to_string()),
            ("unexpected", run.verdict.unexpected.to_string()),
            ("max_recover_s", format!("{max_recover:.2}")),
            ("total_s", format!("{:.1}", run.total_s)),
        ],
    );
}

#[test]
fn scenario_1_at_least_once_loses_nothing_through_sigkills() {
    let n = scenario::scale(30_000, 200_000);
    let kills = scenario::scale(3, 5);
    // Kafka Streams' at-least-once default (30 s) against weir's (1 s).
    for (label, interval) in [("30000ms", Some(30_000)), ("1000ms", None)] {
        let run = crash_run(
            &format!("scenario-1-{label}"),
            "at_least_once",
            interval,
            n,
            kills,
        );
        report(
            "1 worker crash, at_least_once",
            "at_least_once",
            label,
            n,
            &run,
        );
        assert!(run.verdict.at_least_once(), "{}", run.verdict);
    }
}

#[test]
fn scenario_2_exactly_once_writes_each_product_once_through_sigkills() {
    let n = scenario::scale(30_000, 200_000);
    let kills = scenario::scale(3, 5);
    let run = crash_run("scenario-2", "exactly_once_v2", None, n, kills);
    report(
        "2 worker crash, exactly_once_v2",
        "exactly_once_v2",
        "default",
        n,
        &run,
    );
    assert!(run.verdict.exact(), "{}", run.verdict);
}
