//! Time in definition files: `window:` and `emit:` on groupings (tumbling, hopping, sliding,
//! session), windowed `count` / `aggregate` / `reduce` and the steps after them, `join:` of two
//! streams (inner, left, outer) and `timestamp:` on sources.
//!
//! Each YAML definition has a Rust-DSL twin written as a Rust user would write it: both must
//! `describe()` the same graph and write the same records (keys and values byte for byte,
//! timestamps, dead letters with their provenance headers) for input with out-of-order and late
//! records; the YAML's outputs are also checked against results worked out by hand (the same
//! as `dsl_windows.rs`). Then the load errors: bad durations and window keys, each at
//! `file:line:col`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::definitions::{err, loaded};
use weir_engine::definition::{Format, Loaded};
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{
    Consumed, EmitStrategy, Grouped, Headers, JoinWindows, Materialized, Produced, Serdes,
    SessionWindows, SlidingWindows, StreamJoined, StreamsBuilder, StreamsConfig, TimeWindows,
    Topology, Windowed,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// String keys, JSON values: how the twins read their topics.
fn json_in() -> Consumed<String, Value> {
    Consumed::with(Serdes::string(), Serdes::json())
}

/// One input record: topic, key, JSON value, timestamp.
type In<'a> = (&'a str, &'a str, Value, i64);

/// One output record: key bytes, value (JSON, or the bytes in hex when not JSON), timestamp,
/// headers but the error's wording (the twins' messages may differ, where they come from may not).
type Out = (
    Option<Vec<u8>>,
    Option<Value>,
    i64,
    Vec<(String, Option<Vec<u8>>)>,
);

fn run(
    topology: Topology,
    config: Option<StreamsConfig>,
    input: &[In<'_>],
) -> BTreeMap<String, Vec<Out>> {
    let mut d = TopologyTestDriver::with_config(
        topology,
        DriverConfig {
            error_handling: config,
            ..DriverConfig::default()
        },
    )
    .unwrap();
    for (topic, key, value, ts) in input {
        let bytes = serde_json::to_vec(value).unwrap();
        d.pipe_raw(
            topic,
            Some(key.as_bytes()),
            Some(&bytes),
            *ts,
            Headers::new(),
        )
        .unwrap_or_else(|e| panic!("{topic} {key} {value} @{ts}: {e}"));
    }
    let mut out = BTreeMap::new();
    for topic in d.output_topics() {
        let records = d
            .read_raw(&topic)
            .into_iter()
            .map(|r| {
                let value = r.value.as_deref().map(|b| {
                    serde_json::from_slice(b).unwrap_or_else(|_| {
                        Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
                    })
                });
                let headers = r
                    .headers
                    .iter()
                    .filter(|(k, _)| {
                        !matches!(
                            *k,
                            "weir.error"
                                | "__streams.errors.exception"
                                | "__streams.errors.message"
                                | "__streams.errors.stacktrace"
                        )
                    })
                    .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                    .collect();
                (r.key, value, r.timestamp, headers)
            })
            .collect();
        out.insert(topic, records);
    }
    out
}

/// The YAML definition and its Rust twin build the same graph and write the same records for
/// `input`; returns the definition and those records.
fn twins(
    yaml: &str,
    rust: Topology,
    config: Option<StreamsConfig>,
    input: &[In<'_>],
) -> (Loaded, BTreeMap<String, Vec<Out>>) {
    let l = loaded(yaml);
    assert_eq!(l.topology.describe(), rust.describe());
    let from_yaml = run(loaded(yaml).topology, config.clone(), input);
    let from_rust = run(rust, config, input);
    assert_eq!(from_yaml, from_rust);
    (l, from_yaml)
}

/// `topic`'s records decoded with the formats the definition declares for it: a windowed key
/// as `[key, start, end]`, then the value (`null` for a tombstone) and the timestamp.
fn decoded(l: &Loaded, out: &BTreeMap<String, Vec<Out>>, topic: &str) -> Vec<(Value, Value, i64)> {
    let (kf, vf) = &l.formats[topic];
    let Some(records) = out.get(topic) else {
        return Vec::new();
    };
    records
        .iter()
        .map(|(k, v, ts, _)| {
            let key = kf.decode(topic, k.as_deref().unwrap()).unwrap();
            let key = match key {
                Value::Object(m) => json!([m["key"], m["start"], m["end"]]),
                other => other,
            };
            let value = match v {
                None => Value::Null,
                Some(Value::String(hex)) if matches!(vf, Format::I64) => {
                    let bytes: Vec<u8> = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect();
                    vf.decode(topic, &bytes).unwrap()
                }
                Some(v) => v.clone(),
            };
            (key, value, *ts)
        })
        .collect()
}

fn dead_letters() -> Option<StreamsConfig> {
    Some(
        StreamsConfig::new("app")
            .with("processing.exception.handler", "dead_letter")
            .unwrap()
            .with("default.deserialization.exception.handler", "dead_letter")
            .unwrap(),
    )
}

fn rec<'a>(topic: &'a str, key: &'a str, value: Value, ts: i64) -> In<'a> {
    (topic, key, value, ts)
}

// ---------------------------------------------------------------- windowed aggregations

#[test]
fn tumbling_count_twins_take_out_of_order_records_and_dead_letter_late_ones() {
    let yaml = r#"
application: clicks
streams:
  clicks:
    from: clicks
    steps:
      - group_by_key: true
        window: {tumbling: 10ms, grace: 5ms}
      - count: click-counts
      - to: clicks-per-window
"#;
    let b = StreamsBuilder::new("clicks");
    b.stream("clicks", json_in())
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)))
        .count(Materialized::as_("click-counts"))
        .to_stream()
        .to("clicks-per-window", Produced::default());
    // size 10, grace 5: a@8 is out of order but its window is open (st 12, close 7); a@9
    // comes after st 20 (close 15) and is late; b@16 is on time.
    let input: Vec<In<'_>> = [
        ("a", 1),
        ("a", 12),
        ("a", 8),
        ("a", 20),
        ("a", 9),
        ("b", 16),
    ]
    .into_iter()
    .map(|(k, ts)| rec("clicks", k, json!({"page": "p"}), ts))
    .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), dead_letters(), &input);
    assert_eq!(
        decoded(&l, &out, "clicks-per-window"),
        [
            (json!(["a", 0, 10]), json!(1), 1),
            (json!(["a", 10, 20]), json!(1), 12),
            (json!(["a", 0, 10]), json!(2), 8),
            (json!(["a", 20, 30]), json!(1), 20),
            (json!(["b", 10, 20]), json!(1), 16),
        ]
    );
    let dlq = &out["app-dlq"];
    assert_eq!(dlq.len(), 1, "the late record is a dead letter");
    assert_eq!(dlq[0].2, 9);
}

