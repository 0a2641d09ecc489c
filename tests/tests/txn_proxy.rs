//! [`TxnProxy`] on tansu: librdkafka's `read_committed` consumer, through the proxy, sees
//! exactly the records of committed transactions and of a non-transactional producer, in
//! offset order, and nothing of an aborted or a still-open transaction; with the proxy copying
//! bytes unchanged (tansu's own answers) the same consumer sees the aborted records too — so the
//! proxy is what filters, and the test can fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use weir_tests::{
    Broker, ConsumeOpts, Consumed, TransactionalProducer, TxnProxy, consume_all,
    consume_all_librdkafka, create_topic, free_port, murmur2_partition, produce, unique_name,
};

const PARTITIONS: usize = 3;

fn kv(k: &str, v: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (Some(k.as_bytes().to_vec()), Some(v.as_bytes().to_vec()))
}

/// `n` records `{tag}-{i}` keyed `k{i}` (keys spread over every partition).
fn records(tag: &str, n: usize) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> {
    (0..n)
        .map(|i| kv(&format!("k{i}"), &format!("{tag}-{i}")))
        .collect()
}

fn values(rs: &[Consumed]) -> Vec<String> {
    let mut v: Vec<String> = rs.iter().filter_map(Consumed::value_str).collect();
    v.sort();
    v
}

/// Per partition, the offsets in the order received.
fn offsets(rs: &[Consumed]) -> BTreeMap<i32, Vec<i64>> {
    let mut out: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in rs {
        out.entry(r.partition).or_default().push(r.offset);
    }
    out
}

#[test]
fn librdkafka_read_committed_through_the_proxy_sees_committed_and_plain_records_only() {
    let port = free_port();
    let broker = Broker::start_advertising(port);
    let proxy = TxnProxy::start(port, broker.port()).unwrap();
    let b = proxy.address();
    let topic = unique_name("txn-proxy");
    create_topic(&b, &topic, PARTITIONS as i32, false);
    let mut txn = TransactionalProducer::new(&b, &unique_name("txn-producer"));
    let plain = |tag: &str| produce(&b, &topic, records(tag, 6));

    // Each transaction's records are on the broker (flushed) before the non-transactional ones
    // interleave, and before the transaction ends.
    txn.begin();
    txn.send(&topic, records("committed-1", 12));
    txn.flush();
    plain("plain-1");
    txn.commit();
    txn.begin();
    txn.send(&topic, records("aborted", 12));
    txn.flush();
    plain("plain-2");
    txn.abort();
    txn.begin();
    txn.send(&topic, records("committed-2", 12));
    txn.flush();
    plain("plain-3");
    txn.commit();
    // Still open at the end: hidden, and so is every record after it in its partitions (the
    // last stable offset), here plain-4's records there.
    txn.begin();
    txn.send(&topic, [kv("k0", "open-0")]);
    txn.flush();
    plain("plain-4");
    let open_partition = murmur2_partition(b"k0", PARTITIONS);

    let mut expected: Vec<String> = [
        "committed-1",
        "committed-2",
        "plain-1",
        "plain-2",
        "plain-3",
    ]
    .iter()
    .flat_map(|tag| {
        let n = if tag.starts_with("plain") { 6 } else { 12 };
        (0..n).map(move |i| format!("{tag}-{i}"))
    })
    .collect();
    expected.extend(
        (0..6)
            .filter(|i| murmur2_partition(format!("k{i}").as_bytes(), PARTITIONS) != open_partition)
            .map(|i| format!("plain-4-{i}")),
    );
    expected.sort();

    let opts = ConsumeOpts::until_idle(Duration::from_secs(3)).read_committed();
    let through = consume_all_librdkafka(&b, &topic, opts.clone());
    assert_eq!(
        values(&through),
        expected,
        "librdkafka read_committed through the proxy"
    );
    for (p, os) in offsets(&through) {
        assert!(os.windows(2).all(|w| w[0] < w[1]), "partition {p}: {os:?}");
    }
    // The harness's own read-committed reader agrees.
    assert_eq!(values(&consume_all(&b, &topic, opts.clone())), expected);
    let stats = proxy.stats();
    eprintln!("through the proxy: {stats:?}");
    assert!(stats.all_decoded(), "{stats:?}");
    assert_eq!(stats.index_errors, 0, "{stats:?}");
    assert!(
        stats.fetch_capped > 0 && stats.fetch_committed > 0,
        "{stats:?}"
    );
    assert!(stats.aborted_listed > 0, "{stats:?}");
    let txns: BTreeSet<(i32, u64, usize)> = proxy
        .transactions()
        .into_iter()
        .filter(|(t, ..)| *t == topic)
        .map(|(_, p, c, a)| (p, c, a))
        .collect();
    assert_eq!(txns.len(), PARTITIONS, "every partition indexed: {txns:?}");
    assert!(txns.iter().all(|(_, c, a)| *c == 2 && *a == 1), "{txns:?}");

    // tansu's own answers: the same, plus every aborted record (tansu stops at the last stable
    // offset itself, so the open transaction stays hidden).
    proxy.set_filtering(false);
    let raw = consume_all_librdkafka(&b, &topic, opts.clone());
    let mut with_aborted = expected.clone();
    with_aborted.extend((0..12).map(|i| format!("aborted-{i}")));
    with_aborted.sort();
    assert_eq!(
        values(&raw),
        with_aborted,
        "tansu's own read_committed answers (has tansu started listing aborted transactions?)"
    );

    // Once the open transaction commits, its record and what followed it show through the proxy.
    proxy.set_filtering(true);
    txn.commit();
    let mut after = expected.clone();
    after.push("open-0".into());
    after.extend(
        (0..6)
            .filter(|i| murmur2_partition(format!("k{i}").as_bytes(), PARTITIONS) == open_partition)
            .map(|i| format!("plain-4-{i}")),
    );
    after.sort();
    let through = consume_all_librdkafka(&b, &topic, opts);
    assert_eq!(values(&through), after, "after the last commit");
    assert!(proxy.stats().all_decoded(), "{:?}", proxy.stats());
}
