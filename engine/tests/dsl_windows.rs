//! Golden tests of time in the DSL through the test driver: every window kind (tumbling,
//! hopping, sliding, session) with out-of-order and late records, emit-on-close (suppression)
//! across a restart, the three stream–stream joins, timestamp-ordered processing of a stream
//! and its table, and timestamp extractors.
//!
//! Each expected output is worked out by hand in the comment above it, window by window, and is
//! what Kafka Streams emits for the same input with caching off (`statestore.cache.max.bytes=0`;
//! weir forwards every update as Kafka Streams does without a cache). Notation: `a@[s,e)` is key
//! `a` in window `[s, e)`; `st` is stream time, `close` = st − grace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{
    Consumed, EmitStrategy, ErrorHandling, Grouped, JoinWindows, Materialized, Produced, Record,
    Serdes, SessionWindows, SlidingWindows, StreamJoined, StreamsBuilder, StreamsConfig,
    TimeWindows, Windowed, WindowedFormat, WindowedSerde,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// `(key, start, end, value, timestamp)` of each windowed record written to `topic`.
fn windowed(
    d: &mut TopologyTestDriver,
    topic: &str,
    format: WindowedFormat,
) -> Vec<(String, i64, i64, Option<i64>, i64)> {
    d.output_topic(
        topic,
        WindowedSerde::of(Serdes::string(), format),
        Serdes::i64(),
    )
    .read_records(d)
    .unwrap()
    .into_iter()
    .map(|r: Record<Windowed<String>, Option<i64>>| {
        (
            r.key.key,
            r.key.window.start,
            r.key.window.end,
            r.value,
            r.timestamp,
        )
    })
    .collect()
}

fn pipe(d: &mut TopologyTestDriver, topic: &str, key: &str, value: &str, ts: i64) {
    d.input_topic(topic, Serdes::string(), Serdes::string())
        .pipe_at(d, key.to_owned(), value.to_owned(), ts)
        .unwrap();
}

fn count_topology(windows: TimeWindows, emit: EmitStrategy) -> weir_engine::Topology {
    let b = StreamsBuilder::new("windows");
    b.stream("in", strings())
        .group_by_key(Grouped::default())
        .windowed_by(windows)
        .emit_strategy(emit)
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::default());
    b.build().unwrap()
}

#[test]
fn tumbling_count_takes_out_of_order_records_within_grace_and_dead_letters_late_ones() {
    // size 10, grace 5:
    //   a@1  → a@[0,10) = 1 (ts 1)
    //   a@12 → a@[10,20) = 1 (ts 12); st 12, close 7
    //   a@8  → out of order, [0,10) ends 10 > 7: open → a@[0,10) = 2 (ts max(1, 8) = 8)
    //   a@20 → a@[20,30) = 1 (ts 20); st 20, close 15
    //   a@9  → [0,10) ends 10 <= 15: closed → late, dropped (to the dead-letter topic here)
    //   b@16 → b@[10,20) = 1 (ts 16): [10,20) ends 20 > 15
    let mut config = StreamsConfig::new("windows");
    config.processing_exception_handler = ErrorHandling::DeadLetter;
    let mut d = TopologyTestDriver::with_config(
        count_topology(
            TimeWindows::of_size_and_grace(ms(10), ms(5)),
            EmitStrategy::OnWindowUpdate,
        ),
        DriverConfig {
            error_handling: Some(config.clone()),
            ..DriverConfig::default()
        },
    )
    .unwrap();
    for (k, ts) in [
        ("a", 1),
        ("a", 12),
        ("a", 8),
        ("a", 20),
        ("a", 9),
        ("b", 16),
    ] {
        pipe(&mut d, "in", k, "x", ts);
    }
    let time = WindowedFormat::Time { size_ms: 10 };
    assert_eq!(
        windowed(&mut d, "out", time),
        [
            ("a".into(), 0, 10, Some(1), 1),
            ("a".into(), 10, 20, Some(1), 12),
            ("a".into(), 0, 10, Some(2), 8),
            ("a".into(), 20, 30, Some(1), 20),
            ("b".into(), 10, 20, Some(1), 16),
        ]
    );
    let dlq = d.read_raw(&config.dead_letter_topic());
    assert_eq!(dlq.len(), 1, "the late record is a dead letter");
    assert_eq!(dlq[0].timestamp, 9);
    let error = dlq[0]
        .headers
        .iter()
        .find(|(k, _)| *k == "weir.error")
        .and_then(|(_, v)| v)
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .unwrap();
    assert!(error.contains("late record"), "{error}");
}