#[test]
fn hopping_count_twins_group_by_a_new_key_through_a_repartition_topic() {
    let yaml = r#"
application: hops
streams:
  views:
    from: views
    steps:
      - group_by: value.user
        repartition: views-by-user
        window:
          hopping: {size: 10ms, advance: 5ms}
      - count: views-per-window
      - to: hops
"#;
    let b = StreamsBuilder::new("hops");
    b.stream("views", json_in())
        .group_by(
            |_, v: &Value| v["user"].as_str().unwrap_or_default().to_owned(),
            Grouped::as_("views-by-user").with_key_serde(Serdes::string()),
        )
        .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(5)))
        .count(Materialized::as_("views-per-window"))
        .to_stream()
        .to("hops", Produced::default());
    // a@3 → [0,10); a@7 → [0,10), [5,15); a@11 → [5,15), [10,20) (st 11); a@4 → late.
    let input: Vec<In<'_>> = [3, 7, 11, 4]
        .into_iter()
        .map(|ts| rec("views", "k", json!({"user": "a"}), ts))
        .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    let got: Vec<(Value, Value)> = decoded(&l, &out, "hops")
        .into_iter()
        .map(|(k, v, _)| (k[1].clone(), v))
        .collect();
    assert_eq!(
        got,
        [
            (json!(0), json!(1)),
            (json!(0), json!(2)),
            (json!(5), json!(1)),
            (json!(5), json!(2)),
            (json!(10), json!(1)),
        ]
    );
}

#[test]
fn sliding_aggregate_twins_sum_each_window_around_the_records() {
    let yaml = r#"
application: sliding
streams:
  amounts:
    from: amounts
    steps:
      - group_by_key: true
        window: {sliding: 10ms}
      - aggregate: sums
        initial: 0
        update: aggregate + value.n
      - to: sums
"#;
    let b = StreamsBuilder::new("sliding");
    b.stream("amounts", json_in())
        .group_by_key(Grouped::default())
        .windowed_by_sliding(SlidingWindows::of_time_difference_with_no_grace(ms(10)))
        .aggregate(
            || json!(0),
            |_, v: Value, sum: Value| {
                json!(sum.as_i64().unwrap_or(0) + v["n"].as_i64().unwrap_or(0))
            },
            Materialized::as_("sums").with_value_serde(Serdes::json()),
        )
        .to_stream()
        .to("sums", Produced::default());
    // The records of `dsl_windows.rs`'s sliding test, each worth its timestamp: windows
    // [0,10] = {10}; [5,15] = {10,15}; [11,21] = {15}; then 12 (out of order) joins [5,15] and
    // [11,21] and opens [13,23] = {15}; 1 is late.
    let input: Vec<In<'_>> = [10, 15, 12, 1]
        .into_iter()
        .map(|ts| rec("amounts", "a", json!({"n": ts}), ts))
        .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    assert_eq!(
        decoded(&l, &out, "sums"),
        [
            (json!(["a", 0, 10]), json!(10), 10),
            (json!(["a", 5, 15]), json!(25), 15),
            (json!(["a", 11, 21]), json!(15), 15),
            (json!(["a", 5, 15]), json!(37), 15),
            (json!(["a", 11, 21]), json!(27), 15),
            (json!(["a", 13, 23]), json!(15), 15),
        ]
    );
}

