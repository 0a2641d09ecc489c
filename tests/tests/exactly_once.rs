//! Exactly-once (`exactly_once_v2`) through a crash on tansu: a worker SIGKILLed while a
//! transaction is open (outputs written, not committed) and restarted on the same state
//! directory — so with the same transactional id, which fences and aborts the open transaction —
//! shows every result exactly once to read-committed consumers.
//!
//! Read-committed views come from the harness's own Fetch client ([`TopicTail::committed`]):
//! tansu 0.6 does not filter aborted transactions for librdkafka's read-committed consumers.
//! The stateful test runs its workers through a [`TxnProxy`], which makes tansu's fetch
//! responses list aborted transactions as Kafka's do: weir's restore and repartition consumers
//! are librdkafka read-committed consumers, and without it they read the aborted writes back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_tests::{
    Broker, ConsumeOpts, Consumed, TopicTail, TxnProxy, WorkerArgs, WorkerProcess,
    consume_all_librdkafka, create_topic, free_port, produce, temp_state_dir, unique_name,
};
use weir_topologies::model::{Interests, Product, Search};
use weir_topologies::{product_filter, user_interests};

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Polls `tail` (read-committed) until some, not all, of `total` results are committed and a
/// transaction is open with more (written, not committed); panics after `timeout`.
fn wait_for_open_transaction(
    tail: &mut TopicTail,
    total: usize,
    timeout: Duration,
    worker: &WorkerProcess,
) {
    let deadline = Instant::now() + timeout;
    loop {
        tail.poll(Duration::from_millis(100));
        let committed = tail.len();
        if committed > 0 && committed < total && !tail.txn_view().open.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline && committed < total,
            "no open transaction after some committed output on `{}` within {timeout:?} \
             ({committed} of {total} committed)\n{}",
            tail.topic(),
            worker.log_tail(30)
        );
    }
}

/// Produces `records` in waves of `wave` every `every`, on a thread; sets the flag when done.
fn produce_in_waves(
    bootstrap: String,
    topic: &'static str,
    records: Vec<Record>,
    wave: usize,
    every: Duration,
) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let handle = std::thread::spawn(move || {
        for chunk in records.chunks(wave) {
            produce(&bootstrap, topic, chunk.to_vec());
            std::thread::sleep(every);
        }
        flag.store(true, Ordering::Release);
    });
    (handle, done)
}

fn i64_value(r: &Consumed) -> i64 {
    let v = r.value.as_deref().expect("a count, not a tombstone");
    i64::from_be_bytes(
        v.try_into()
            .unwrap_or_else(|_| panic!("an 8-byte big-endian count, got {v:?}")),
    )
}

/// Per key, the values in order (read-committed tails are per partition in offset order, and a
/// key stays in one partition).
fn by_key<T>(records: &[Consumed], value: impl Fn(&Consumed) -> T) -> BTreeMap<String, Vec<T>> {
    let mut out: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for r in records {
        out.entry(r.key_str().unwrap()).or_default().push(value(r));
    }
    out
}

/// What the internal topics hold after the run, by transactional fate, and what librdkafka's
/// read-committed consumer (as in weir's restore and repartition consumers) makes of them on
/// this broker.
fn internal_topics_report(bootstrap: &str, app: &str) -> String {
    let mut report = String::new();
    let repartition = format!("{app}-searches-by-user-repartition");
    let changelog = format!("{app}-{}-changelog", user_interests::COUNT_STORE);
    for topic in [&repartition, &changelog] {
        let mut tail = TopicTail::committed(bootstrap, topic);
        tail.wait_idle(Duration::from_secs(1), Duration::from_secs(20));
        let view = tail.txn_view();
        let librdkafka = consume_all_librdkafka(
            bootstrap,
            topic,
            ConsumeOpts::until_idle(Duration::from_secs(1)).read_committed(),
        );
        let _ = writeln!(
            report,
            "`{topic}`: {} committed, {} aborted, {} open records; librdkafka read_committed \
             consumer sees {} records",
            view.visible.len(),
            view.aborted.len(),
            view.open.len(),
            librdkafka.len()
        );
        if topic == &repartition {
            let aborted_per_user = by_key(&view.aborted, |_| ());
            let _ = writeln!(
                report,
                "  aborted repartition records per user: {:?}",
                aborted_per_user
                    .iter()
                    .map(|(u, v)| (u.as_str(), v.len()))
                    .collect::<BTreeMap<_, _>>()
            );
        } else {
            let aborted_per_user = by_key(&view.aborted, i64_value);
            let _ = writeln!(
                report,
                "  aborted changelog values per user: {aborted_per_user:?}"
            );
            let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
            for r in &view.aborted {
                offsets.entry(r.partition).or_default().push(r.offset);
            }
            let ranges: BTreeMap<i32, (i64, i64, usize)> = offsets
                .iter()
                .map(|(p, os)| (*p, (os[0], os[os.len() - 1], os.len())))
                .collect();
            let _ = writeln!(
                report,
                "  aborted changelog records per partition (first offset, last offset, count): \
                 {ranges:?}"
            );
        }
    }
    report
}

