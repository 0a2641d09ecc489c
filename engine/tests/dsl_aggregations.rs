//! Grouping and aggregation through the test driver: group_by_key and group_by into count,
//! reduce and aggregate, their stores, their update streams and their repartition topics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder};

fn s(x: &str) -> String {
    x.to_owned()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn pipe(d: &mut TopologyTestDriver, topic: &str, records: &[(&str, &str)]) {
    let t = d.input_topic(topic, Serdes::string(), Serdes::string());
    for (k, v) in records {
        t.pipe(d, s(k), s(v)).unwrap();
    }
}

fn read_i64(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<i64>)> {
    d.output_topic(topic, Serdes::string(), Serdes::i64())
        .read_key_values(d)
        .unwrap()
}

#[test]
fn group_by_key_count_emits_running_counts_and_fills_the_store() {
    let b = StreamsBuilder::new("app");
    b.stream("words", strings())
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("word-counts", Produced::default());
    let topology = b.build().unwrap();
    // The key did not change: no repartition topic, one sub-topology.
    assert_eq!(topology.repartition_topics().count(), 0);
    assert_eq!(topology.subtopologies().len(), 1);
    let mut d = TopologyTestDriver::new(topology).unwrap();
    pipe(
        &mut d,
        "words",
        &[("a", "x"), ("b", "y"), ("a", "z"), ("a", "w")],
    );
    assert_eq!(
        read_i64(&mut d, "word-counts"),
        vec![
            (s("a"), Some(1)),
            (s("b"), Some(1)),
            (s("a"), Some(2)),
            (s("a"), Some(3))
        ]
    );
    assert_eq!(
        d.read_store::<String, i64>("counts").unwrap(),
        vec![(s("a"), 3), (s("b"), 1)]
    );
}

#[test]
fn aggregations_skip_tombstones() {
    let b = StreamsBuilder::new("app");
    b.stream("words", strings())
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("word-counts", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(&mut d, "words", &[("a", "x")]);
    d.input_topic("words", Serdes::string(), Serdes::string())
        .pipe_tombstone(&mut d, s("a"))
        .unwrap();
    pipe(&mut d, "words", &[("a", "y")]);
    assert_eq!(
        read_i64(&mut d, "word-counts"),
        vec![(s("a"), Some(1)), (s("a"), Some(2))]
    );
    assert_eq!(
        d.read_store::<String, i64>("counts").unwrap(),
        vec![(s("a"), 2)]
    );
}

#[test]
fn group_by_key_reduce_keeps_a_running_total_with_input_timestamps() {
    let b = StreamsBuilder::new("app");
    b.stream("purchases", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key(Grouped::default())
        .reduce(|total, amount| total + amount, Materialized::as_("totals"))
        .to_stream()
        .to("totals-out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let purchases = d.input_topic("purchases", Serdes::string(), Serdes::i64());
    for (i, (user, amount)) in [("u1", 10), ("u2", 5), ("u1", 7), ("u1", -2)]
        .into_iter()
        .enumerate()
    {
        purchases
            .pipe_at(&mut d, s(user), amount, 1000 + i as i64)
            .unwrap();
    }
    let out = d.output_topic("totals-out", Serdes::string(), Serdes::i64());
    let got: Vec<(String, Option<i64>, i64)> = out
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("u1"), Some(10), 1000),
            (s("u2"), Some(5), 1001),
            (s("u1"), Some(17), 1002),
            (s("u1"), Some(15), 1003),
        ]
    );
    let totals = d.key_value_store::<String, i64>("totals").unwrap();
    assert_eq!(totals.get(&s("u1")).unwrap(), Some(15));
    assert_eq!(totals.get(&s("u2")).unwrap(), Some(5));
    assert_eq!(totals.get(&s("u3")).unwrap(), None);
}

#[test]
fn aggregate_folds_values_from_the_initializer() {
    let b = StreamsBuilder::new("app");
    b.stream("events", strings())
        .group_by_key(Grouped::default())
        .aggregate(
            Vec::<String>::new,
            |key, v, mut agg| {
                agg.push(format!("{key}:{v}"));
                agg
            },
            Materialized::as_("history").with_value_serde(Serdes::json::<Vec<String>>()),
        )
        .to_stream()
        .map_values(|h| h.len() as i64)
        .to("sizes", Produced::value_serde(Serdes::i64()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(&mut d, "events", &[("a", "1"), ("b", "2"), ("a", "3")]);
    assert_eq!(
        read_i64(&mut d, "sizes"),
        vec![(s("a"), Some(1)), (s("b"), Some(1)), (s("a"), Some(2))]
    );
    assert_eq!(
        d.read_store::<String, Vec<String>>("history").unwrap(),
        vec![(s("a"), vec![s("a:1"), s("a:3")]), (s("b"), vec![s("b:2")])]
    );
}

#[test]
fn group_by_repartitions_by_the_new_key_through_an_internal_topic() {
    let b = StreamsBuilder::new("app");
    // `clicks`: user → page; count clicks per page.
    b.stream("clicks", strings())
        .group_by(
            |_, page| page.clone(),
            Grouped::as_("by-page").with_key_serde(Serdes::string()),
        )
        .count(Materialized::as_("page-counts"))
        .to_stream()
        .to("page-counts-out", Produced::default());
    let topology = b.build().unwrap();
    assert_eq!(
        topology.repartition_topics().collect::<Vec<_>>(),
        vec!["app-by-page-repartition"]
    );
    assert_eq!(topology.subtopologies().len(), 2);
    let mut d = TopologyTestDriver::new(topology).unwrap();
    pipe(
        &mut d,
        "clicks",
        &[
            ("u1", "home"),
            ("u2", "home"),
            ("u1", "cart"),
            ("u3", "home"),
        ],
    );
    assert_eq!(d.output_topics(), vec![s("page-counts-out")]);
    assert_eq!(
        read_i64(&mut d, "page-counts-out"),
        vec![
            (s("home"), Some(1)),
            (s("home"), Some(2)),
            (s("cart"), Some(1)),
            (s("home"), Some(3))
        ]
    );
    assert_eq!(
        d.read_store::<String, i64>("page-counts").unwrap(),
        vec![(s("cart"), 1), (s("home"), 3)]
    );
}

#[test]
fn group_by_key_after_a_map_repartitions_through_the_named_topic() {
    let b = StreamsBuilder::new("app");
    b.stream("clicks", strings())
        .map(|user, page| (page, user))
        .group_by_key(Grouped::as_("rekeyed").with(Serdes::string(), Serdes::string()))
        .reduce(|a, b| format!("{a},{b}"), Materialized::as_("visitors"))
        .to_stream()
        .to("visitors-out", Produced::default());
    let topology = b.build().unwrap();
    assert_eq!(
        topology.repartition_topics().collect::<Vec<_>>(),
        vec!["app-rekeyed-repartition"]
    );
    let mut d = TopologyTestDriver::new(topology).unwrap();
    pipe(
        &mut d,
        "clicks",
        &[("u1", "home"), ("u2", "home"), ("u3", "cart")],
    );
    assert_eq!(
        d.read_store::<String, String>("visitors").unwrap(),
        vec![(s("cart"), s("u3")), (s("home"), s("u1,u2"))]
    );
}

#[test]
fn two_aggregations_of_one_grouped_stream_share_its_repartition_topic() {
    let b = StreamsBuilder::new("app");
    let grouped = b.stream("clicks", strings()).group_by(
        |_, page| page.clone(),
        Grouped::as_("by-page").with_key_serde(Serdes::string()),
    );
    grouped
        .count(Materialized::as_("page-counts"))
        .to_stream()
        .to("counts", Produced::default());
    grouped
        .reduce(|_, latest| latest, Materialized::as_("page-latest"))
        .to_stream()
        .to("latest", Produced::default());
    let topology = b.build().unwrap();
    assert_eq!(topology.repartition_topics().count(), 1);
    let describe = topology.describe();
    assert_eq!(
        describe.matches("by-page-repartition-sink").count(),
        2,
        "{describe}"
    ); // node + its `-->`
    let mut d = TopologyTestDriver::new(topology).unwrap();
    pipe(
        &mut d,
        "clicks",
        &[("u1", "home"), ("u2", "cart"), ("u3", "home")],
    );
    // Each record reaches each aggregation exactly once.
    assert_eq!(
        d.read_store::<String, i64>("page-counts").unwrap(),
        vec![(s("cart"), 1), (s("home"), 2)]
    );
    assert_eq!(
        d.read_store::<String, String>("page-latest").unwrap(),
        vec![(s("cart"), s("cart")), (s("home"), s("home"))]
    );
    assert_eq!(
        read_i64(&mut d, "counts"),
        vec![
            (s("home"), Some(1)),
            (s("cart"), Some(1)),
            (s("home"), Some(2))
        ]
    );
    let latest = d
        .output_topic("latest", Serdes::string(), Serdes::string())
        .read_values(&mut d)
        .unwrap();
    assert_eq!(latest, vec![s("home"), s("cart"), s("home")]);
}

#[test]
fn an_aggregate_table_can_be_joined_by_a_stream() {
    let b = StreamsBuilder::new("app");
    let counts = b
        .stream("logins", strings())
        .group_by_key(Grouped::default())
        .count(Materialized::as_("login-counts"));
    b.stream("requests", strings())
        .join(&counts, |req, n| format!("{req} after {n} logins"))
        .to("out", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    pipe(&mut d, "logins", &[("u1", "-"), ("u1", "-")]);
    pipe(&mut d, "requests", &[("u1", "GET /"), ("u2", "GET /")]);
    let out = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_key_values(&mut d)
        .unwrap();
    assert_eq!(out, vec![(s("u1"), Some(s("GET / after 2 logins")))]);
}