#[test]
fn session_twins_count_and_aggregate_one_windowed_grouping_merging_sessions() {
    let yaml = r#"
application: sessions
streams:
  visits:
    from: visits
    steps:
      - group_by_key: true
        window: {session: {gap: 5ms}}
  visit-counts:
    stream: visits
    steps:
      - count: visit-counts
      - to: visit-counts
  visit-pages:
    stream: visits
    steps:
      - aggregate: visit-pages
        initial: []
        update: aggregate + [value.page]
        merger: aggregate + other
      - to: visit-pages
"#;
    let b = StreamsBuilder::new("sessions");
    let sessions = b
        .stream("visits", json_in())
        .group_by_key(Grouped::default())
        .windowed_by_session(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)));
    sessions
        .count(Materialized::as_("visit-counts"))
        .to_stream()
        .to("visit-counts", Produced::default());
    let concat = |a: Value, b: Value| {
        let mut items = a.as_array().cloned().unwrap_or_default();
        items.extend(b.as_array().cloned().unwrap_or_default());
        Value::Array(items)
    };
    sessions
        .aggregate(
            || json!([]),
            move |_, v: Value, pages: Value| concat(pages, json!([v["page"]])),
            move |_, a, b| concat(a, b),
            Materialized::as_("visit-pages").with_value_serde(Serdes::json()),
        )
        .to_stream()
        .to("visit-pages", Produced::default());
    // gap 5: a@1; a@4 merges [1,1] into [1,4] (tombstone for [1,1]); a@20; a@10 is late (its
    // session ends before st 20); a@16 merges [20,20] into [16,20].
    let input: Vec<In<'_>> = [(1, "p1"), (4, "p2"), (20, "p3"), (10, "p4"), (16, "p5")]
        .into_iter()
        .map(|(ts, page)| rec("visits", "a", json!({"page": page}), ts))
        .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    assert_eq!(
        decoded(&l, &out, "visit-counts"),
        [
            (json!(["a", 1, 1]), json!(1), 1),
            (json!(["a", 1, 1]), Value::Null, 1),
            (json!(["a", 1, 4]), json!(2), 4),
            (json!(["a", 20, 20]), json!(1), 20),
            (json!(["a", 20, 20]), Value::Null, 20),
            (json!(["a", 16, 20]), json!(2), 20),
        ]
    );
    let pages: Vec<Value> = decoded(&l, &out, "visit-pages")
        .into_iter()
        .map(|(_, v, _)| v)
        .collect();
    assert_eq!(
        pages,
        [
            json!(["p1"]),
            Value::Null,
            json!(["p1", "p2"]),
            json!(["p3"]),
            Value::Null,
            json!(["p3", "p5"]),
        ]
    );
}

#[test]
fn emit_on_window_close_twins_forward_each_final_result_once() {
    let yaml = r#"
application: finals
streams:
  clicks:
    from: clicks
    steps:
      - group_by_key: true
        window: {tumbling: 10ms, grace: 2ms}
        emit: on_window_close
      - count: final-counts
        name: final-counts-node
      - to: final-counts
"#;
    let b = StreamsBuilder::new("finals");
    b.stream("clicks", json_in())
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(2)))
        .emit_strategy(EmitStrategy::OnWindowClose)
        .count(Materialized::as_("final-counts"))
        .named("final-counts-node")
        .to_stream()
        .to("final-counts", Produced::default());
    // a@1, a@5, b@9 held; a@11 (close 9) still holds [0,10); a@12 (close 10) closes it:
    // a = 2 (ts 5), b = 1 (ts 9); a@25 (close 23) closes [10,20): a = 2 (ts 12); a@3 is late.
    let input: Vec<In<'_>> = [
        ("a", 1),
        ("a", 5),
        ("b", 9),
        ("a", 11),
        ("a", 12),
        ("a", 25),
        ("a", 3),
    ]
    .into_iter()
    .map(|(k, ts)| rec("clicks", k, json!({}), ts))
    .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    assert!(
        l.topology
            .describe()
            .contains("final-counts-suppress-buffer")
    );
    assert_eq!(
        decoded(&l, &out, "final-counts"),
        [
            (json!(["a", 0, 10]), json!(2), 5),
            (json!(["b", 0, 10]), json!(1), 9),
            (json!(["a", 10, 20]), json!(2), 12),
        ]
    );
}

