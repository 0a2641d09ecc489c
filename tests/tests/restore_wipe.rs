//! Restore planning on a broker: a store whose checkpoint its changelog no longer holds is wiped
//! and restored from the changelog, not trusted.
//!
//! A user-interests worker counts searches per user and stops cleanly (its count store
//! checkpointed at the changelog's end). While it is down, the count store's changelog is deleted
//! and re-created holding one record (`user-a` → 100) — the checkpoint is now beyond the log end.
//! After the restart the store must hold exactly what the new changelog holds: the next search of
//! `user-a` counts 101, `user-b` starts again at 1, and `user-c`'s stale count is gone from the
//! store. Restoring "from the checkpoint" as before would have kept the stale local copy
//! (`user-b` → 6, `user-c` → 3).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weir_state::{KeyValueStore as _, RocksDbConfig, RocksDbStore};
use weir_tests::{
    Broker, ConsumeOpts, Consumed, TopicTail, WorkerArgs, WorkerProcess, consume_all, create_topic,
    delete_topic, produce, temp_state_dir, unique_name,
};
use weir_topologies::model::Search;
use weir_topologies::user_interests;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

fn search(user: &str, n: usize) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let s = Search {
        user_id: user.to_owned(),
        query: format!("query {n}"),
        product_id: format!("p-{n}"),
        category: "toys".into(),
        ts: 1_700_000_000_000 + n as i64,
    };
    (
        Some(format!("search-{user}-{n}").into_bytes()),
        Some(serde_json::to_vec(&s).unwrap()),
    )
}

fn last_counts(records: &[Consumed]) -> BTreeMap<String, i64> {
    records
        .iter()
        .map(|r| {
            let v = r.value.as_deref().expect("a count");
            (
                r.key_str().unwrap(),
                i64::from_be_bytes(v.try_into().expect("an 8-byte count")),
            )
        })
        .collect()
}

/// The directory of store `name` under a worker's state dir (`{app}/{task}/{name}`).
fn store_dir(state: &Path, name: &str) -> PathBuf {
    fn walk(dir: &Path, name: &str) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if entry.file_name() == name {
                    return Some(path);
                }
                if let Some(found) = walk(&path, name) {
                    return Some(found);
                }
            }
        }
        None
    }
    walk(state, name).unwrap_or_else(|| panic!("no store `{name}` under {}", state.display()))
}

/// Every key and value of a closed store, as text and i64.
fn store_contents(path: &Path, name: &str) -> BTreeMap<String, i64> {
    let store = RocksDbStore::open(name, path, &RocksDbConfig::default()).unwrap();
    store
        .all()
        .unwrap()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (
                String::from_utf8(k).unwrap(),
                i64::from_be_bytes(v.as_slice().try_into().expect("an 8-byte count")),
            )
        })
        .collect()
}

#[test]
fn a_checkpoint_beyond_a_recreated_changelog_wipes_the_store() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    for topic in [
        user_interests::INPUT,
        user_interests::COUNTS,
        user_interests::INTERESTS,
    ] {
        create_topic(&bootstrap, topic, 1, false);
    }
    let app = unique_name("wipe");
    let state = temp_state_dir();
    let args =
        WorkerArgs::new("user-interests", &bootstrap, &app, state.path()).commit_interval_ms(100);

    // Phase 1: a: 2 searches, b: 5, c: 2; the worker counts them and stops cleanly.
    let mut first = Vec::new();
    for (user, n) in [("user-a", 2), ("user-b", 5), ("user-c", 2)] {
        first.extend((0..n).map(|i| search(user, i)));
    }
    produce(&bootstrap, user_interests::INPUT, first);
    let mut w = WorkerProcess::start(WORKER, "wipe-1", &args);
    let mut counts = TopicTail::uncommitted(&bootstrap, user_interests::COUNTS);
    let expected: BTreeMap<String, i64> = [("user-a", 2), ("user-b", 5), ("user-c", 2)]
        .map(|(u, n)| (u.to_owned(), n))
        .into();
    assert!(
        counts.wait_for(Duration::from_secs(60), |rs| last_counts(rs) == expected),
        "counts {:?}, expected {expected:?}\n{}",
        last_counts(counts.records()),
        w.log_tail(30)
    );
    assert!(
        w.terminate(Duration::from_secs(30)).success(),
        "{}",
        w.log_tail(30)
    );
    let path = store_dir(state.path(), user_interests::COUNT_STORE);
    assert_eq!(
        store_contents(&path, user_interests::COUNT_STORE),
        expected,
        "the store after a clean stop"
    );

    // The changelog, re-created while the worker is down, holds one record: user-a -> 100.
    let changelog = format!("{app}-{}-changelog", user_interests::COUNT_STORE);
    let old = consume_all(
        &bootstrap,
        &changelog,
        ConsumeOpts::until_idle(Duration::from_secs(2)),
    );
    assert!(old.len() >= 3, "the old changelog: {} records", old.len());
    delete_topic(&bootstrap, &changelog);
    create_topic(&bootstrap, &changelog, 1, true);
    produce(
        &bootstrap,
        &changelog,
        [(
            Some(b"user-a".to_vec()),
            Some(100i64.to_be_bytes().to_vec()),
        )],
    );

    // Phase 2: one more search each of a and b.
    let mut w = WorkerProcess::start(WORKER, "wipe-2", &args);
    produce(
        &bootstrap,
        user_interests::INPUT,
        [search("user-a", 10), search("user-b", 10)],
    );
    let before = counts.len();
    let expected_after: BTreeMap<String, i64> = [("user-a", 101), ("user-b", 1)]
        .map(|(u, n)| (u.to_owned(), n))
        .into();
    let reached = counts.wait_for(Duration::from_secs(60), |rs| {
        last_counts(&rs[before.min(rs.len())..]) == expected_after
    });
    let log = w.log();
    assert!(
        reached,
        "counts after the restart {:?}, expected {expected_after:?} (a stale store gives \
         user-b 6)\n{}",
        last_counts(&counts.records()[before..]),
        w.log_tail(40)
    );
    let wiped = log
        .lines()
        .find(|l| l.contains("wiping the store") && l.contains(user_interests::COUNT_STORE));
    eprintln!("the worker said: {wiped:?}");
    assert!(
        wiped.is_some_and(|l| l.contains("beyond the changelog's end")
            || l.contains("out of range")),
        "no log line says why the store was wiped:\n{log}"
    );
    assert!(
        w.terminate(Duration::from_secs(30)).success(),
        "{}",
        w.log_tail(30)
    );
    assert_eq!(
        store_contents(&path, user_interests::COUNT_STORE),
        expected_after,
        "the store after the restart holds the new changelog plus the new searches, and no \
         stale user-c"
    );
}
