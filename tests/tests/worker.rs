//! The `weir-test-worker` binary: argument errors, and a product-filter worker on tansu that
//! filters, then stops cleanly on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use weir_tests::{
    Broker, ConsumeOpts, WorkerArgs, WorkerProcess, consume_all, create_topic, produce,
    temp_state_dir, unique_name,
};
use weir_topologies::model::Product;
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

fn product(id: &str, price: f64) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let p = Product {
        product_id: id.into(),
        name: format!("name of {id}"),
        shop_id: "shop-1".into(),
        category: "toys".into(),
        price,
    };
    (
        Some(id.as_bytes().to_vec()),
        Some(serde_json::to_vec(&p).unwrap()),
    )
}

#[test]
fn bad_arguments_exit_with_status_2_and_say_why() {
    let out = Command::new(WORKER)
        .args(["--topology", "product-filter"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--app is required") && err.contains("usage:"),
        "{err}"
    );

    let out = Command::new(WORKER)
        .args(["--bogus", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument --bogus"));
}

#[test]
fn product_filter_worker_filters_and_stops_cleanly_on_sigterm() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, product_filter::INPUT, 3, false);
    create_topic(&bootstrap, product_filter::FORBIDDEN, 1, true);
    create_topic(&bootstrap, product_filter::OUTPUT, 3, false);
    produce(
        &bootstrap,
        product_filter::FORBIDDEN,
        [(Some(b"p-bad".to_vec()), Some(b"counterfeit".to_vec()))],
    );

    let state = temp_state_dir();
    let args = WorkerArgs::new(
        "product-filter",
        &bootstrap,
        &unique_name("pf"),
        state.path(),
    )
    .commit_interval_ms(200);
    let t0 = Instant::now();
    let mut worker = WorkerProcess::start(WORKER, "pf-1", &args);
    eprintln!("worker started in {:?}", t0.elapsed());

    let mut input: Vec<_> = (0..20)
        .map(|i| product(&format!("p-{i}"), 10.0 + f64::from(i)))
        .collect();
    input.push(product("p-bad", 1.0));
    input.push(product("p-negative", -1.0));
    produce(&bootstrap, product_filter::INPUT, input);

    let t1 = Instant::now();
    let out = consume_all(
        &bootstrap,
        product_filter::OUTPUT,
        ConsumeOpts::expect(20).timeout(Duration::from_secs(90)),
    );
    eprintln!("outputs after {:?}", t1.elapsed());
    let keys: BTreeSet<String> = out.iter().map(|r| r.key_str().unwrap()).collect();
    let expected: BTreeSet<String> = (0..20).map(|i| format!("p-{i}")).collect();
    assert_eq!(keys, expected, "worker log:\n{}", worker.log_tail(40));
    // Nothing more arrives (no forbidden or invalid product, no duplicate).
    let all = consume_all(
        &bootstrap,
        product_filter::OUTPUT,
        ConsumeOpts::until_idle(Duration::from_secs(2)),
    );
    assert_eq!(all.len(), 20, "worker log:\n{}", worker.log_tail(40));
    // The invalid product is a dead letter: original bytes, the reason in a header.
    let dead = consume_all(
        &bootstrap,
        product_filter::DEAD_LETTERS,
        ConsumeOpts::expect(1).timeout(Duration::from_secs(30)),
    );
    assert_eq!(dead.len(), 1, "worker log:\n{}", worker.log_tail(40));
    assert_eq!(dead[0].key_str().as_deref(), Some("p-negative"));
    assert_eq!(dead[0].value, product("p-negative", -1.0).1);
    let reason = String::from_utf8_lossy(dead[0].header("weir.error").unwrap()).into_owned();
    assert!(reason.contains("negative price"), "{reason}");

    let t2 = Instant::now();
    let status = worker.terminate(Duration::from_secs(30));
    eprintln!("worker stopped in {:?} ({status})", t2.elapsed());
    assert!(
        worker.log_tail(200).contains("[out] worker stopped"),
        "{}",
        worker.log_tail(40)
    );
}