#[test]
fn windowed_stream_twins_filter_map_and_rekey_with_the_window_in_expressions() {
    let yaml = r#"
application: busy
streams:
  clicks:
    from: clicks
    steps:
      - group_by_key: true
        window: {tumbling: 10ms}
      - count: clicks-per-window
      - to_stream: true
      - filter: value >= 2 && key.end - key.start == 10
        name: busy-only
      - to: busy-windows
        key: string                  # the grouping key's format; the window follows it
      - map_values: '{"user": key.key, "start": key.start, "clicks": value}'
      - select_key: key.key
      - to: busy-users
        value: json
"#;
    let b = StreamsBuilder::new("busy");
    let busy = b
        .stream("clicks", json_in())
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
        .count(Materialized::as_("clicks-per-window"))
        .to_stream()
        .filter(|k: &Windowed<String>, n: &i64| *n >= 2 && k.window.end - k.window.start == 10)
        .named("busy-only");
    busy.to("busy-windows", Produced::default());
    busy.map_values_with_key(|k, n| json!({"user": k.key, "start": k.window.start, "clicks": n}))
        .select_key(|k, _| k.key.clone())
        .to(
            "busy-users",
            Produced::with(Serdes::string(), Serdes::json()),
        );
    let input: Vec<In<'_>> = [("a", 1), ("a", 2), ("b", 3), ("a", 12)]
        .into_iter()
        .map(|(k, ts)| rec("clicks", k, json!({}), ts))
        .collect();
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    assert!(
        matches!(&l.formats["busy-windows"].0, Format::Windowed(w) if *w.inner == Format::String),
        "{:?}",
        l.formats["busy-windows"]
    );
    assert_eq!(
        decoded(&l, &out, "busy-windows"),
        [(json!(["a", 0, 10]), json!(2), 2)]
    );
    assert_eq!(
        decoded(&l, &out, "busy-users"),
        [(json!("a"), json!({"user": "a", "start": 0, "clicks": 2}), 2)]
    );
}

#[test]
fn windowed_reduce_twins_keep_the_stream_value_format() {
    let yaml = r#"
application: latest
streams:
  prices:
    from: prices
    value: string
    steps:
      - group_by_key: true
        window: {tumbling: 1m, grace: 30s}
      - reduce: latest-prices
        update: 'value > aggregate ? value : aggregate'
      - to: highest
"#;
    let b = StreamsBuilder::new("latest");
    b.stream("prices", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_secs(60),
            Duration::from_secs(30),
        ))
        .reduce(
            |agg, v| if v > agg { v } else { agg },
            Materialized::as_("latest-prices"),
        )
        .to_stream()
        .to("highest", Produced::default());
    let run = |topology: Topology| {
        let mut d = TopologyTestDriver::new(topology).unwrap();
        for (v, ts) in [
            ("b", 1_000),
            ("c", 70_000),
            ("a", 2_000),
            ("d", 200_000),
            ("z", 3_000),
        ] {
            d.pipe_raw("prices", Some(b"x"), Some(v.as_bytes()), ts, Headers::new())
                .unwrap();
        }
        d.read_raw("highest")
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect::<Vec<_>>()
    };
    let l = loaded(yaml);
    let rust = b.build().unwrap();
    assert_eq!(l.topology.describe(), rust.describe());
    let (kf, vf) = l.formats["highest"].clone();
    let from_yaml = run(l.topology);
    assert_eq!(from_yaml, run(rust));
    let got: Vec<(Value, Value)> = from_yaml
        .iter()
        .map(|(k, v, _)| {
            (
                kf.decode("highest", k.as_deref().unwrap()).unwrap()["start"].clone(),
                vf.decode("highest", v.as_deref().unwrap()).unwrap(),
            )
        })
        .collect();
    // "z"@3s comes after stream time 200s: its window [0, 60s) closed at 90s: late.
    assert_eq!(
        got,
        [
            (json!(0), json!("b")),
            (json!(60_000), json!("c")),
            (json!(0), json!("b")),
            (json!(180_000), json!("d")),
        ]
    );
}

// ---------------------------------------------------------------- stream–stream joins

