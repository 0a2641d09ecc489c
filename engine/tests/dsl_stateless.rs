//! KStream's stateless operators run through the test driver: exact outputs, order, timestamps,
//! headers, serdes and tombstone handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, Headers, KStream, Produced, Record, Repartitioned, Serdes, StreamsBuilder,
};

fn s(x: &str) -> String {
    x.to_owned()
}

fn kv(k: &str, v: &str) -> (String, Option<String>) {
    (s(k), Some(s(v)))
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// A driver for a topology reading `in` (string/string) and wired by `wire`.
fn driver(wire: impl FnOnce(KStream<String, String>)) -> TopologyTestDriver {
    let b = StreamsBuilder::new("app");
    wire(b.stream("in", strings()));
    TopologyTestDriver::new(b.build().unwrap()).unwrap()
}

/// Pipes string records into `topic` at timestamps 0, 1, 2, ...
fn pipe(d: &mut TopologyTestDriver, topic: &str, records: &[(&str, &str)]) {
    let t = d.input_topic(topic, Serdes::string(), Serdes::string());
    for (i, (k, v)) in records.iter().enumerate() {
        t.pipe_at(d, s(k), s(v), i as i64).unwrap();
    }
}

fn read(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<String>)> {
    d.output_topic(topic, Serdes::string(), Serdes::string())
        .read_key_values(d)
        .unwrap()
}

#[test]
fn filter_keeps_matching_records_in_order() {
    let mut d = driver(|s| s.filter(|_, v| v.len() > 2).to("out", Produced::default()));
    pipe(
        &mut d,
        "in",
        &[
            ("a", "xx"),
            ("b", "long"),
            ("c", ""),
            ("d", "yes"),
            ("e", "no"),
        ],
    );
    assert_eq!(read(&mut d, "out"), vec![kv("b", "long"), kv("d", "yes")]);
}

#[test]
fn filter_not_drops_matching_records() {
    let mut d = driver(|s| {
        s.filter_not(|k, _| k.starts_with('x'))
            .to("out", Produced::default())
    });
    pipe(
        &mut d,
        "in",
        &[("x1", "a"), ("y1", "b"), ("x2", "c"), ("z", "d")],
    );
    assert_eq!(read(&mut d, "out"), vec![kv("y1", "b"), kv("z", "d")]);
}

#[test]
fn map_replaces_key_and_value_and_keeps_timestamps() {
    let mut d = driver(|s| {
        s.map(|k, v| (v.len() as i64, format!("{k}:{v}")))
            .to("out", Produced::with(Serdes::i64(), Serdes::string()));
    });
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_at(&mut d, s("a"), s("xyz"), 100).unwrap();
    input.pipe_at(&mut d, s("b"), s("q"), 50).unwrap();
    let out = d.output_topic("out", Serdes::i64(), Serdes::string());
    let got: Vec<(i64, Option<String>, i64)> = out
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![(3, Some(s("a:xyz")), 100), (1, Some(s("b:q")), 50)]
    );
}

#[test]
fn map_values_and_map_values_with_key() {
    let mut d = driver(|s| {
        s.map_values(|v| v.len() as i64)
            .to("lens", Produced::value_serde(Serdes::i64()));
        s.map_values_with_key(|k, v| format!("{k}={v}"))
            .to("pairs", Produced::value_serde(Serdes::string()));
    });
    pipe(&mut d, "in", &[("a", "one"), ("b", "three")]);
    let lens = d
        .output_topic("lens", Serdes::string(), Serdes::i64())
        .read_key_values(&mut d)
        .unwrap();
    assert_eq!(lens, vec![(s("a"), Some(3)), (s("b"), Some(5))]);
    assert_eq!(
        read(&mut d, "pairs"),
        vec![kv("a", "a=one"), kv("b", "b=three")]
    );
}

