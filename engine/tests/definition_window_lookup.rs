//! `lookup:` of a stream that ends in a windowed table (sliding or time windows) in definition
//! files: the DSL's `left_join_window`. The YAML and its Rust-DSL twin describe the same graph
//! and write the same records, which are also checked against results worked out by hand; a
//! lookup of a windowed table that is not `keep: left` is a load error at its position.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::definitions::{err, loaded};
use weir_engine::definition::Format;
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, SlidingWindows, StreamsBuilder, Topology,
};

const YAML: &str = r#"
application: window-lookup
streams:
  searches:
    from: searches
    key: string
    value: json
    steps:
      - group_by_key: true
        window: {sliding: 100ms, grace: 100ms}
  recent:
    stream: searches
    steps:
      - aggregate: recent-queries
        initial: []
        update: aggregate + [value.q]
  requests:
    from: requests
    key: string
    value: json
    steps:
      - lookup: recent
        keep: left
        value: '{"request": value.id, "recent": table}'
        name: lookup-recent
      - to: answers
"#;

/// The Rust twin of [`YAML`].
fn twin() -> Topology {
    let b = StreamsBuilder::new("window-lookup");
    let json_in = || Consumed::with(Serdes::string(), Serdes::json::<Value>());
    let recent = b
        .stream("searches", json_in())
        .group_by_key(Grouped::default())
        .windowed_by_sliding(SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(100),
            Duration::from_millis(100),
        ))
        .aggregate(
            || json!([]),
            |_, v: Value, agg: Value| {
                let mut list = agg.as_array().cloned().unwrap_or_default();
                list.push(v["q"].clone());
                Value::Array(list)
            },
            Materialized::as_("recent-queries").with_value_serde(Serdes::json()),
        );
    b.stream("requests", json_in())
        .left_join_window(
            &recent,
            |v: Value, t: Option<Value>| json!({"request": v["id"], "recent": t}),
        )
        .named("lookup-recent")
        .to("answers", Produced::with(Serdes::string(), Serdes::json()));
    b.build().unwrap()
}

fn run(t: Topology) -> Vec<(Value, Value, i64)> {
    let mut d = TopologyTestDriver::new(t).unwrap();
    let input = |d: &mut TopologyTestDriver, topic: &str, key: &str, v: Value, ts: i64| {
        d.input_topic(topic, Format::String.serde(), Format::Json.serde())
            .pipe_at(d, json!(key), v, ts)
            .unwrap();
    };
    input(&mut d, "requests", "a", json!({"id": "r1"}), 50);
    input(&mut d, "searches", "a", json!({"q": "lamp"}), 200);
    input(&mut d, "searches", "a", json!({"q": "kite"}), 230);
    input(&mut d, "requests", "a", json!({"id": "r2"}), 260);
    input(&mut d, "requests", "b", json!({"id": "r3"}), 260);
    input(&mut d, "requests", "a", json!({"id": "r4"}), 320);
    input(&mut d, "requests", "a", json!({"id": "r5"}), 420);
    d.output_topic("answers", Format::String.serde(), Format::Json.serde())
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap_or(Value::Null), r.timestamp))
        .collect()
}

#[test]
fn a_lookup_of_a_sliding_window_table_twins_the_dsl() {
    let l = loaded(YAML);
    assert_eq!(l.topology.describe(), twin().describe());
    let out = run(loaded(YAML).topology);
    assert_eq!(out, run(twin()));
    // d = 100, grace 100 (as dsl_window_lookup.rs):
    //   r1 a@50   no search yet                              → null
    //   lamp a@200, kite a@230: a@[100,200] = [lamp], a@[130,230] = [lamp, kite],
    //                           a@[201,301] = [kite]
    //   r2 a@260  windows ending in [160, 260]: the last is [130,230] → [lamp, kite]
    //   r3 b@260  none                                          → null
    //   r4 a@320  ending in [220, 320]: the last is [201,301]   → [kite]
    //   r5 a@420  ending in [320, 420]: none                    → null
    let a = |id: &str, recent: Value, ts: i64| {
        (json!("a"), json!({"request": id, "recent": recent}), ts)
    };
    assert_eq!(
        out,
        vec![
            a("r1", Value::Null, 50),
            a("r2", json!(["lamp", "kite"]), 260),
            (json!("b"), json!({"request": "r3", "recent": null}), 260),
            a("r4", json!(["kite"]), 320),
            a("r5", Value::Null, 420),
        ]
    );
}

#[test]
fn a_lookup_of_a_windowed_table_keeps_left() {
    let yaml = YAML.replace("        keep: left\n", "");
    let e = err(&yaml);
    assert!(e.contains("f.yaml:") && e.contains("keep: left"), "{e}");
}