fn join_yaml(keep: &str) -> String {
    format!(
        r#"
application: joins
streams:
  right:
    from: right
  left:
    from: left
    steps:
      - join: right
        keep: {keep}
        window: {{difference: 10ms}}
        value: '(value == null ? "null" : value.v) + "+" + (other == null ? "null" : other.v)'
        store: pairs
      - to: joined
"#
    )
}

fn join_twin(keep: &str) -> Topology {
    let b = StreamsBuilder::new("joins");
    let right = b.stream("right", json_in());
    let left = b.stream("left", json_in());
    let w = JoinWindows::of_time_difference_with_no_grace(ms(10));
    let side = |v: Option<&Value>| {
        v.map_or("null".to_owned(), |v| {
            v["v"].as_str().unwrap_or_default().to_owned()
        })
    };
    let stores = || StreamJoined::default().with_store_name("pairs");
    let joined = match keep {
        "inner" => left.join_stream(
            &right,
            move |l, r| json!(format!("{}+{}", side(Some(l)), side(Some(r)))),
            w,
            stores(),
        ),
        "left" => left.left_join_stream(
            &right,
            move |l, r| json!(format!("{}+{}", side(Some(l)), side(r))),
            w,
            stores(),
        ),
        _ => left.outer_join_stream(
            &right,
            move |l, r| json!(format!("{}+{}", side(l), side(r))),
            w,
            stores(),
        ),
    };
    joined.to("joined", Produced::with(Serdes::string(), Serdes::json()));
    b.build().unwrap()
}

fn join_output(keep: &str) -> Vec<(Value, i64)> {
    // l1@0 and r1@5 pair; l2@30 has no partner in [20,40] and r2@100 none in [90,110]: each is
    // emitted alone once its window closed (left, outer); r3@50 comes after st 200: late.
    let input = [
        rec("left", "k", json!({"v": "l1"}), 0),
        rec("right", "k", json!({"v": "r1"}), 5),
        rec("left", "k", json!({"v": "l2"}), 30),
        rec("right", "k", json!({"v": "r2"}), 100),
        rec("left", "k", json!({"v": "l3"}), 200),
        rec("right", "k", json!({"v": "r3"}), 50),
    ];
    let (l, out) = twins(&join_yaml(keep), join_twin(keep), None, &input);
    assert!(
        l.topology.describe().contains("pairs-this-join-store"),
        "{}",
        l.topology.describe()
    );
    decoded(&l, &out, "joined")
        .into_iter()
        .map(|(k, v, ts)| {
            assert_eq!(k, json!("k"));
            (v, ts)
        })
        .collect()
}

#[test]
fn inner_join_twins_pair_records_within_the_window() {
    assert_eq!(join_output("inner"), [(json!("l1+r1"), 5)]);
}

#[test]
fn left_join_twins_emit_unmatched_records_once_their_window_closed() {
    assert_eq!(
        join_output("left"),
        [(json!("l1+r1"), 5), (json!("l2+null"), 30)]
    );
}

#[test]
fn outer_join_twins_emit_both_sides_unmatched() {
    assert_eq!(
        join_output("outer"),
        [
            (json!("l1+r1"), 5),
            (json!("l2+null"), 30),
            (json!("null+r2"), 100)
        ]
    );
}

#[test]
fn a_join_window_takes_before_after_and_grace() {
    // Right records from 2 ms before to 20 ms after a left record join: for l0@100, those from
    // 98 to 120. r-late@97 (3 ms before, and out of order) and r-far@121 do not join.
    let yaml = r#"
application: asym
streams:
  right:
    from: right
  left:
    from: left
    steps:
      - join: right
        window: {before: 2ms, after: 20ms, grace: 5ms}
        value: 'value.v + "+" + other.v'
        store: asym
      - to: joined
"#;
    let b = StreamsBuilder::new("asym");
    let right = b.stream("right", json_in());
    b.stream("left", json_in())
        .join_stream(
            &right,
            |l: &Value, r: &Value| {
                json!(format!(
                    "{}+{}",
                    l["v"].as_str().unwrap(),
                    r["v"].as_str().unwrap()
                ))
            },
            JoinWindows::of_time_difference_and_grace(ms(0), ms(5))
                .before(ms(2))
                .after(ms(20)),
            StreamJoined::default().with_store_name("asym"),
        )
        .to("joined", Produced::with(Serdes::string(), Serdes::json()));
    let input = [
        rec("left", "k", json!({"v": "l0"}), 100),
        rec("right", "k", json!({"v": "r-late"}), 97),
        rec("right", "k", json!({"v": "r-near"}), 99),
        rec("right", "k", json!({"v": "r-after"}), 118),
        rec("right", "k", json!({"v": "r-far"}), 121),
    ];
    let (l, out) = twins(yaml, b.build().unwrap(), None, &input);
    let got: Vec<Value> = decoded(&l, &out, "joined")
        .into_iter()
        .map(|(_, v, _)| v)
        .collect();
    assert_eq!(got, [json!("l0+r-near"), json!("l0+r-after")]);
}