/// The crate-level example (engine/src/lib.rs) pipes `map_values` output into
/// `to(.., Produced::default())` and expects the string serde to be inherited.
#[test]
fn map_values_to_the_same_type_inherits_the_value_serde() {
    let b = StreamsBuilder::new("shout");
    b.stream("words", strings())
        .map_values(|w| w.to_uppercase())
        .to("loud", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(&mut d, "words", &[("k", "hi")]);
    assert_eq!(read(&mut d, "loud"), vec![kv("k", "HI")]);
}

#[test]
fn flat_map_emits_every_pair_in_order_with_the_input_timestamp() {
    let mut d = driver(|s| {
        s.flat_map(|k, v| {
            v.split_whitespace()
                .map(|w| (w.to_owned(), k.clone()))
                .collect::<Vec<_>>()
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    });
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_at(&mut d, s("doc1"), s("to be or"), 7).unwrap();
    input.pipe_at(&mut d, s("doc2"), s(""), 8).unwrap();
    input.pipe_at(&mut d, s("doc3"), s("not"), 9).unwrap();
    let out = d.output_topic("out", Serdes::string(), Serdes::string());
    let got: Vec<(String, String, i64)> = out
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("to"), s("doc1"), 7),
            (s("be"), s("doc1"), 7),
            (s("or"), s("doc1"), 7),
            (s("not"), s("doc3"), 9),
        ]
    );
}

#[test]
fn flat_map_values_keeps_the_key() {
    let mut d = driver(|s| {
        s.flat_map_values(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .to("out", Produced::value_serde(Serdes::string()));
    });
    pipe(&mut d, "in", &[("a", "1,2,3"), ("b", "4")]);
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("a", "1"), kv("a", "2"), kv("a", "3"), kv("b", "4")]
    );
}

#[test]
fn select_key_replaces_only_the_key() {
    let mut d = driver(|s| {
        s.select_key(|_, v| v.chars().next().map(String::from).unwrap_or_default())
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
    });
    pipe(
        &mut d,
        "in",
        &[("1", "apple"), ("2", "banana"), ("3", "avocado")],
    );
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("a", "apple"), kv("b", "banana"), kv("a", "avocado")]
    );
}

#[test]
fn peek_sees_each_record_and_passes_it_on_unchanged() {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let mut d = driver(move |s| {
        s.peek(move |k, v| log.lock().unwrap().push((k.clone(), v.clone())))
            .to("out", Produced::default());
    });
    pipe(&mut d, "in", &[("a", "1"), ("b", "2")]);
    // A tombstone is passed on without calling the action (it has no value to show).
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe_tombstone(&mut d, s("c"))
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(s("a"), s("1")), (s("b"), s("2"))]
    );
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("a", "1"), kv("b", "2"), (s("c"), None)]
    );
}

