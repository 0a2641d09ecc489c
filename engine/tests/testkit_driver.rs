//! The test driver itself: unknown topics, topics the topology both writes and reads, output
//! bookkeeping, RocksDB-backed state and closing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsError,
};

fn s(x: &str) -> String {
    x.to_owned()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

#[test]
fn piping_into_a_topic_nothing_reads_is_an_error() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings()).to("out", Produced::default());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let nowhere = d.input_topic("nowhere", Serdes::string(), Serdes::string());
    let err = nowhere.pipe(&mut d, s("k"), s("v")).unwrap_err();
    assert!(
        matches!(&err, StreamsError::UnknownTopic(t) if t == "nowhere"),
        "{err:?}"
    );
}

#[test]
fn a_topic_the_topology_writes_and_reads_is_both_output_and_input() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .map_values(|v| format!("{v}1"))
        .to("mid", Produced::value_serde(Serdes::string()));
    b.stream("mid", strings())
        .map_values(|v| format!("{v}2"))
        .to("out", Produced::value_serde(Serdes::string()));
    let topology = b.build().unwrap();
    assert_eq!(topology.subtopologies().len(), 2);
    let mut d = TopologyTestDriver::new(topology).unwrap();
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe(&mut d, s("k"), s("v"))
        .unwrap();
    assert_eq!(d.output_topics(), vec![s("mid"), s("out")]);
    let read = |d: &mut TopologyTestDriver, t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_values(d)
            .unwrap()
    };
    assert_eq!(read(&mut d, "mid"), vec![s("v1")]);
    assert_eq!(read(&mut d, "out"), vec![s("v12")]);
    // Reading takes the records: a second read finds nothing.
    assert!(read(&mut d, "out").is_empty());
    assert!(d.output_topics().is_empty());
}

#[test]
fn stores_work_the_same_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let b = StreamsBuilder::new("app");
    let prices = b.global_table(
        "prices",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("prices-store"),
    );
    let orders = b.stream("orders", strings());
    orders
        .group_by_key(Grouped::default())
        .count(Materialized::as_("order-counts"));
    orders
        .join_global(
            &prices,
            |_, item| item.clone(),
            |item, price| format!("{item}={price}"),
        )
        .to("priced", Produced::value_serde(Serdes::string()));
    let config = DriverConfig {
        state_dir: Some(dir.path().to_owned()),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    d.input_topic("prices", Serdes::string(), Serdes::i64())
        .pipe(&mut d, s("pen"), 3)
        .unwrap();
    let orders_in = d.input_topic("orders", Serdes::string(), Serdes::string());
    orders_in.pipe(&mut d, s("o1"), s("pen")).unwrap();
    orders_in.pipe(&mut d, s("o1"), s("ink")).unwrap();
    assert_eq!(
        d.read_store::<String, i64>("order-counts").unwrap(),
        vec![(s("o1"), 2)]
    );
    assert_eq!(
        d.read_store::<String, i64>("prices-store").unwrap(),
        vec![(s("pen"), 3)]
    );
    let out = d
        .output_topic("priced", Serdes::string(), Serdes::string())
        .read_values(&mut d)
        .unwrap();
    assert_eq!(out, vec![s("pen=3")]);
    d.close().unwrap();
}

