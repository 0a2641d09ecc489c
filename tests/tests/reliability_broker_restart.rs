//! Reliability scenario 4 (RELIABILITY.md): the broker stopped and restarted twice mid-run.
//! tansu 0.6.0 with SQLite storage (its data survives a restart on the same port); a
//! product-filter worker keeps running through both outages, reconnects and finishes; the
//! verifier then finds every allowed product in the output (at-least-once: duplicates counted,
//! 0 lost). Needs that tansu build (~15 min): `#[ignore]`d, and `./weir test` runs it when
//! `WEIR_TANSU_SQLITE_BIN` (or the launcher's cache) has it.
//!
//! CI: 20,000 products; `WEIR_RELIABILITY_FULL=1`: 100,000.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use weir_tests::scenario;
use weir_tests::verify;
use weir_tests::{
    Broker, TopicTail, WorkerArgs, WorkerProcess, tansu_sqlite_bin, temp_state_dir, unique_name,
};
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

fn distinct(out: &TopicTail) -> usize {
    scenario::distinct_keys(out.records())
}

#[test]
#[ignore = "needs tansu 0.6.0 with SQLite storage (a ~15 min build): cargo install tansu --version \
            0.6.0 --features dynostore,libsql --locked --root ~/.cache/weir/tansu-0.6.0 \
            (or WEIR_TANSU_SQLITE_BIN); ./weir test runs it when it is there"]
fn scenario_4_a_worker_finishes_through_two_broker_restarts() {
    let n = scenario::scale(20_000, 100_000);
    let bin = tansu_sqlite_bin().unwrap_or_else(|e| panic!("{e}"));
    let mut broker = Broker::start_sqlite(&bin);
    let b = broker.bootstrap();
    let (inputs, expected) = scenario::product_filter_input(&b, n);
    let state = temp_state_dir();
    let app = unique_name("rel-restart");
    // Throttled (500 queued records every 100 ms) so that the run spans both restarts.
    let args = WorkerArgs::new("product-filter", &b, &app, state.path())
        .commit_interval_ms(200)
        .set("producer.queue.buffering.max.messages", "500")
        .set("producer.linger.ms", "100");
    let t0 = Instant::now();
    let mut w = WorkerProcess::start(WORKER, "restart", &args);
    let mut out = TopicTail::uncommitted(&b, product_filter::OUTPUT);
    let mut downs = Vec::new();
    let mut recoveries = Vec::new();
    for (k, share) in [(1, 3), (2, 3)] {
        let at = expected * k / share;
        let deadline = Instant::now() + Duration::from_secs(120);
        while distinct(&out) < at {
            assert!(
                Instant::now() < deadline,
                "restart {k}: {} of {at} after 120 s\n{}",
                distinct(&out),
                w.log_tail(30)
            );
            out.poll(Duration::from_millis(100));
        }
        let stopped = Instant::now();
        broker.stop();
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            w.is_running(),
            "the worker exited while the broker was down\n{}",
            w.log_tail(30)
        );
        broker.restart();
        downs.push(stopped.elapsed().as_secs_f64());
        let before = distinct(&out);
        let t = Instant::now();
        while distinct(&out) <= before {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "no new output 120 s after restart {k}\n{}",
                w.log_tail(30)
            );
            out.poll(Duration::from_millis(100));
        }
        recoveries.push(t.elapsed().as_secs_f64());
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while distinct(&out) < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} after 180 s\n{}",
            distinct(&out),
            w.log_tail(30)
        );
        out.poll(Duration::from_millis(100));
    }
    out.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    w.terminate(Duration::from_secs(60));
    let verdict = verify::expect_products(&inputs, scenario::product_passes, out.records());
    scenario::report(
        "4 broker restart x2",
        &[
            ("products", n.to_string()),
            ("restarts", "2".into()),
            ("lost", verdict.lost.to_string()),
            ("duplicated", verdict.duplicated.to_string()),
            ("wrong", verdict.wrong.to_string()),
            ("broker_down_s", format!("{downs:.1?}").replace(' ', "")),
            (
                "first_new_output_s_after_restart",
                format!("{recoveries:.1?}").replace(' ', ""),
            ),
            ("total_s", format!("{:.1}", t0.elapsed().as_secs_f64())),
        ],
    );
    assert!(verdict.at_least_once(), "{verdict}");
}