// ---------------------------------------------------------------- timestamp: on sources

#[test]
fn timestamp_twins_window_by_event_time_and_dead_letter_invalid_times() {
    let yaml = r#"
application: events
streams:
  events:
    from: events
    timestamp: value.ts
    steps:
      - group_by_key: true
        window: {tumbling: 100ms}
      - count: event-counts
      - to: event-counts
"#;
    let b = StreamsBuilder::new("events");
    b.stream(
        "events",
        json_in().with_timestamp_extractor(|_, v: Option<&Value>, _, _| {
            v.and_then(|v| v["ts"].as_i64())
                .ok_or_else(|| "no ts in the value".to_owned())
        }),
    )
    .group_by_key(Grouped::default())
    .windowed_by(TimeWindows::of_size_with_no_grace(ms(100)))
    .count(Materialized::as_("event-counts"))
    .to_stream()
    .to("event-counts", Produced::default());
    // The record timestamps (0, 999999) are not the event times (150, 120): windows follow the
    // event time. A negative time and a value without one are deserialization errors.
    let input = [
        rec("events", "a", json!({"ts": 150}), 0),
        rec("events", "a", json!({"ts": -3}), 0),
        rec("events", "a", json!({"x": 1}), 0),
        rec("events", "a", json!({"ts": 120}), 999_999),
    ];
    let (l, out) = twins(yaml, b.build().unwrap(), dead_letters(), &input);
    assert_eq!(
        decoded(&l, &out, "event-counts"),
        [
            (json!(["a", 100, 200]), json!(1), 150),
            (json!(["a", 100, 200]), json!(2), 150),
        ]
    );
    assert_eq!(out["app-dlq"].len(), 2);
}

#[test]
fn a_timestamp_expression_sees_the_record_timestamp_and_its_errors_name_the_expression() {
    let yaml = r#"
application: times
tables:
  prices:
    topic: prices
    timestamp: value.at
streams:
  events:
    from: events
    timestamp: 'has(value.ts) ? value.ts : timestamp + 1000'
    steps:
      - group_by_key: true
        window: {tumbling: 1s}
      - count: per-second
      - to: per-second
"#;
    let l = loaded(yaml);
    let mut config = StreamsConfig::new("times");
    config.deserialization_exception_handler = weir_engine::ErrorHandling::DeadLetter;
    let mut d = TopologyTestDriver::with_config(
        l.topology,
        DriverConfig {
            error_handling: Some(config.clone()),
            ..DriverConfig::default()
        },
    )
    .unwrap();
    let pipe = |d: &mut TopologyTestDriver, topic: &str, v: Value, ts: i64| {
        let bytes = serde_json::to_vec(&v).unwrap();
        d.pipe_raw(topic, Some(b"a"), Some(&bytes), ts, Headers::new())
            .unwrap();
    };
    pipe(&mut d, "events", json!({"ts": 2500}), 0);
    pipe(&mut d, "events", json!({}), 1500);
    pipe(&mut d, "events", json!({"ts": "soon"}), 0);
    let (kf, _) = l.formats["per-second"].clone();
    let starts: Vec<Value> = d
        .read_raw("per-second")
        .iter()
        .map(|r| kf.decode("per-second", r.key.as_deref().unwrap()).unwrap()["start"].clone())
        .collect();
    assert_eq!(starts, [json!(2000), json!(2000)]);
    let dlq = d.read_raw(&config.dead_letter_topic());
    assert_eq!(dlq.len(), 1);
    let error = String::from_utf8_lossy(dlq[0].headers.last("weir.error").unwrap()).into_owned();
    assert!(error.contains("f.yaml:10:16 (timestamp)"), "{error}");
    assert!(error.contains("expected an int"), "{error}");
}

// ---------------------------------------------------------------- load errors

fn grouped_with(options: &str) -> String {
    format!(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - group_by_key: true\n{options}      - count: c\n"
    )
}