#[test]
fn a_global_lookup_cache_of_one_entry_still_sees_updates() {
    let b = StreamsBuilder::new("app");
    let names = b.global_table("names", strings(), Materialized::as_("names-store"));
    b.stream("ids", strings())
        .left_join_global(
            &names,
            |_, id| id.clone(),
            |id, n: Option<String>| format!("{id}:{}", n.unwrap_or_default()),
        )
        .to("out", Produced::value_serde(Serdes::string()));
    let config = DriverConfig {
        global_cache_entries: 1,
        global_mirror_bytes: 0,
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    let (names_in, ids) = (
        d.input_topic("names", Serdes::string(), Serdes::string()),
        d.input_topic("ids", Serdes::string(), Serdes::string()),
    );
    names_in.pipe(&mut d, s("1"), s("one")).unwrap();
    names_in.pipe(&mut d, s("2"), s("two")).unwrap();
    for id in ["1", "2", "1", "3"] {
        ids.pipe(&mut d, s("k"), s(id)).unwrap();
    }
    names_in.pipe(&mut d, s("1"), s("uno")).unwrap();
    ids.pipe(&mut d, s("k"), s("1")).unwrap();
    let out = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_values(&mut d)
        .unwrap();
    assert_eq!(
        out,
        vec![s("1:one"), s("2:two"), s("1:one"), s("3:"), s("1:uno")]
    );
}

#[test]
fn a_global_table_that_outgrows_its_mirror_is_read_from_the_store() {
    let b = StreamsBuilder::new("app");
    let names = b.global_table("names", strings(), Materialized::as_("names-store"));
    b.stream("ids", strings())
        .left_join_global(
            &names,
            |_, id| id.clone(),
            |id, n: Option<String>| format!("{id}:{}", n.unwrap_or_default()),
        )
        .to("out", Produced::value_serde(Serdes::string()));
    // Room for about two entries: the third write drops the mirror.
    let config = DriverConfig {
        global_mirror_bytes: 12,
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    let names_in = d.input_topic("names", Serdes::string(), Serdes::string());
    let ids = d.input_topic("ids", Serdes::string(), Serdes::string());
    let out = d.output_topic("out", Serdes::string(), Serdes::string());
    names_in.pipe(&mut d, "a".into(), "ann".into()).unwrap();
    ids.pipe(&mut d, "k".into(), "a".into()).unwrap();
    names_in.pipe(&mut d, "b".into(), "bob".into()).unwrap();
    names_in.pipe(&mut d, "c".into(), "cyd".into()).unwrap();
    names_in.pipe_tombstone(&mut d, "a".into()).unwrap();
    for id in ["a", "b", "c", "z"] {
        ids.pipe(&mut d, "k".into(), id.into()).unwrap();
    }
    assert_eq!(
        out.read_values(&mut d).unwrap(),
        vec!["a:ann", "a:", "b:bob", "c:cyd", "z:"]
    );
}

/// The driver's task stores have a worker's layers: every write goes to the store's changelog
/// (in memory here, `{application}-{store}-changelog` on a broker) and the cached writes are
/// committed into the store after each pipe call, with the changelog offset they reached — so a
/// store reopened from its directory holds what was committed, and the checkpoint says where.
#[test]
fn task_stores_log_every_write_and_commit_after_each_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let b = StreamsBuilder::new("app");
    b.stream("orders", strings())
        .group_by_key(Grouped::default())
        .count(Materialized::as_("order-counts"));
    let config = DriverConfig {
        state_dir: Some(dir.path().to_owned()),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    let orders = d.input_topic("orders", Serdes::string(), Serdes::string());
    for (k, v) in [("o1", "pen"), ("o2", "ink"), ("o1", "cap")] {
        orders.pipe(&mut d, s(k), s(v)).unwrap();
    }
    let log: Vec<(String, i64)> = d
        .changelog("order-counts")
        .into_iter()
        .map(|(k, v)| {
            let v: [u8; 8] = v.unwrap().try_into().unwrap();
            (String::from_utf8(k).unwrap(), i64::from_be_bytes(v))
        })
        .collect();
    assert_eq!(log, vec![(s("o1"), 1), (s("o2"), 1), (s("o1"), 2)]);
    d.close().unwrap();

    // What the driver committed is in RocksDB, with the changelog offset of the last write.
    let path = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path().join("order-counts"))
        .find(|p| p.is_dir())
        .unwrap();
    let store = weir_state::RocksDbStore::open("order-counts", &path, &Default::default()).unwrap();
    use weir_state::KeyValueStore as _;
    assert_eq!(store.committed_offsets().unwrap().get(&0), Some(&2));
    assert_eq!(
        store
            .get(b"o1")
            .unwrap()
            .map(|v| i64::from_be_bytes(v.try_into().unwrap())),
        Some(2)
    );
}