/// user-interests (repartition topic, two changelogged stores) under exactly_once_v2, SIGKILLed
/// inside an open transaction and restarted: every user's committed counts are 1, 2, ..., n.
///
/// Everything goes through a [`TxnProxy`]: tansu alone never lists aborted transactions in its
/// fetch responses, so the restarted worker's restore consumer reads the aborted transaction's
/// changelog writes back into its stores (counts skip ahead, 10 -> 16: the ignored variant
/// below). Its repartition consumer, read-committed librdkafka too, would count aborted
/// repartition records again had the aborted transaction held any.
#[test]
fn user_interests_counts_each_search_exactly_once_across_a_sigkill() {
    if let Err(e) = user_interests_across_a_sigkill(true) {
        panic!("{e}");
    }
}

/// The same run on tansu's own answers (the proxy copying bytes unchanged): the counts are not
/// exact. Shows why the proxy is needed, and fails once tansu lists aborted transactions itself.
#[test]
#[ignore = "documents tansu's gap that TxnProxy closes (~25 s): run with --include-ignored"]
fn user_interests_on_bare_tansu_counts_aborted_work_again() {
    let e = user_interests_across_a_sigkill(false).expect_err(
        "exact counts on tansu's own fetch answers: has tansu started listing aborted transactions?",
    );
    eprintln!("as expected on bare tansu: {e}");
}