#[test]
fn hopping_count_updates_every_overlapping_window() {
    // size 10, advance 5, no grace:
    //   a@3  → windows starting 0 (−5 is before the epoch): a@[0,10) = 1
    //   a@7  → a@[0,10) = 2, a@[5,15) = 1
    //   a@11 → st 11, close 11: a@[5,15) = 2, a@[10,20) = 1
    //   a@4  → its only window [0,10) ends 10 <= 11: late, dropped
    let mut d = TopologyTestDriver::new(count_topology(
        TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(5)),
        EmitStrategy::OnWindowUpdate,
    ))
    .unwrap();
    for ts in [3, 7, 11, 4] {
        pipe(&mut d, "in", "a", "x", ts);
    }
    let got: Vec<(i64, Option<i64>)> =
        windowed(&mut d, "out", WindowedFormat::Time { size_ms: 10 })
            .into_iter()
            .map(|(_, s, _, v, _)| (s, v))
            .collect();
    assert_eq!(
        got,
        [
            (0, Some(1)),
            (0, Some(2)),
            (5, Some(1)),
            (5, Some(2)),
            (10, Some(1))
        ]
    );
}

#[test]
fn emit_on_window_close_forwards_each_final_result_once_across_a_restart() {
    // size 10, grace 2, emit on window close (the suppression buffer is a changelogged store):
    //   a@1, a@5, b@9 → buffered: a@[0,10) = 2, b@[0,10) = 1; nothing forwarded
    //   -- the driver closes and a new one opens the same state directory --
    //   a@11 → a@[10,20) = 1 buffered; st 11, close 9: [0,10) closes at 10 > 9, still held
    //   a@12 → a@[10,20) = 2; close 10: a@[0,10) = 2 (ts 5) and b@[0,10) = 1 (ts 9) final
    //   a@25 → close 23: a@[10,20) = 2 (ts 12) final; a@[20,30) = 1 held
    let dir = tempfile::tempdir().unwrap();
    let config = || DriverConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..DriverConfig::default()
    };
    let topology = || {
        count_topology(
            TimeWindows::of_size_and_grace(ms(10), ms(2)),
            EmitStrategy::OnWindowClose,
        )
    };
    let time = WindowedFormat::Time { size_ms: 10 };
    let mut d = TopologyTestDriver::with_config(topology(), config()).unwrap();
    for (k, ts) in [("a", 1), ("a", 5), ("b", 9)] {
        pipe(&mut d, "in", k, "x", ts);
    }
    assert_eq!(windowed(&mut d, "out", time), []);
    d.close().unwrap();
    let mut d = TopologyTestDriver::with_config(topology(), config()).unwrap();
    pipe(&mut d, "in", "a", "x", 11);
    assert_eq!(windowed(&mut d, "out", time), []);
    pipe(&mut d, "in", "a", "x", 12);
    assert_eq!(
        windowed(&mut d, "out", time),
        [
            ("a".into(), 0, 10, Some(2), 5),
            ("b".into(), 0, 10, Some(1), 9)
        ]
    );
    pipe(&mut d, "in", "a", "x", 25);
    assert_eq!(
        windowed(&mut d, "out", time),
        [("a".into(), 10, 20, Some(2), 12)]
    );
    d.close().unwrap();
}