#[test]
fn foreach_is_terminal_and_writes_nothing() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let mut d = driver(move |s| s.foreach(move |k, v| log.lock().unwrap().push(format!("{k}{v}"))));
    pipe(&mut d, "in", &[("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(*seen.lock().unwrap(), vec![s("a1"), s("b2"), s("c3")]);
    assert!(d.output_topics().is_empty(), "{:?}", d.output_topics());
}

#[test]
fn split_sends_each_record_to_the_first_matching_branch_or_the_default() {
    let b = StreamsBuilder::new("app");
    let branches = b
        .stream("in", strings())
        .split("split-")
        .branch("a", |_, v| v.starts_with('a'))
        .branch("b", |_, v| v.contains('b'))
        .default_branch("other");
    assert_eq!(
        branches.keys().cloned().collect::<Vec<_>>(),
        vec![s("split-a"), s("split-b"), s("split-other")]
    );
    for (name, stream) in &branches {
        stream.to(&format!("out-{name}"), Produced::default());
    }
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    // "ab" matches both predicates: only the first branch gets it.
    pipe(
        &mut d,
        "in",
        &[
            ("1", "ab"),
            ("2", "xb"),
            ("3", "zz"),
            ("4", "a"),
            ("5", "b"),
        ],
    );
    // A tombstone matches no predicate: it goes to the default branch.
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe_tombstone(&mut d, s("6"))
        .unwrap();
    assert_eq!(
        read(&mut d, "out-split-a"),
        vec![kv("1", "ab"), kv("4", "a")]
    );
    assert_eq!(
        read(&mut d, "out-split-b"),
        vec![kv("2", "xb"), kv("5", "b")]
    );
    assert_eq!(
        read(&mut d, "out-split-other"),
        vec![kv("3", "zz"), (s("6"), None)]
    );
}

#[test]
fn split_sends_tombstones_to_the_first_branch_taking_them() {
    let b = StreamsBuilder::new("app");
    let branches = b
        .stream("in", strings())
        .split("split-")
        .branch("a", |_, v| v.starts_with('a'))
        .branch_with_tombstones("deleted", |_, v| v == "gone")
        .branch_with_tombstones("never", |_, _| true)
        .default_branch("other");
    for (name, stream) in &branches {
        stream.to(&format!("out-{name}"), Produced::default());
    }
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(&mut d, "in", &[("1", "ab"), ("2", "gone"), ("3", "zz")]);
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe_tombstone(&mut d, s("4"))
        .unwrap();
    assert_eq!(read(&mut d, "out-split-a"), vec![kv("1", "ab")]);
    // The tombstone skips every predicate (none sees a null value) and the default branch.
    assert_eq!(
        read(&mut d, "out-split-deleted"),
        vec![kv("2", "gone"), (s("4"), None)]
    );
    assert_eq!(read(&mut d, "out-split-never"), vec![kv("3", "zz")]);
    assert!(read(&mut d, "out-split-other").is_empty());
}

#[test]
fn split_without_default_branch_drops_unmatched_records() {
    let b = StreamsBuilder::new("app");
    let branches = b
        .stream("in", strings())
        .split("by-len-")
        .branch("short", |_, v| v.len() < 3)
        .branch("long", |_, v| v.len() > 5)
        .no_default_branch();
    assert_eq!(
        branches.keys().cloned().collect::<Vec<_>>(),
        vec![s("by-len-long"), s("by-len-short")]
    );
    branches["by-len-short"].to("short", Produced::default());
    branches["by-len-long"].to("long", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(
        &mut d,
        "in",
        &[("1", "ab"), ("2", "medium"), ("3", "four"), ("4", "x")],
    );
    assert_eq!(read(&mut d, "short"), vec![kv("1", "ab"), kv("4", "x")]);
    assert_eq!(read(&mut d, "long"), vec![kv("2", "medium")]);
    assert_eq!(
        d.output_topics(),
        Vec::<String>::new(),
        "`four` went somewhere"
    );
}

#[test]
fn merge_interleaves_both_streams_in_arrival_order() {
    let b = StreamsBuilder::new("app");
    let left = b.stream("left", strings());
    let right = b
        .stream("right", strings())
        .map_values(|v| v.to_uppercase());
    // The merged stream takes its serdes from whichever side knows them.
    right.merge(&left).to("out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (l, r) = (
        d.input_topic("left", Serdes::string(), Serdes::string()),
        d.input_topic("right", Serdes::string(), Serdes::string()),
    );
    l.pipe(&mut d, s("l"), s("a")).unwrap();
    r.pipe(&mut d, s("r"), s("b")).unwrap();
    l.pipe(&mut d, s("l"), s("c")).unwrap();
    r.pipe(&mut d, s("r"), s("d")).unwrap();
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("l", "a"), kv("r", "B"), kv("l", "c"), kv("r", "D")]
    );
}

#[test]
fn to_with_default_produced_inherits_the_source_serdes() {
    let b = StreamsBuilder::new("app");
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .filter(|_, v| *v > 0)
        .to("out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::i64());
    input.pipe(&mut d, s("k"), 258).unwrap();
    input.pipe(&mut d, s("k"), -1).unwrap();
    let raw = d.read_raw("out");
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].key.as_deref(), Some(&b"k"[..]));
    // Kafka's LongSerializer format: 8 bytes big-endian.
    assert_eq!(raw[0].value.as_deref(), Some(&[0, 0, 0, 0, 0, 0, 1, 2][..]));
}

#[test]
fn to_with_explicit_serdes_overrides_the_stream_serdes() {
    let mut d = driver(|s| {
        s.to("plain", Produced::default());
        s.to(
            "json",
            Produced::with(Serdes::string(), Serdes::json::<String>()),
        );
    });
    pipe(&mut d, "in", &[("k", "v")]);
    assert_eq!(d.read_raw("plain")[0].value.as_deref(), Some(&b"v"[..]));
    assert_eq!(d.read_raw("json")[0].value.as_deref(), Some(&b"\"v\""[..]));
}

#[test]
fn to_dynamic_picks_a_topic_per_record() {
    let mut d = driver(|s| {
        s.to_dynamic(|k, _| format!("events-{}", &k[..1]), Produced::default());
    });
    pipe(&mut d, "in", &[("a1", "x"), ("b1", "y"), ("a2", "z")]);
    assert_eq!(d.output_topics(), vec![s("events-a"), s("events-b")]);
    assert_eq!(read(&mut d, "events-a"), vec![kv("a1", "x"), kv("a2", "z")]);
    assert_eq!(read(&mut d, "events-b"), vec![kv("b1", "y")]);
}