/// The run behind both tests above; `Err` describes counts that are not exactly 1..=n.
fn user_interests_across_a_sigkill(filter: bool) -> Result<(), String> {
    let t0 = Instant::now();
    let port = free_port();
    let broker = Broker::start_advertising(port);
    let proxy = TxnProxy::start(port, broker.port()).unwrap();
    proxy.set_filtering(filter);
    let bootstrap = proxy.address();
    for topic in [
        user_interests::INPUT,
        user_interests::COUNTS,
        user_interests::INTERESTS,
    ] {
        create_topic(&bootstrap, topic, 3, false);
    }

    // 12 users, 30 + u searches each (426), interleaved, keyed by search id.
    let users: BTreeMap<String, usize> =
        (0..12).map(|u| (format!("user-{u:02}"), 30 + u)).collect();
    let mut input: Vec<Record> = Vec::new();
    for round in 0..users.values().copied().max().unwrap() {
        for (u, &n) in &users {
            if round < n {
                let s = Search {
                    user_id: u.clone(),
                    query: format!("q{round}"),
                    product_id: format!("p-{}", round % 13),
                    category: ["toys", "books", "garden"][round % 3].into(),
                    ts: 1_700_000_000_000 + round as i64,
                };
                input.push((
                    Some(format!("search-{u}-{round}").into_bytes()),
                    Some(serde_json::to_vec(&s).unwrap()),
                ));
            }
        }
    }
    let total = input.len();

    let state = temp_state_dir();
    let app = unique_name("ui-eos");
    // A 2 s commit interval: a transaction stays open long enough for the kill to land in it.
    let args = WorkerArgs::new("user-interests", &bootstrap, &app, state.path())
        .exactly_once()
        .commit_interval_ms(2000);
    let mut w = WorkerProcess::start(WORKER, "ui-eos-1", &args);
    // ~7 s of input: 30 searches every 500 ms.
    let (producer, produced) = produce_in_waves(
        bootstrap.clone(),
        user_interests::INPUT,
        input,
        30,
        Duration::from_millis(500),
    );

    // Step 1: SIGKILL inside an open transaction, after some output was committed.
    let mut counts = TopicTail::committed(&bootstrap, user_interests::COUNTS);
    wait_for_open_transaction(&mut counts, total, Duration::from_secs(60), &w);
    w.kill();
    let view = counts.txn_view();
    eprintln!(
        "killed after {:?}: {} counts committed, {} in the open transaction",
        t0.elapsed(),
        view.visible.len(),
        view.open.len()
    );

    // Step 2: restart on the same state directory; the input keeps coming.
    let t1 = Instant::now();
    let w = WorkerProcess::start(WORKER, "ui-eos-2", &args);
    producer.join().unwrap();
    assert!(produced.load(Ordering::Acquire));
    let complete = counts.wait_for(Duration::from_secs(60), |rs| rs.len() >= total);
    counts.wait_idle(Duration::from_secs(3), Duration::from_secs(30));
    eprintln!(
        "restarted run: {} counts committed {:?} after the restart; its restores:\n{}",
        counts.len(),
        t1.elapsed(),
        w.log()
            .lines()
            .filter(|l| l.contains("active_task: restored"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let view = counts.txn_view();
    // The transaction open at the kill was aborted (fenced by the restarted producer), and
    // nothing is left open.
    assert!(
        !view.aborted.is_empty() && view.open.is_empty(),
        "after the restart: {} aborted, {} open count records\n{}",
        view.aborted.len(),
        view.open.len(),
        w.log_tail(30)
    );

    // Exactly once: each user's committed counts are 1, 2, ..., n (none repeated, none
    // skipped), n being the user's searches; the store's last word (its committed changelog)
    // agrees.
    let expected: BTreeMap<String, Vec<i64>> = users
        .iter()
        .map(|(u, &n)| (u.clone(), (1..=n as i64).collect()))
        .collect();
    let got = by_key(counts.records(), i64_value);
    if !complete || got != expected {
        let mut diff = String::new();
        for (u, want) in &expected {
            let have = got.get(u).cloned().unwrap_or_default();
            if &have != want {
                let repeated = have.len() - have.iter().collect::<BTreeSet<_>>().len();
                let _ = writeln!(
                    diff,
                    "  {u}: {} searches; {} counts committed, last {:?}, {repeated} repeated: {have:?}",
                    want.len(),
                    have.len(),
                    have.last()
                );
            }
        }
        return Err(format!(
            "committed counts are not exactly 1..=n per user ({} committed for {total} searches):\n\
             {diff}{}\nproxy: {:?}\nthe restarted worker's restores:\n{}",
            counts.len(),
            internal_topics_report(&bootstrap, &app),
            proxy.stats(),
            w.log()
                .lines()
                .filter(|l| l.contains("active_task: restor"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let mut changelog = TopicTail::committed(
        &bootstrap,
        &format!("{app}-{}-changelog", user_interests::COUNT_STORE),
    );
    changelog.wait_idle(Duration::from_secs(1), Duration::from_secs(20));
    let store: BTreeMap<String, i64> = by_key(changelog.records(), i64_value)
        .into_iter()
        .map(|(u, vs)| (u, *vs.last().unwrap()))
        .collect();
    let final_counts: BTreeMap<String, i64> =
        users.iter().map(|(u, &n)| (u.clone(), n as i64)).collect();
    assert_eq!(
        store, final_counts,
        "last committed changelog value per user"
    );
    // The interests too: one committed update per search, `searches` 1, 2, ..., n.
    let mut interests = TopicTail::committed(&bootstrap, user_interests::INTERESTS);
    interests.wait_for(Duration::from_secs(30), |rs| rs.len() >= total);
    interests.wait_idle(Duration::from_secs(1), Duration::from_secs(10));
    let searches = by_key(interests.records(), |r| {
        serde_json::from_slice::<Interests>(r.value.as_deref().unwrap())
            .unwrap()
            .searches
    });
    assert_eq!(searches, expected, "committed interests.searches per user");
    let stats = proxy.stats();
    eprintln!("total {:?}; proxy: {stats:?}", t0.elapsed());
    if filter {
        assert!(stats.all_decoded() && stats.index_errors == 0, "{stats:?}");
        assert!(
            stats.aborted_listed > 0,
            "no aborted transaction was ever listed: {stats:?}"
        );
    }
    Ok(())
}

fn product(i: usize) -> Product {
    Product {
        product_id: format!("p-{i:05}"),
        name: format!("product number {i}"),
        shop_id: format!("shop-{}", i % 7),
        category: ["toys", "books", "garden"][i % 3].into(),
        price: if i % 40 == 13 {
            -5.0
        } else {
            1.0 + (i % 100) as f64
        },
    }
}

/// product-filter (no state but the global table) under exactly_once_v2, SIGKILLed inside an
/// open transaction and restarted: each allowed product exactly once in read-committed output.
#[test]
fn product_filter_writes_each_allowed_product_exactly_once_across_a_sigkill() {
    const PRODUCTS: usize = 40_000;
    let t0 = Instant::now();
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, product_filter::INPUT, 3, false);
    create_topic(&bootstrap, product_filter::FORBIDDEN, 1, true);
    create_topic(&bootstrap, product_filter::OUTPUT, 3, false);
    // Every 10th product is forbidden; every 40th (others) has a negative price.
    let forbidden = |i: usize| i % 10 == 7;
    produce(
        &bootstrap,
        product_filter::FORBIDDEN,
        (0..PRODUCTS).filter(|&i| forbidden(i)).map(|i| {
            (
                Some(product(i).product_id.into_bytes()),
                Some(b"fake".to_vec()),
            )
        }),
    );
    produce(
        &bootstrap,
        product_filter::INPUT,
        (0..PRODUCTS).map(|i| {
            let p = product(i);
            (
                Some(p.product_id.clone().into_bytes()),
                Some(serde_json::to_vec(&p).unwrap()),
            )
        }),
    );
    let allowed: BTreeMap<String, Product> = (0..PRODUCTS)
        .map(product)
        .filter(|p| p.is_valid() && !forbidden(p.product_id[2..].parse().unwrap()))
        .map(|p| (p.product_id.clone(), p))
        .collect();
    assert_eq!(allowed.len(), 35_000);

    let state = temp_state_dir();
    // Throttled output (~20,000 products a second: a 2,000-record producer queue sent every
    // 100 ms) and a 1 s commit interval, so the run spans several transactions.
    let args = WorkerArgs::new(
        "product-filter",
        &bootstrap,
        &unique_name("pf-eos"),
        state.path(),
    )
    .exactly_once()
    .commit_interval_ms(1000)
    .set("producer.queue.buffering.max.messages", "2000")
    .set("producer.linger.ms", "100");
    let mut w = WorkerProcess::start(WORKER, "pf-eos-1", &args);
    let mut out = TopicTail::committed(&bootstrap, product_filter::OUTPUT);
    wait_for_open_transaction(&mut out, allowed.len(), Duration::from_secs(60), &w);
    w.kill();
    let view = out.txn_view();
    eprintln!(
        "killed after {:?}: {} products committed, {} in the open transaction",
        t0.elapsed(),
        view.visible.len(),
        view.open.len()
    );

    let t1 = Instant::now();
    let w = WorkerProcess::start(WORKER, "pf-eos-2", &args);
    let complete = out.wait_for(Duration::from_secs(60), |rs| rs.len() >= allowed.len());
    out.wait_idle(Duration::from_secs(3), Duration::from_secs(30));
    let view = out.txn_view();
    eprintln!(
        "restarted run: {} products committed {:?} after the restart; {} aborted records",
        out.len(),
        t1.elapsed(),
        view.aborted.len()
    );
    assert!(
        complete,
        "{} of {} products committed\n{}",
        out.len(),
        allowed.len(),
        w.log_tail(30)
    );
    assert!(
        !view.aborted.is_empty() && view.open.is_empty(),
        "after the restart: {} aborted, {} open records (the kill's transaction must be aborted)",
        view.aborted.len(),
        view.open.len()
    );
    // Each allowed product exactly once, unchanged; nothing else. Some were written in the
    // aborted transaction too, and are committed once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in out.records() {
        let p: Product = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(r.key_str().unwrap(), p.product_id);
        assert_eq!(
            allowed.get(&p.product_id),
            Some(&p),
            "output {}/{}: not an allowed product as produced",
            r.partition,
            r.offset
        );
        *seen.entry(p.product_id).or_default() += 1;
    }
    let repeated: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(
        repeated.is_empty(),
        "products committed more than once: {repeated:?}"
    );
    assert_eq!(seen.len(), allowed.len(), "distinct products committed");
    let aborted_then_committed = view
        .aborted
        .iter()
        .filter(|r| seen.contains_key(&r.key_str().unwrap()))
        .count();
    eprintln!(
        "{aborted_then_committed} of the aborted records' products committed once by the restarted worker; total {:?}",
        t0.elapsed()
    );
    assert!(aborted_then_committed > 0);
}
