//! Reliability scenario 6 (RELIABILITY.md): poison input for product-filter (JSON) on tansu.
//!
//! * `dead_letter`: bad records (invalid and truncated JSON, wrong field types, non-UTF-8
//!   bytes, empty values, ~0.9 MB values, invalid products; some with empty or null keys) mixed
//!   into good products. Every bad record must be in the dead-letter topic with its original key
//!   and value bytes and provenance headers (weir's and KIP-1034's, naming its topic, partition
//!   and offset); every good one processed (the verifier); the worker never exits.
//! * `fail`: one bad record in a single partition stops the worker with an error naming topic,
//!   partition and offset; nothing past the bad record is committed; a restart with the handler
//!   set to `dead_letter` resumes at the committed offset and finishes.
//!
//! Values near 1 MB stay under librdkafka's `message.max.bytes` (1,000,000): a larger record
//! cannot be produced at all with default client settings, and its dead letter (the same bytes
//! plus headers) could not either. CI: 10,000 good and 1,000 bad; `WEIR_RELIABILITY_FULL=1`:
//! 100,000 and 10,000.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use weir_tests::scenario::{self, Rng};
use weir_tests::verify;
use weir_tests::{
    Broker, ConsumeOpts, Consumed, TopicTail, WorkerArgs, WorkerProcess, committed_offsets,
    consume_all, create_topic, produce, temp_state_dir, unique_name,
};
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Bad record number `b` (kind by `b % 8`).
fn bad(b: usize) -> Record {
    let key = match b % 5 {
        0 => None,
        1 => Some(Vec::new()),
        _ => Some(format!("bad-{b}").into_bytes()),
    };
    let value = match b % 8 {
        0 => b"{\"product_id\": \"p-1\", \"name\": ".to_vec(),
        1 => {
            br#"{"product_id": 5, "name": "x", "shop_id": "s", "category": "c", "price": "cheap"}"#
                .to_vec()
        }
        2 => vec![0xff, 0xfe, 0x00, 0xc3, 0x28, b'{'],
        3 => Vec::new(),
        4 if b % 40 == 4 => vec![b'x'; 900_000],
        4 => b"not json at all".to_vec(),
        5 => b"[1, 2, 3]".to_vec(),
        6 => br#"{"product_id": "", "name": "n", "shop_id": "s", "category": "c", "price": 1.0}"#
            .to_vec(),
        _ => br#"{"product_id": "p-x", "name": "n", "shop_id": "s", "category": "c", "price": -4}"#
            .to_vec(),
    };
    (key, Some(value))
}

fn header<'a>(r: &'a Consumed, name: &str) -> Option<&'a str> {
    r.header(name).and_then(|v| std::str::from_utf8(v).ok())
}

