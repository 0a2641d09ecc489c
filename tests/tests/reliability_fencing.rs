//! Producer fencing under exactly-once (issue 14): while an `exactly_once_v2` product-filter
//! worker runs, the test starts a producer with the worker's own transactional id
//! (`{app}-{process id}-0`) and initializes it, which fences the worker's producer on the
//! broker. The worker must not stop: it closes its tasks without committing, re-creates its
//! producer, rewinds to the last commit and goes on; the read-committed output (the harness's
//! abort-aware reader) holds every allowed product exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use weir_tests::scenario;
use weir_tests::verify;
use weir_tests::{
    Broker, TopicTail, TransactionalProducer, WorkerArgs, WorkerProcess, temp_state_dir,
    unique_name,
};
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

fn distinct(out: &TopicTail) -> usize {
    scenario::distinct_keys(out.records())
}

#[test]
fn a_fenced_exactly_once_worker_recovers_and_writes_each_product_once() {
    let n = scenario::scale(20_000, 100_000);
    let broker = Broker::start();
    let b = broker.bootstrap();
    let (inputs, expected) = scenario::product_filter_input(&b, n);
    let state = temp_state_dir();
    let app = unique_name("rel-fence");
    let args = WorkerArgs::new("product-filter", &b, &app, state.path())
        .exactly_once()
        .set("producer.queue.buffering.max.messages", "2000")
        .set("producer.linger.ms", "100");
    let mut w = WorkerProcess::start(WORKER, "fenced", &args);
    let mut committed = TopicTail::committed(&b, product_filter::OUTPUT);
    let t = Instant::now();
    while distinct(&committed) < expected / 3 {
        assert!(t.elapsed() < Duration::from_secs(120), "{}", w.log_tail(30));
        committed.poll(Duration::from_millis(100));
    }
    let pid = std::fs::read_to_string(state.path().join(&app).join("weir.process-id")).unwrap();
    let txn_id = format!("{app}-{}-0", pid.trim());
    let fenced_at = Instant::now();
    let usurper = TransactionalProducer::new(&b, &txn_id);
    drop(usurper);
    while distinct(&committed) < expected {
        assert!(
            fenced_at.elapsed() < Duration::from_secs(180),
            "{} of {expected} committed 180 s after the fencing\n{}",
            distinct(&committed),
            w.log_tail(40)
        );
        assert!(
            w.is_running(),
            "the fenced worker stopped\n{}",
            w.log_tail(40)
        );
        committed.poll(Duration::from_millis(100));
    }
    let finished_s = fenced_at.elapsed().as_secs_f64();
    committed.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    let log = w.log();
    w.terminate(Duration::from_secs(60));
    let recovered = log.contains("producer re-created");
    let verdict = verify::expect_products(&inputs, scenario::product_passes, committed.records());
    scenario::report(
        "fencing, exactly_once_v2",
        &[
            ("products", n.to_string()),
            ("recovered_in_place", recovered.to_string()),
            ("lost", verdict.lost.to_string()),
            ("duplicated", verdict.duplicated.to_string()),
            ("wrong", verdict.wrong.to_string()),
            ("done_s_after_fencing", format!("{finished_s:.1}")),
        ],
    );
    assert!(
        recovered,
        "the worker never recovered from the fencing:\n{log}"
    );
    assert!(verdict.exact(), "{verdict}");
}