#[test]
fn sliding_count_creates_left_and_right_windows_and_leaves_closed_ones() {
    // difference 10, no grace; windows [s, s+10] with both ends inclusive, open while their end
    // >= st − grace (a record at a window's end is on time):
    //   a@10 → its left window [0,10] = {10} → 1 (ts 10); no record after it, no right window
    //   a@15 → its left window [5,15] = {10,15} → 2; the right window of 10, [11,21] = {15}
    //          → 1 (it now has a record); its own right window [16,26] is empty
    //   a@12 → out of order; st 15, close 15: its left window [2,12] ends before 15: closed,
    //          never created; [5,15] = {10,12,15} → 3; [11,21] = {12,15} → 2; its right
    //          window [13,23] = {15} → 1 (ts 15, the largest record in it)
    //   a@1  → even its right window [2,12] is closed (12 < 15): late, dropped
    let b = StreamsBuilder::new("sliding");
    b.stream("in", strings())
        .group_by_key(Grouped::default())
        .windowed_by_sliding(SlidingWindows::of_time_difference_with_no_grace(ms(10)))
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    for ts in [10, 15, 12, 1] {
        pipe(&mut d, "in", "a", "x", ts);
    }
    let got: Vec<(i64, i64, Option<i64>, i64)> =
        windowed(&mut d, "out", WindowedFormat::Sliding { difference_ms: 10 })
            .into_iter()
            .map(|(_, s, e, v, ts)| (s, e, v, ts))
            .collect();
    assert_eq!(
        got,
        [
            (0, 10, Some(1), 10),
            (5, 15, Some(2), 15),
            (11, 21, Some(1), 15),
            (5, 15, Some(3), 15),
            (11, 21, Some(2), 15),
            (13, 23, Some(1), 15),
        ]
    );
}

