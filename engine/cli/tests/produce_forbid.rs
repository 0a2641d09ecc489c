//! `weir produce` and `weir forbid` end to end, against a real Kafka-protocol broker (tansu,
//! started per test on a free port), and their exit code 2 on bad flags (no broker needed).
//!
//! The broker binary comes from `weir_tansu::tansu_bin` (`WEIR_TANSU_BIN`, the venv under
//! `~/.cache/weir`, or installed there on first use); the broker test fails when it cannot get one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use weir_tansu::Tansu;

use weir_engine::kafka::tools::{read_topic, topic_partitions};
use weir_topologies::generate::{GeneratorConfig, forbidden_ids};
use weir_topologies::model::Product;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A tansu broker, up once it answers a metadata request (which never auto-creates a topic).
fn broker() -> Tansu {
    let tansu = Tansu::start();
    let deadline = Instant::now() + TIMEOUT;
    while let Err(e) = topic_partitions(tansu.bootstrap(), "none", Duration::from_secs(1)) {
        assert!(Instant::now() < deadline, "tansu did not come up: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    tansu
}

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = weir(args);
    assert!(
        out.status.success(),
        "weir {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn produce_shop_then_forbid_add_remove_and_list() {
    let broker = broker();
    let b = broker.bootstrap();

    let summary = ok(&[
        "produce",
        "shop",
        "--bootstrap-servers",
        b,
        "--count",
        "2000",
        "--quiet",
    ]);
    assert!(summary.starts_with("produced 2000 records"), "{summary}");
    assert!(summary.contains("delivered 2100, failed 0"), "{summary}");
    assert_eq!(
        topic_partitions(b, "shop-products", TIMEOUT).unwrap(),
        Some(3)
    );

    let records = read_topic(b, "shop-products", TIMEOUT).unwrap();
    assert_eq!(records.len(), 2000);
    let forbidden: BTreeSet<String> = forbidden_ids(&GeneratorConfig::default())
        .into_iter()
        .collect();
    assert_eq!(forbidden.len(), 100);
    let (mut n_forbidden, mut n_invalid) = (0, 0);
    for (key, value) in &records {
        let p: Product = serde_json::from_slice(value.as_deref().unwrap()).unwrap();
        assert_eq!(key.as_deref(), Some(p.product_id.as_bytes()));
        if !p.is_valid() {
            n_invalid += 1;
        } else if forbidden.contains(&p.product_id) {
            n_forbidden += 1;
        }
    }
    // Defaults: 10% forbidden, 1% invalid.
    assert!(
        (140..=260).contains(&n_forbidden),
        "{n_forbidden} forbidden"
    );
    assert!((5..=45).contains(&n_invalid), "{n_invalid} invalid");
    assert_eq!(
        read_topic(b, "forbidden-products", TIMEOUT).unwrap().len(),
        100
    );

    let added = ok(&[
        "forbid",
        "add",
        "p-x",
        "--reason",
        "counterfeit",
        "--bootstrap-servers",
        b,
    ]);
    assert_eq!(added, "forbidden p-x (counterfeit) on forbidden-products\n");
    ok(&["forbid", "--bootstrap-servers", b, "add", "p-y"]);
    ok(&["forbid", "remove", "p-00020", "--bootstrap-servers", b]);
    ok(&["forbid", "remove", "p-y", "--bootstrap-servers", b]);
    let list = ok(&["forbid", "list", "--bootstrap-servers", b]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 100, "{list}");
    assert!(lines.contains(&"p-x\tcounterfeit"), "{list}");
    assert!(lines.contains(&"p-00010\tsample data: forbidden product"));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("p-00020\t") || l.starts_with("p-y\t"))
    );
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);

    // Another table topic, created by `add`.
    ok(&[
        "forbid",
        "add",
        "p-1",
        "--topic",
        "other-table",
        "--bootstrap-servers",
        b,
    ]);
    let other = ok(&[
        "forbid",
        "list",
        "--topic",
        "other-table",
        "--bootstrap-servers",
        b,
    ]);
    assert_eq!(other, "p-1\tforbidden by operator\n");
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    // None of these reaches a broker: the port is closed.
    let b = "127.0.0.1:1";
    for args in [
        &["produce", "shoes", "--bootstrap-servers", b][..],
        &["produce", "shop", "--rate=-5", "--bootstrap-servers", b],
        &[
            "produce",
            "shop",
            "--forbidden-share",
            "2",
            "--bootstrap-servers",
            b,
        ],
        &[
            "produce",
            "shop",
            "--products",
            "3",
            "--bootstrap-servers",
            b,
        ],
        &[
            "produce",
            "client",
            "--partitions",
            "0",
            "--bootstrap-servers",
            b,
        ],
        &[
            "produce",
            "shop",
            "--count",
            "many",
            "--bootstrap-servers",
            b,
        ],
        &["forbid", "add", "", "--bootstrap-servers", b],
        &["forbid", "remove", "--bootstrap-servers", b],
        &["forbid", "list", "--topic", "", "--bootstrap-servers", b],
        &["forbid", "ban", "p-1", "--bootstrap-servers", b],
        &["forbid"],
    ] {
        let out = weir(args);
        assert_eq!(out.status.code(), Some(2), "weir {args:?}");
        assert!(!out.stderr.is_empty(), "weir {args:?} says nothing");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "weir {args:?}"
        );
    }
}
