//! Event time on a broker: a windowed count and a stream–stream join (`weir_tests::ad_clicks`)
//! run by a worker process that is SIGKILLed mid-run and restarted on the same state
//! directory. The expected counts and join pairs are computed from the generated input alone.
//!
//! * at_least_once: nothing missing — every window's last count is at least the expected one
//!   (a replay after the crash may count twice) and every expected pair is joined, none that
//!   is not;
//! * exactly_once_v2: exact — every window's last count equals the expected one and every pair
//!   is joined exactly once, read with the harness's abort-aware reader. The workers reach tansu
//!   through the harness's `TxnProxy`, which lists aborted transactions in fetch responses as a
//!   Kafka broker does (tansu does not, and its read_committed restore would replay the killed
//!   worker's aborted window and join-store writes: RELIABILITY.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir_tests::ad_clicks::{self, COUNTS, JOINED};
use weir_tests::{
    Broker, Consumed, TopicTail, TxnProxy, WorkerArgs, WorkerProcess, create_topic, free_port,
    produce, scenario, temp_state_dir, unique_name,
};

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

fn last_counts(records: &[Consumed]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for r in records {
        let (Some(k), Some(v)) = (r.key_str(), r.value.as_deref()) else {
            panic!(
                "a count without key or value at {}/{}",
                r.partition, r.offset
            );
        };
        let n = i64::from_be_bytes(v.try_into().expect("an 8-byte count"));
        out.insert(k, n);
    }
    out
}

fn pairs(records: &[Consumed]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in records {
        *out.entry(r.value_str().expect("a joined value"))
            .or_insert(0) += 1;
    }
    out
}

/// Runs ad-clicks over `n` clicks and `n` impressions under `guarantee`, SIGKILLing the worker
/// once a third of the pairs are out; returns (tails of counts and pairs, expected counts,
/// expected pairs).
fn crash_run(
    guarantee: &str,
    n: usize,
) -> (
    TopicTail,
    TopicTail,
    BTreeMap<String, i64>,
    BTreeMap<String, usize>,
) {
    let eos = guarantee == "exactly_once_v2";
    // Exactly-once: the workers talk to tansu through the abort-filtering proxy.
    let port = free_port();
    let broker = if eos {
        Broker::start_advertising(port)
    } else {
        Broker::start()
    };
    let proxy = eos.then(|| TxnProxy::start(port, broker.port()).unwrap());
    let b = broker.bootstrap();
    let worker_bootstrap = proxy.as_ref().map_or(b.clone(), |p| p.address());
    for t in [ad_clicks::CLICKS, ad_clicks::IMPRESSIONS, COUNTS, JOINED] {
        create_topic(&b, t, 3, false);
    }
    let (clicks, impressions) = ad_clicks::events(n);
    produce(&b, ad_clicks::CLICKS, clicks.iter().map(|e| e.record()));
    produce(
        &b,
        ad_clicks::IMPRESSIONS,
        impressions.iter().map(|e| e.record()),
    );
    let expected_counts = ad_clicks::expected_counts(&clicks);
    let expected_pairs = ad_clicks::expected_pairs(&clicks, &impressions);
    let total_pairs: usize = expected_pairs.values().sum();

    let state = temp_state_dir();
    let app = unique_name("ad-clicks");
    // Throttled output so the kill lands mid-run (see reliability_crash.rs).
    let mut args = WorkerArgs::new("ad-clicks", &worker_bootstrap, &app, state.path())
        .set("producer.queue.buffering.max.messages", "2000")
        .set("producer.linger.ms", "100");
    args.guarantee = guarantee.to_owned();
    let tail = |topic: &str| {
        if eos {
            TopicTail::committed(&b, topic)
        } else {
            TopicTail::uncommitted(&b, topic)
        }
    };
    let (mut counts, mut joined) = (tail(COUNTS), tail(JOINED));
    let started = Instant::now();
    let mut w = WorkerProcess::start(WORKER, "ad-clicks-run0", &args);
    let mut uncommitted = TopicTail::uncommitted(&b, JOINED);
    let reached = uncommitted.wait_for(Duration::from_secs(120), |rs| rs.len() >= total_pairs / 3);
    assert!(
        reached,
        "no third of the pairs after 120 s\n{}",
        w.log_tail(30)
    );
    w.kill();
    let killed_at = uncommitted.len();
    let mut w = WorkerProcess::start(WORKER, "ad-clicks-run1", &args);
    let done = joined.wait_for(Duration::from_secs(180), |rs| {
        let p = pairs(rs);
        expected_pairs.keys().all(|k| p.contains_key(k))
    });
    counts.wait_idle(Duration::from_secs(3), Duration::from_secs(60));
    joined.wait_idle(Duration::from_secs(3), Duration::from_secs(30));
    w.terminate(Duration::from_secs(30));
    scenario::report(
        &format!("windows-e2e-{guarantee}"),
        &[
            ("records_in", (2 * n).to_string()),
            ("pairs_expected", total_pairs.to_string()),
            ("pairs_out", joined.len().to_string()),
            ("windows_expected", expected_counts.len().to_string()),
            ("killed_after_pairs", killed_at.to_string()),
            ("seconds", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
    assert!(
        done,
        "not every pair joined after the restart\n{}",
        w.log_tail(40)
    );
    (counts, joined, expected_counts, expected_pairs)
}

#[test]
fn windowed_count_and_join_miss_nothing_across_a_sigkill_at_least_once() {
    let n = scenario::scale(6_000, 30_000);
    let (counts, joined, expected_counts, expected_pairs) = crash_run("at_least_once", n);
    let got = last_counts(counts.records());
    let low: Vec<_> = expected_counts
        .iter()
        .filter(|(k, n)| got.get(*k).is_none_or(|g| g < *n))
        .collect();
    assert!(
        low.is_empty(),
        "windows counted low: {:?}",
        &low[..low.len().min(10)]
    );
    let unexpected: Vec<_> = got
        .keys()
        .filter(|k| !expected_counts.contains_key(*k))
        .collect();
    assert!(
        unexpected.is_empty(),
        "windows that should not exist: {unexpected:?}"
    );
    let p = pairs(joined.records());
    let missing: Vec<_> = expected_pairs
        .keys()
        .filter(|k| !p.contains_key(*k))
        .collect();
    let wrong: Vec<_> = p
        .keys()
        .filter(|k| !expected_pairs.contains_key(*k))
        .collect();
    assert!(missing.is_empty(), "pairs missing: {}", missing.len());
    assert!(
        wrong.is_empty(),
        "pairs that should not exist: {:?}",
        &wrong[..wrong.len().min(10)]
    );
}

#[test]
fn windowed_count_and_join_are_exact_across_a_sigkill_exactly_once() {
    let n = scenario::scale(6_000, 30_000);
    let (counts, joined, expected_counts, expected_pairs) = crash_run("exactly_once_v2", n);
    let got = last_counts(counts.records());
    let differ: Vec<_> = expected_counts
        .iter()
        .filter(|(k, n)| got.get(*k) != Some(*n))
        .map(|(k, n)| (k, n, got.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "windows whose final count differs: {:?}",
        &differ[..differ.len().min(10)]
    );
    assert_eq!(pairs(joined.records()), expected_pairs);
}
