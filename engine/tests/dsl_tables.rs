//! KTable through the test driver: a table from a topic (updates, tombstone deletes, store
//! contents), filter, map_values, materialize and to_stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{Consumed, KTable, Materialized, Produced, Serdes, StreamsBuilder};

fn s(x: &str) -> String {
    x.to_owned()
}

fn kv(k: &str, v: &str) -> (String, Option<String>) {
    (s(k), Some(s(v)))
}

fn users_table(b: &StreamsBuilder) -> KTable<String, String> {
    b.table(
        "users",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("users-store"),
    )
}

fn amounts_table(b: &StreamsBuilder) -> KTable<String, i64> {
    b.table(
        "amounts",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("amounts-store"),
    )
}

fn read(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<String>)> {
    d.output_topic(topic, Serdes::string(), Serdes::string())
        .read_key_values(d)
        .unwrap()
}

fn read_i64(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<i64>)> {
    d.output_topic(topic, Serdes::string(), Serdes::i64())
        .read_key_values(d)
        .unwrap()
}

#[test]
fn a_table_keeps_the_latest_value_per_key_and_tombstones_delete() {
    let b = StreamsBuilder::new("app");
    let table = users_table(&b);
    assert_eq!(table.store_name(), Some("users-store"));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let users = d.input_topic("users", Serdes::string(), Serdes::string());
    users.pipe(&mut d, s("u1"), s("ann")).unwrap();
    users.pipe(&mut d, s("u2"), s("bob")).unwrap();
    users.pipe(&mut d, s("u1"), s("anna")).unwrap();
    assert_eq!(
        d.read_store::<String, String>("users-store").unwrap(),
        vec![(s("u1"), s("anna")), (s("u2"), s("bob"))]
    );
    users.pipe_tombstone(&mut d, s("u1")).unwrap();
    let store = d.key_value_store::<String, String>("users-store").unwrap();
    assert_eq!(store.get(&s("u1")).unwrap(), None);
    assert_eq!(store.get(&s("u2")).unwrap(), Some(s("bob")));
    assert_eq!(store.all().unwrap(), vec![(s("u2"), s("bob"))]);
    // Asking for the store with other types is an error, not garbage.
    assert!(d.key_value_store::<String, i64>("users-store").is_err());
    assert!(
        d.key_value_store::<String, String>("no-such-store")
            .is_err()
    );
}

#[test]
fn to_stream_emits_every_update_and_deletes_as_tombstones() {
    let b = StreamsBuilder::new("app");
    users_table(&b)
        .to_stream()
        .to("changes", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let users = d.input_topic("users", Serdes::string(), Serdes::string());
    users.pipe_at(&mut d, s("u1"), s("ann"), 10).unwrap();
    users.pipe_at(&mut d, s("u2"), s("bob"), 11).unwrap();
    users.pipe_at(&mut d, s("u1"), s("anna"), 12).unwrap();
    users.pipe_tombstone(&mut d, s("u1")).unwrap();
    // Deleting a key that is not in the table changes nothing and emits nothing.
    users.pipe_tombstone(&mut d, s("nobody")).unwrap();
    let out = d.output_topic("changes", Serdes::string(), Serdes::string());
    let got: Vec<(String, Option<String>, i64)> = out
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("u1"), Some(s("ann")), 10),
            (s("u2"), Some(s("bob")), 11),
            (s("u1"), Some(s("anna")), 12),
            (s("u1"), None, 0),
        ]
    );
}