#[test]
fn session_count_merges_sessions_and_tombstones_the_merged_ones() {
    // gap 5, no grace; sessions [first, last], timestamp = the session's end:
    //   a@1  → a@[1,1] = 1
    //   a@4  → within 5 of [1,1]: merged a@[1,4] = 2; a@[1,1] → tombstone
    //   a@20 → no session within 5: a@[20,20] = 1; st 20, close 20
    //   a@10 → no session within 5 ([1,4] ends 4 < 5); its session [10,10] ends before 20:
    //          late, dropped
    //   a@16 → within 5 of [20,20]: merged a@[16,20] = 2; a@[20,20] → tombstone
    let b = StreamsBuilder::new("sessions");
    b.stream("in", strings())
        .group_by_key(Grouped::default())
        .windowed_by_session(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
        .count(Materialized::as_("sessions"))
        .to_stream()
        .to("out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    for ts in [1, 4, 20, 10, 16] {
        pipe(&mut d, "in", "a", "x", ts);
    }
    let got: Vec<(i64, i64, Option<i64>, i64)> = windowed(&mut d, "out", WindowedFormat::Session)
        .into_iter()
        .map(|(_, s, e, v, ts)| (s, e, v, ts))
        .collect();
    assert_eq!(
        got,
        [
            (1, 1, Some(1), 1),
            (1, 1, None, 1),
            (1, 4, Some(2), 4),
            (20, 20, Some(1), 20),
            (20, 20, None, 20),
            (16, 20, Some(2), 20),
        ]
    );
}

/// Stream–stream join of `left` and `right` (key `k`) within 10 ms either way, no grace.
fn join_topology(kind: &str) -> weir_engine::Topology {
    let b = StreamsBuilder::new("joins");
    let left = b.stream("left", strings());
    let right = b.stream("right", strings());
    let w = JoinWindows::of_time_difference_with_no_grace(ms(10));
    let joined = match kind {
        "inner" => left.join_stream(
            &right,
            |l: &String, r: &String| format!("{l}+{r}"),
            w,
            StreamJoined::default(),
        ),
        "left" => left.left_join_stream(
            &right,
            |l: &String, r: Option<&String>| format!("{l}+{}", r.map_or("null", String::as_str)),
            w,
            StreamJoined::default(),
        ),
        _ => left.outer_join_stream(
            &right,
            |l: Option<&String>, r: Option<&String>| {
                format!(
                    "{}+{}",
                    l.map_or("null", String::as_str),
                    r.map_or("null", String::as_str)
                )
            },
            w,
            StreamJoined::default(),
        ),
    };
    joined.to("out", Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

fn join_output(kind: &str) -> Vec<(String, i64)> {
    // l1@0, r1@5  → l1+r1 (ts 5): within 10 of each other
    // l2@30       → no right record in [20,40]: waits (left/outer)
    // r2@100      → no left record in [90,110]: waits (outer); st 100: l2's window closed at
    //               30 + 10 + 0 < 100 → l2+null (ts 30) (left/outer)
    // l3@200      → st 200: r2's window closed (100 + 10 < 200) → null+r2 (ts 100) (outer)
    // r3@50       → late (50 + 10 < 200): dropped
    // No early l1+null: a record is emitted without a partner only once its window closed.
    let mut d = TopologyTestDriver::new(join_topology(kind)).unwrap();
    for (topic, v, ts) in [
        ("left", "l1", 0),
        ("right", "r1", 5),
        ("left", "l2", 30),
        ("right", "r2", 100),
        ("left", "l3", 200),
        ("right", "r3", 50),
    ] {
        pipe(&mut d, topic, "k", v, ts);
    }
    d.output_topic("out", Serdes::string(), Serdes::string())
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.value.unwrap(), r.timestamp))
        .collect()
}

#[test]
fn stream_stream_inner_join_pairs_records_within_the_window() {
    assert_eq!(join_output("inner"), [("l1+r1".into(), 5)]);
}

#[test]
fn stream_stream_left_join_emits_unmatched_records_only_after_their_window_closes() {
    assert_eq!(
        join_output("left"),
        [("l1+r1".into(), 5), ("l2+null".into(), 30)]
    );
}

#[test]
fn stream_stream_outer_join_emits_both_sides_unmatched_after_their_windows_close() {
    assert_eq!(
        join_output("outer"),
        [
            ("l1+r1".into(), 5),
            ("l2+null".into(), 30),
            ("null+r2".into(), 100)
        ]
    );
}

#[test]
fn a_task_processes_a_stream_and_its_table_in_timestamp_order() {
    // Fetched together: the stream's s0@5 and s1@20 (in offset order), then the table's t1@10.
    // A task that reads both processes the buffered record with the smallest timestamp first —
    // s0 (no row yet), t1, s1 (joins t1) — whatever the fetch order, as Kafka Streams' task
    // does (each partition stays in offset order). Piped one at a time, the driver processes
    // each at once (nothing else is fetchable), so s1 comes before t1 and finds no row: the
    // ordering is the queues', not the input's.
    let topology = || {
        let b = StreamsBuilder::new("ordered");
        let table = b.table("table", strings(), Materialized::as_("rows"));
        b.stream("stream", strings())
            .left_join(&table, |s, t: Option<String>| {
                format!("{s}+{}", t.unwrap_or_else(|| "null".into()))
            })
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        b.build().unwrap()
    };
    let out = |d: &mut TopologyTestDriver| -> Vec<String> {
        d.output_topic("out", Serdes::string(), Serdes::string())
            .read_values(d)
            .unwrap()
    };
    let mut d = TopologyTestDriver::new(topology()).unwrap();
    d.fetch_together(|d| {
        pipe(d, "stream", "k", "s0", 5);
        pipe(d, "stream", "k", "s1", 20);
        pipe(d, "table", "k", "t1", 10);
        Ok(())
    })
    .unwrap();
    assert_eq!(out(&mut d), ["s0+null", "s1+t1"]);

    let mut d = TopologyTestDriver::new(topology()).unwrap();
    pipe(&mut d, "stream", "k", "s0", 5);
    pipe(&mut d, "stream", "k", "s1", 20);
    pipe(&mut d, "table", "k", "t1", 10);
    assert_eq!(out(&mut d), ["s0+null", "s1+null"]);
}

#[test]
fn a_timestamp_extractor_sets_event_time_and_an_invalid_one_goes_to_the_handler() {
    // Values are "<event time>:<text>"; the extractor reads the event time, so windows follow
    // it and not the record's timestamp. "-3:x" is negative and "oops" has none: both go to
    // the deserialization handler (dead letters here), and nothing else stops.
    let b = StreamsBuilder::new("extract");
    b.stream(
        "in",
        strings().with_timestamp_extractor(|_, v: Option<&String>, _, _| {
            v.and_then(|v| v.split_once(':'))
                .ok_or_else(|| "no event time in the value".to_owned())?
                .0
                .parse::<i64>()
                .map_err(|e| e.to_string())
        }),
    )
    .group_by_key(Grouped::default())
    .windowed_by(TimeWindows::of_size_with_no_grace(ms(100)))
    .count(Materialized::as_("counts"))
    .to_stream()
    .to("out", Produced::default());
    let mut config = StreamsConfig::new("extract");
    config.deserialization_exception_handler = ErrorHandling::DeadLetter;
    let mut d = TopologyTestDriver::with_config(
        b.build().unwrap(),
        DriverConfig {
            error_handling: Some(config.clone()),
            ..DriverConfig::default()
        },
    )
    .unwrap();
    pipe(&mut d, "in", "a", "150:x", 0);
    pipe(&mut d, "in", "a", "-3:x", 0);
    pipe(&mut d, "in", "a", "oops", 0);
    pipe(&mut d, "in", "a", "120:y", 999_999);
    assert_eq!(
        windowed(&mut d, "out", WindowedFormat::Time { size_ms: 100 }),
        [
            ("a".into(), 100, 200, Some(1), 150),
            ("a".into(), 100, 200, Some(2), 150),
        ]
    );
    assert_eq!(d.read_raw(&config.dead_letter_topic()).len(), 2);
}

#[test]
fn a_ttl_deletes_aggregates_not_updated_for_a_while_of_stream_time() {
    // count with a 100 ms time to live; expiry runs on stream-time punctuation (every 10 ms of
    // stream time), after the record that moved stream time on:
    //   a@0 → a=1; b@50 → b=1; a@120 → a=2 (a's last update is now 120)
    //   c@200 → c=1; then the keys last updated before 200 − 100 = 100 expire: b → tombstone
    //   d@300 → d=1; before 200: a (120) → tombstone; c (200) stays
    //   a@310 → a counts from scratch: a=1; before 210: c (200) → tombstone
    let b = StreamsBuilder::new("ttl");
    b.stream("in", strings())
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts").with_ttl(ms(100)))
        .to_stream()
        .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    for (k, ts) in [
        ("a", 0),
        ("b", 50),
        ("a", 120),
        ("c", 200),
        ("d", 300),
        ("a", 310),
    ] {
        pipe(&mut d, "in", k, "x", ts);
    }
    let out = d
        .output_topic("out", Serdes::string(), Serdes::i64())
        .read_key_values(&mut d)
        .unwrap();
    let s = |k: &str, v: Option<i64>| (k.to_owned(), v);
    assert_eq!(
        out,
        [
            s("a", Some(1)),
            s("b", Some(1)),
            s("a", Some(2)),
            s("c", Some(1)),
            s("b", None),
            s("d", Some(1)),
            s("a", None),
            s("a", Some(1)),
            s("c", None),
        ]
    );
    let mut left: Vec<(String, i64)> = d.read_store("counts").unwrap();
    left.sort();
    assert_eq!(left, [("a".into(), 1), ("d".into(), 1)]);
}