#[test]
fn repartition_routes_records_through_an_internal_topic() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .select_key(|_, v| v.to_uppercase())
        .repartition(Repartitioned::as_("by-value").with(Serdes::string(), Serdes::string()))
        .to("out", Produced::default());
    let topology = b.build().unwrap();
    assert_eq!(
        topology.repartition_topics().collect::<Vec<_>>(),
        vec!["app-by-value-repartition"]
    );
    assert_eq!(topology.subtopologies().len(), 2);
    let mut d = TopologyTestDriver::new(topology).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    let headers = Headers::new().with("trace", "t1");
    let rec = Record {
        key: s("1"),
        value: Some(s("x")),
        timestamp: 42,
        headers: headers.clone(),
    };
    input.pipe_record(&mut d, rec).unwrap();
    input.pipe_at(&mut d, s("2"), s("y"), 43).unwrap();
    // The repartition topic is internal: only the final sink is visible.
    assert_eq!(d.output_topics(), vec![s("out")]);
    let got = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_records(&mut d)
        .unwrap();
    assert_eq!(
        got,
        vec![
            Record {
                key: s("X"),
                value: Some(s("x")),
                timestamp: 42,
                headers
            },
            Record::new(s("Y"), Some(s("y")), 43),
        ]
    );
    assert!(d.read_raw("app-by-value-repartition").is_empty());
}

#[test]
fn tombstones_pass_through_filter_and_map_values_to_the_sink() {
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let mut d = driver(move |s| {
        s.filter(move |_, _| {
            *c.lock().unwrap() += 1;
            true
        })
        .map_values(|v| v.len() as i64)
        .to("out", Produced::value_serde(Serdes::i64()));
    });
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe(&mut d, s("a"), s("abc")).unwrap();
    input.pipe_tombstone(&mut d, s("a")).unwrap();
    let out = d.output_topic("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        out.read_key_values(&mut d).unwrap(),
        vec![(s("a"), Some(3)), (s("a"), None)]
    );
    assert_eq!(*calls.lock().unwrap(), 1, "the predicate saw the tombstone");
    // The sink wrote a real null value, not an empty payload.
    input.pipe_tombstone(&mut d, s("b")).unwrap();
    let raw = d.read_raw("out");
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].value, None);
}

#[test]
fn key_changing_operators_drop_tombstones() {
    let mut d = driver(|s| {
        s.map(|k, v| (v, k))
            .to("mapped", Produced::with(Serdes::string(), Serdes::string()));
        s.select_key(|_, v| v.clone()).to(
            "rekeyed",
            Produced::with(Serdes::string(), Serdes::string()),
        );
        s.flat_map_values(|v| vec![v])
            .to("flat", Produced::value_serde(Serdes::string()));
    });
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_tombstone(&mut d, s("gone")).unwrap();
    input.pipe(&mut d, s("k"), s("v")).unwrap();
    assert_eq!(read(&mut d, "mapped"), vec![kv("v", "k")]);
    assert_eq!(read(&mut d, "rekeyed"), vec![kv("v", "v")]);
    // flat_map_values keeps the key, so the tombstone is passed on.
    assert_eq!(read(&mut d, "flat"), vec![(s("gone"), None), kv("k", "v")]);
}

#[test]
fn headers_and_timestamps_survive_stateless_operators() {
    let mut d = driver(|s| {
        s.filter(|_, _| true)
            .map_values(|v| format!("<{v}>"))
            .select_key(|k, _| format!("{k}!"))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
    });
    let headers = Headers::new().with("h", "1").with("h", "2");
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input
        .pipe_record(
            &mut d,
            Record {
                key: s("k"),
                value: Some(s("v")),
                timestamp: 99,
                headers: headers.clone(),
            },
        )
        .unwrap();
    let got = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_records(&mut d)
        .unwrap();
    assert_eq!(
        got,
        vec![Record {
            key: s("k!"),
            value: Some(s("<v>")),
            timestamp: 99,
            headers
        }]
    );
    assert_eq!(got[0].headers.last("h"), Some(&b"2"[..]));
}

#[test]
fn a_stream_can_feed_several_children() {
    let mut d = driver(|s| {
        s.to("copy1", Produced::default());
        s.map_values(|v| v.repeat(2))
            .to("copy2", Produced::value_serde(Serdes::string()));
    });
    pipe(&mut d, "in", &[("k", "ab")]);
    assert_eq!(read(&mut d, "copy1"), vec![kv("k", "ab")]);
    assert_eq!(read(&mut d, "copy2"), vec![kv("k", "abab")]);
}
