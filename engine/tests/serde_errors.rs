//! Serde failures through the test driver: bad payloads come back as `Deserialize` /
//! `Serialize` errors naming the topic and the half of the record, never a panic, and the driver
//! keeps processing afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, ErrorKind, Grouped, KeyOrValue, Materialized, Produced, Serdes, StreamsBuilder,
    StreamsError,
};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    item: String,
    qty: i64,
}

fn order(item: &str, qty: i64) -> Order {
    Order {
        item: item.to_owned(),
        qty,
    }
}

fn s(x: &str) -> String {
    x.to_owned()
}

/// `orders` (JSON) → filter(qty > 0) → `valid`; and a count per key in `order-counts`.
fn orders_driver() -> TopologyTestDriver {
    let b = StreamsBuilder::new("app");
    let orders = b.stream(
        "orders",
        Consumed::with(Serdes::string(), Serdes::json::<Order>()),
    );
    orders
        .filter(|_, o| o.qty > 0)
        .to("valid", Produced::default());
    orders
        .group_by_key(Grouped::default())
        .count(Materialized::as_("order-counts"));
    TopologyTestDriver::new(b.build().unwrap()).unwrap()
}

#[test]
fn a_corrupt_json_value_is_a_deserialize_error_and_processing_continues() {
    let mut d = orders_driver();
    let orders = d.input_topic("orders", Serdes::string(), Serdes::json::<Order>());
    orders.pipe(&mut d, s("o1"), order("pen", 1)).unwrap();
    let err = orders
        .pipe_bytes(&mut d, Some(b"o2"), Some(b"{\"item\": \"ink\", "))
        .unwrap_err();
    match &err {
        StreamsError::Deserialize { topic, what, .. } => {
            assert_eq!(topic, "orders");
            assert_eq!(*what, KeyOrValue::Value);
        }
        other => panic!("expected Deserialize, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Record);
    assert!(
        err.to_string()
            .contains("cannot deserialize value from topic `orders`"),
        "{err}"
    );
    // Well-formed JSON of the wrong shape is as bad.
    let err = orders
        .pipe_bytes(&mut d, Some(b"o3"), Some(b"{\"item\": 1}"))
        .unwrap_err();
    assert!(matches!(err, StreamsError::Deserialize { .. }), "{err}");
    orders.pipe(&mut d, s("o4"), order("ink", 2)).unwrap();
    let out = d.output_topic("valid", Serdes::string(), Serdes::json::<Order>());
    assert_eq!(
        out.read_key_values(&mut d).unwrap(),
        vec![
            (s("o1"), Some(order("pen", 1))),
            (s("o4"), Some(order("ink", 2)))
        ]
    );
    // The bad records never reached the aggregation.
    assert_eq!(
        d.read_store::<String, i64>("order-counts").unwrap(),
        vec![(s("o1"), 1), (s("o4"), 1)]
    );
}

#[test]
fn an_invalid_utf8_key_is_a_key_deserialize_error() {
    let mut d = orders_driver();
    let orders = d.input_topic("orders", Serdes::string(), Serdes::json::<Order>());
    let err = orders
        .pipe_bytes(
            &mut d,
            Some(&[0xff, 0xfe]),
            Some(b"{\"item\":\"x\",\"qty\":1}"),
        )
        .unwrap_err();
    assert!(
        matches!(&err, StreamsError::Deserialize { topic, what: KeyOrValue::Key, .. } if topic == "orders"),
        "{err:?}"
    );
}

#[test]
fn a_record_with_a_null_key_is_skipped() {
    let mut d = orders_driver();
    let orders = d.input_topic("orders", Serdes::string(), Serdes::json::<Order>());
    orders
        .pipe_bytes(&mut d, None, Some(b"{\"item\":\"x\",\"qty\":1}"))
        .unwrap();
    assert!(d.output_topics().is_empty());
    assert!(
        d.read_store::<String, i64>("order-counts")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_corrupt_table_record_leaves_the_store_unchanged() {
    let b = StreamsBuilder::new("app");
    b.table(
        "limits",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("limits-store"),
    );
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let limits = d.input_topic("limits", Serdes::string(), Serdes::i64());
    limits.pipe(&mut d, s("a"), 5).unwrap();
    let err = limits
        .pipe_bytes(&mut d, Some(b"a"), Some(&[1, 2, 3]))
        .unwrap_err();
    assert!(
        err.to_string().contains("an i64 needs 8 bytes, got 3"),
        "{err}"
    );
    assert_eq!(
        d.read_store::<String, i64>("limits-store").unwrap(),
        vec![(s("a"), 5)]
    );
    limits.pipe(&mut d, s("a"), 6).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("limits-store").unwrap(),
        vec![(s("a"), 6)]
    );
}

#[test]
fn a_value_the_sink_cannot_serialize_is_a_serialize_error() {
    let b = StreamsBuilder::new("app");
    // JSON object keys must be strings: a map keyed by tuples does not serialize.
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| BTreeMap::from([((v.len() as i64, 0_i64), v)]))
        .to(
            "out",
            Produced::value_serde(Serdes::json::<BTreeMap<(i64, i64), String>>()),
        );
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    let err = input.pipe(&mut d, s("k"), s("v")).unwrap_err();
    assert!(
        matches!(&err, StreamsError::Serialize { topic, what: KeyOrValue::Value, .. } if topic == "out"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Record);
    assert!(d.output_topics().is_empty());
}

/// A global table is filled from its topic: a record its serdes cannot read is skipped and
/// counted, not stored (so it cannot fail later lookups), exactly as a worker's global thread does
/// (the topic is someone else's data; one bad record must not stop every task).
#[test]
fn a_corrupt_global_table_record_is_skipped_and_counted_as_in_a_worker() {
    let b = StreamsBuilder::new("app");
    let prices = b.global_table(
        "prices",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("prices-store"),
    );
    b.stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global(
            &prices,
            |_, item| item.clone(),
            |item, price: Option<i64>| format!("{item}:{price:?}"),
        )
        .to("priced", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let prices_in = d.input_topic("prices", Serdes::string(), Serdes::i64());
    prices_in
        .pipe_bytes(&mut d, Some(b"pen"), Some(b"oops"))
        .unwrap();
    assert_eq!(d.skipped_records(), 1);
    // Whatever happened to the bad record, orders for its key must still be processed.
    let orders = d.input_topic("orders", Serdes::string(), Serdes::string());
    orders.pipe(&mut d, s("o1"), s("pen")).unwrap();
    let out = d
        .output_topic("priced", Serdes::string(), Serdes::string())
        .read_values(&mut d)
        .unwrap();
    assert_eq!(out, vec![s("pen:None")]);
}