#[test]
fn bad_durations_are_errors_at_the_value() {
    let e = err(&grouped_with("        window: {tumbling: 1 hour}\n"));
    assert_eq!(
        e,
        "f.yaml:7:28: invalid duration `1 hour` for `tumbling` (the window size): a duration has \
         no spaces; write a whole number and a unit: ms, s, m, h or d (`250ms`, `90s`, `1h30m`)"
    );
    let e = err(&grouped_with(
        "        window: {tumbling: 1h, grace: -5m}\n",
    ));
    assert_eq!(
        e,
        "f.yaml:7:39: invalid duration `-5m` for `grace`: a duration must not be negative"
    );
    let e = err(&grouped_with("        window:\n          tumbling: abc\n"));
    assert!(
        e.starts_with("f.yaml:8:21: invalid duration `abc` for `tumbling`"),
        "{e}"
    );
    let e = err(&grouped_with("        window: {session: 90}\n"));
    assert!(
        e.starts_with("f.yaml:7:27: `session` (its gap): `90` has no unit; write `90ms`"),
        "{e}"
    );
    let e = err(&grouped_with("        window: {sliding: 1.5h}\n"));
    assert!(e.starts_with("f.yaml:7:27: invalid duration `1.5h`"), "{e}");
    let e = err(&grouped_with("        window: {tumbling: 0s}\n"));
    assert_eq!(
        e,
        "f.yaml:7:28: `tumbling` (the window size) must be more than zero"
    );
    let e = err(&grouped_with(
        "        window:\n          hopping: {size: 10m, advance: 1h}\n",
    ));
    assert!(
        e.starts_with("f.yaml:8:41: `advance` must not be more than `size`"),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  r:\n    from: r\n  s:\n    from: t\n    steps:\n      - join: r\n        window: {difference: 10 s}\n        value: value\n        store: j\n",
    );
    assert!(
        e.starts_with("f.yaml:9:30: invalid duration `10 s` for `difference`"),
        "{e}"
    );
}

#[test]
fn bad_window_keys_are_errors_with_the_closest_key() {
    let e = err(&grouped_with("        window: {tumbeling: 1h}\n"));
    assert_eq!(
        e,
        "f.yaml:7:18: unknown key `tumbeling` in `window` (tumbling, hopping, sliding or session, \
         and grace); did you mean `tumbling`?"
    );
    let e = err(&grouped_with(
        "        window: {tumbling: 1h, sliding: 1h}\n",
    ));
    assert_eq!(
        e,
        "f.yaml:7:41: a window is of one kind: `tumbling` or `sliding`, not both"
    );
    let e = err(&grouped_with("        window: {grace: 1m}\n"));
    assert!(
        e.starts_with("f.yaml:7:17: `window` needs its kind: `tumbling: SIZE`"),
        "{e}"
    );
    let e = err(&grouped_with(
        "        window:\n          hopping: {size: 1h, advanse: 5m}\n",
    ));
    assert!(
        e.starts_with("f.yaml:8:31: unknown key `advanse` in `hopping`"),
        "{e}"
    );
    assert!(e.ends_with("did you mean `advance`?"), "{e}");
    let e = err(&grouped_with("        window: {session: {gpa: 5m}}\n"));
    assert!(
        e.starts_with("f.yaml:7:28: unknown key `gpa` in `session` window"),
        "{e}"
    );
    let e = err(&grouped_with(
        "        window: {tumbling: 1h}\n        emit: on_window_closed\n",
    ));
    assert_eq!(
        e,
        "f.yaml:8:15: unknown `emit` `on_window_closed`; did you mean `on_window_close`?"
    );
    let e = err(&grouped_with("        emit: on_window_close\n"));
    assert!(
        e.starts_with("f.yaml:7:15: `emit` says when a windowed aggregation"),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - group_by_key: true\n      - count: c\n        window: {tumbling: 1h}\n",
    );
    assert!(
        e.starts_with("f.yaml:8:17: `window` goes on the grouping"),
        "{e}"
    );
}