#[test]
fn table_filter_turns_a_row_that_stops_matching_into_a_tombstone() {
    let b = StreamsBuilder::new("app");
    amounts_table(&b)
        .filter(|_, v| *v >= 10)
        .to_stream()
        .to("big", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let amounts = d.input_topic("amounts", Serdes::string(), Serdes::i64());
    for (k, v) in [
        ("a", 5),
        ("a", 15),
        ("a", 20),
        ("a", 3),
        ("a", 1),
        ("b", 50),
    ] {
        amounts.pipe(&mut d, s(k), v).unwrap();
    }
    amounts.pipe_tombstone(&mut d, s("b")).unwrap();
    // A row that never matched produces nothing when it is deleted.
    amounts.pipe_tombstone(&mut d, s("a")).unwrap();
    assert_eq!(
        read_i64(&mut d, "big"),
        vec![
            (s("a"), Some(15)),
            (s("a"), Some(20)),
            (s("a"), None),
            (s("b"), Some(50)),
            (s("b"), None),
        ]
    );
}

#[test]
fn table_filter_not_drops_matching_rows() {
    let b = StreamsBuilder::new("app");
    users_table(&b)
        .filter_not(|k, _| k.starts_with("bot"))
        .to_stream()
        .to("humans", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let users = d.input_topic("users", Serdes::string(), Serdes::string());
    users.pipe(&mut d, s("bot1"), s("x")).unwrap();
    users.pipe(&mut d, s("u1"), s("ann")).unwrap();
    users.pipe_tombstone(&mut d, s("bot1")).unwrap();
    assert_eq!(read(&mut d, "humans"), vec![kv("u1", "ann")]);
}

#[test]
fn table_map_values_maps_updates_and_passes_deletes() {
    let b = StreamsBuilder::new("app");
    users_table(&b)
        .map_values(|v| v.len() as i64)
        .to_stream()
        .to("lengths", Produced::value_serde(Serdes::i64()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let users = d.input_topic("users", Serdes::string(), Serdes::string());
    users.pipe(&mut d, s("u1"), s("ann")).unwrap();
    users.pipe(&mut d, s("u1"), s("annabel")).unwrap();
    users.pipe_tombstone(&mut d, s("u1")).unwrap();
    assert_eq!(
        read_i64(&mut d, "lengths"),
        vec![(s("u1"), Some(3)), (s("u1"), Some(7)), (s("u1"), None)]
    );
}

#[test]
fn materialize_stores_a_derived_table() {
    let b = StreamsBuilder::new("app");
    let lengths = users_table(&b)
        .map_values(|v| v.len() as i64)
        .materialize(Materialized::as_("lengths").with_value_serde(Serdes::i64()));
    assert_eq!(lengths.store_name(), Some("lengths"));
    // A materialized table knows its serdes: the sink needs none.
    lengths.to_stream().to("lengths-out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let users = d.input_topic("users", Serdes::string(), Serdes::string());
    users.pipe(&mut d, s("u1"), s("ann")).unwrap();
    users.pipe(&mut d, s("u2"), s("bo")).unwrap();
    users.pipe(&mut d, s("u1"), s("anna")).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("lengths").unwrap(),
        vec![(s("u1"), 4), (s("u2"), 2)]
    );
    users.pipe_tombstone(&mut d, s("u2")).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("lengths").unwrap(),
        vec![(s("u1"), 4)]
    );
    assert_eq!(
        read_i64(&mut d, "lengths-out"),
        vec![
            (s("u1"), Some(3)),
            (s("u2"), Some(2)),
            (s("u1"), Some(4)),
            (s("u2"), None)
        ]
    );
}

#[test]
fn a_materialized_filter_removes_rows_that_stop_matching() {
    let b = StreamsBuilder::new("app");
    amounts_table(&b)
        .filter(|_, v| *v > 0)
        .materialize(Materialized::as_("positive"));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let amounts = d.input_topic("amounts", Serdes::string(), Serdes::i64());
    amounts.pipe(&mut d, s("a"), 1).unwrap();
    amounts.pipe(&mut d, s("b"), 2).unwrap();
    amounts.pipe(&mut d, s("c"), -3).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("positive").unwrap(),
        vec![(s("a"), 1), (s("b"), 2)]
    );
    amounts.pipe(&mut d, s("a"), -1).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("positive").unwrap(),
        vec![(s("b"), 2)]
    );
    // The source store keeps every row.
    assert_eq!(
        d.read_store::<String, i64>("amounts-store").unwrap(),
        vec![(s("a"), -1), (s("b"), 2), (s("c"), -3)]
    );
}