#[test]
fn scenario_6_bad_records_go_to_the_dead_letter_topic_with_their_bytes_and_origin() {
    let good = scenario::scale(10_000, 100_000);
    let bads = good / 10;
    let broker = Broker::start();
    let b = broker.bootstrap();
    create_topic(&b, product_filter::INPUT, 3, false);
    create_topic(&b, product_filter::FORBIDDEN, 1, true);
    create_topic(&b, product_filter::OUTPUT, 3, false);
    create_topic(&b, product_filter::DEAD_LETTERS, 3, false);
    produce(
        &b,
        product_filter::FORBIDDEN,
        scenario::forbidden_table(good),
    );

    // Good products and bad records interleaved at random places.
    let inputs = scenario::products(good);
    let mut rng = Rng::for_scenario("scenario-6");
    let mut records: Vec<(bool, Record)> = inputs
        .iter()
        .map(|(k, v)| (true, (Some(k.clone()), Some(v.clone()))))
        .collect();
    for i in 0..bads {
        let at = rng.range(0, records.len() + 1);
        records.insert(at, (false, bad(i)));
    }
    let delivered = produce(
        &b,
        product_filter::INPUT,
        records.iter().map(|(_, r)| r.clone()),
    );
    // Where each bad record landed: (partition, offset) -> (key, value).
    let mut bad_at: HashMap<(i32, i64), Record> = HashMap::new();
    for ((is_good, r), d) in records.iter().zip(&delivered) {
        if !is_good {
            bad_at.insert((d.partition, d.offset), r.clone());
        }
    }
    // Invalid products among the generated ones are dead letters too (a process error).
    let invalid = (0..good).filter(|&i| scenario::invalid(i)).count();

    let state = temp_state_dir();
    let app = unique_name("rel-poison");
    let args = WorkerArgs::new("product-filter", &b, &app, state.path()).commit_interval_ms(500);
    let t = Instant::now();
    let mut w = WorkerProcess::start(WORKER, "poison", &args);
    let mut dlq = TopicTail::uncommitted(&b, product_filter::DEAD_LETTERS);
    let mut out = TopicTail::uncommitted(&b, product_filter::OUTPUT);
    let expected = inputs
        .iter()
        .filter(|(k, v)| scenario::product_passes(k, v))
        .count();
    let deadline = Instant::now() + Duration::from_secs(180);
    while dlq.len() < bads + invalid || out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "after 180 s: {} dead letters of {}, {} outputs of {expected}\n{}",
            dlq.len(),
            bads + invalid,
            out.len(),
            w.log_tail(30)
        );
        assert!(w.is_running(), "the worker exited\n{}", w.log_tail(40));
        dlq.poll(Duration::from_millis(100));
        out.poll(Duration::from_millis(100));
    }
    let seconds = t.elapsed().as_secs_f64();
    dlq.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    out.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    assert!(w.is_running(), "the worker exited\n{}", w.log_tail(40));
    w.terminate(Duration::from_secs(30));

    // Every bad record is a dead letter with its own bytes and origin; no good one is.
    let mut found = 0;
    let mut problems = Vec::new();
    for r in dlq.records() {
        let topic = header(r, "__streams.errors.topic");
        let partition: Option<i32> =
            header(r, "__streams.errors.partition").and_then(|p| p.parse().ok());
        let offset: Option<i64> = header(r, "__streams.errors.offset").and_then(|o| o.parse().ok());
        let weir_offset: Option<i64> = header(r, "weir.source.offset").and_then(|o| o.parse().ok());
        let (Some(p), Some(o)) = (partition, offset) else {
            problems.push(format!(
                "dead letter {}/{} without origin headers",
                r.partition, r.offset
            ));
            continue;
        };
        if topic != Some(product_filter::INPUT) || weir_offset != Some(o) {
            problems.push(format!(
                "dead letter {}/{}: origin {topic:?} {p}/{o}",
                r.partition, r.offset
            ));
        }
        for h in [
            "__streams.errors.exception",
            "__streams.errors.message",
            "__streams.errors.stacktrace",
            "weir.error",
        ] {
            if r.header(h).is_none() {
                problems.push(format!(
                    "dead letter {}/{} lacks {h}",
                    r.partition, r.offset
                ));
            }
        }
        if let Some((key, value)) = bad_at.get(&(p, o)) {
            if &r.key != key || &r.value != value {
                problems.push(format!("dead letter of {p}/{o} changed the record's bytes"));
            }
            found += 1;
        } else {
            // Not one of ours: it must be a generated invalid product.
            let ok = r.key.as_deref().is_some_and(|k| {
                std::str::from_utf8(k)
                    .ok()
                    .and_then(|k| k.strip_prefix("p-"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(scenario::invalid)
            });
            if !ok {
                problems.push(format!(
                    "dead letter {}/{} is a good record ({:?})",
                    r.partition,
                    r.offset,
                    r.key_str()
                ));
            }
        }
        if problems.len() > 20 {
            break;
        }
    }
    let verdict = verify::expect_products(&inputs, scenario::product_passes, out.records());
    scenario::report(
        "6 poison input, dead_letter",
        &[
            ("good", good.to_string()),
            ("bad", bads.to_string()),
            ("invalid_products", invalid.to_string()),
            ("dead_letters", dlq.len().to_string()),
            ("bad_found_in_dlq", found.to_string()),
            ("lost", verdict.lost.to_string()),
            ("duplicated", verdict.duplicated.to_string()),
            ("wrong", verdict.wrong.to_string()),
            ("unexpected", verdict.unexpected.to_string()),
            ("seconds", format!("{seconds:.1}")),
        ],
    );
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(found, bads, "bad records in the dead-letter topic");
    assert_eq!(dlq.len(), bads + invalid, "dead letters");
    assert!(verdict.at_least_once(), "{verdict}");
}

#[test]
fn scenario_6_the_fail_handler_stops_at_the_bad_record_and_a_restart_resumes_there() {
    let broker = Broker::start();
    let b = broker.bootstrap();
    create_topic(&b, product_filter::INPUT, 1, false);
    create_topic(&b, product_filter::FORBIDDEN, 1, true);
    create_topic(&b, product_filter::OUTPUT, 1, false);
    create_topic(&b, product_filter::DEAD_LETTERS, 1, false);
    let n = 2_000;
    produce(&b, product_filter::FORBIDDEN, scenario::forbidden_table(n));
    let inputs = scenario::products(n);
    let mut records: Vec<Record> = inputs
        .iter()
        .map(|(k, v)| (Some(k.clone()), Some(v.clone())))
        .collect();
    let bad_index = 1_000;
    records.insert(
        bad_index,
        (Some(b"bad".to_vec()), Some(b"{ not json".to_vec())),
    );
    let delivered = produce(&b, product_filter::INPUT, records);
    let bad_offset = delivered[bad_index].offset;

    let state = temp_state_dir();
    let app = unique_name("rel-fail");
    let failing = WorkerArgs::new("product-filter", &b, &app, state.path())
        .commit_interval_ms(200)
        .set("default.deserialization.exception.handler", "fail");
    let mut w = WorkerProcess::spawn(WORKER, "fail", &failing);
    let status = w.wait_exit(Duration::from_secs(120));
    let log = w.log();
    assert!(
        !status.success(),
        "the worker kept running past a bad record\n{log}"
    );
    let named = log.lines().any(|l| {
        l.contains(product_filter::INPUT) && l.contains(&format!("offset {bad_offset}"))
            || l.contains(&format!("{}-0", product_filter::INPUT))
                && l.contains(&bad_offset.to_string())
    });
    assert!(
        named,
        "the error does not name {}-0 offset {bad_offset}:\n{log}",
        product_filter::INPUT
    );
    let committed = committed_offsets(&b, &app, product_filter::INPUT)[0].unwrap_or(0);
    assert!(
        committed <= bad_offset,
        "committed {committed}, past the bad record at {bad_offset}"
    );

    // Fixed handler: resumes at the committed offset, the bad record becomes a dead letter.
    let fixed = WorkerArgs::new("product-filter", &b, &app, state.path()).commit_interval_ms(200);
    let mut w = WorkerProcess::start(WORKER, "fixed", &fixed);
    let expected = inputs
        .iter()
        .filter(|(k, v)| scenario::product_passes(k, v))
        .count();
    let mut out = TopicTail::uncommitted(&b, product_filter::OUTPUT);
    assert!(
        out.wait_for(Duration::from_secs(120), |rs| {
            rs.iter()
                .filter_map(|r| r.key.clone())
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= expected
        }),
        "only {} outputs after the restart\n{}",
        out.len(),
        w.log_tail(30)
    );
    out.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    w.terminate(Duration::from_secs(30));
    let dlq = consume_all(
        &b,
        product_filter::DEAD_LETTERS,
        ConsumeOpts::until_idle(Duration::from_secs(2)),
    );
    let verdict = verify::expect_products(&inputs, scenario::product_passes, out.records());
    let bad_letters = dlq
        .iter()
        .filter(|r| r.key.as_deref() == Some(b"bad"))
        .count();
    scenario::report(
        "6 poison input, fail",
        &[
            ("bad_offset", bad_offset.to_string()),
            ("committed_at_failure", committed.to_string()),
            (
                "replayed_after_restart",
                (bad_offset - committed).to_string(),
            ),
            ("lost", verdict.lost.to_string()),
            ("duplicated", verdict.duplicated.to_string()),
            ("bad_in_dlq_after_fix", bad_letters.to_string()),
        ],
    );
    assert!(verdict.at_least_once(), "{verdict}");
    assert_eq!(
        bad_letters, 1,
        "the bad record is a dead letter once the handler says so"
    );
}