#[test]
fn join_and_session_mistakes_are_located() {
    let join = |options: &str| {
        format!(
            "application: a\ntables:\n  t: {{topic: tt}}\nstreams:\n  r:\n    from: r\n  s:\n    from: s\n    steps:\n      - join: r\n{options}"
        )
    };
    let e = err(&join(
        "        window: {diference: 1s}\n        value: value\n        store: j\n",
    ));
    assert!(
        e.starts_with("f.yaml:11:18: unknown key `diference` in the `window` of a join"),
        "{e}"
    );
    assert!(e.ends_with("did you mean `difference`?"), "{e}");
    let e = err(&join(
        "        window: {grace: 1s}\n        value: value\n        store: j\n",
    ));
    assert!(
        e.starts_with("f.yaml:11:17: a join window needs `difference`"),
        "{e}"
    );
    let e = err(&join("        value: value\n        store: j\n"));
    assert_eq!(e, "f.yaml:10:9: `join` step needs `window`");
    let e = err(&join(
        "        window: {difference: 1s}\n        value: value\n",
    ));
    assert!(
        e.starts_with("f.yaml:10:15: a `join` keeps the records of both streams in stores"),
        "{e}"
    );
    let e = err(&join(
        "        window: {difference: 1s}\n        value: value\n        store: j\n        keep: full\n",
    ));
    assert!(
        e.starts_with("f.yaml:14:15: unknown `keep` of a join `full`"),
        "{e}"
    );
    let e = err(&join(
        "        window: {difference: 1s}\n        value: key\n        store: j\n",
    ));
    assert!(
        e.starts_with("f.yaml:12:16: unknown variable `key` in `join` step"),
        "{e}"
    );
    let e = err(
        "application: a\ntables:\n  t: {topic: tt}\nstreams:\n  s:\n    from: s\n    steps:\n      - join: t\n        window: {difference: 1s}\n        value: value\n        store: j\n",
    );
    assert!(
        e.starts_with("f.yaml:8:15: `t` is a table: join a stream with a table with `lookup: t`"),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  r:\n    from: r\n    steps:\n      - select_key: value.id\n  s:\n    from: s\n    steps:\n      - join: r\n        window: {difference: 1s}\n        value: value\n        store: j\n",
    );
    assert!(
        e.starts_with("f.yaml:10:15: stream `r` changed its key"),
        "{e}"
    );
    let session = |extra: &str| {
        format!(
            "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - group_by_key: true\n        window: {{session: 5m}}\n      - aggregate: agg\n        initial: 0\n        update: aggregate + 1\n{extra}"
        )
    };
    let e = err(&session(""));
    assert!(
        e.starts_with("f.yaml:8:9: an aggregation of sessions needs `merger:`"),
        "{e}"
    );
    loaded(&session("        merger: aggregate + other\n"));
    let e = err(&grouped_with("        window: {tumbling: 1h}\n").replace(
        "      - count: c\n",
        "      - aggregate: c\n        initial: 0\n        update: aggregate + 1\n        merger: aggregate + other\n",
    ));
    assert!(
        e.starts_with("f.yaml:11:17: `merger` merges the aggregates of two sessions"),
        "{e}"
    );
}

#[test]
fn timestamp_mistakes_are_located() {
    let e =
        err("application: a\nstreams:\n  s:\n    from: t\n    timestamp: value.ts + timestmp\n");
    assert_eq!(
        e,
        "f.yaml:5:27: unknown variable `timestmp` in `timestamp`; did you mean `timestamp`?"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n  u:\n    stream: s\n    timestamp: value.ts\n",
    );
    assert!(
        e.starts_with("f.yaml:7:16: `timestamp` sets the time of a topic's records"),
        "{e}"
    );
    let e = err(
        "application: a\ntables:\n  g: {topic: g, global: true, timestamp: value.ts}\nstreams: {}\n",
    );
    assert!(
        e.starts_with("f.yaml:3:42: a global table is read in full"),
        "{e}"
    );
    // In steps, `timestamp` is not a variable.
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - filter: timestamp > 0\n",
    );
    assert!(
        e.starts_with("f.yaml:6:17: `timestamp` is not available to expressions of steps"),
        "{e}"
    );
}

#[test]
fn steps_that_need_plain_keys_say_how_to_get_them() {
    let windowed = |step: &str| {
        format!(
            "application: a\ntables:\n  t: {{topic: tt}}\nstreams:\n  s:\n    from: t2\n    steps:\n      - group_by_key: true\n        window: {{tumbling: 1h}}\n      - aggregate: agg\n        initial: 0\n        update: aggregate + 1\n      - {step}\n"
        )
    };
    let e = err(&windowed("lookup: t"));
    assert!(e.starts_with("f.yaml:13:9: `lookup` needs a stream of JSON keys and values; this stream's keys are windowed"), "{e}");
    let e = err(&windowed("group_by_key: true"));
    assert!(e.contains("keys are windowed"), "{e}");
    // A windowed count's values are i64s; grouping them takes JSON values.
    let e = err(
        &windowed("group_by: key.key\n        repartition: r").replace(
            "      - aggregate: agg\n        initial: 0\n        update: aggregate + 1\n",
            "      - count: agg\n",
        ),
    );
    assert!(e.contains("`i64` counts of a windowed `count`"), "{e}");
    // ...and a new key makes a plain stream again.
    loaded(&windowed(
        "group_by: key.key\n        repartition: r\n      - count: c2",
    ));
}

#[test]
fn a_bad_duration_in_a_file_names_the_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/definitions/bad-duration.yaml");
    let e = weir_engine::definition::load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}:8:28: invalid duration `1 hour`",
            path.display()
        )),
        "{e}"
    );
}
