//! Two user-interests workers in one group split the partitions; when one stops cleanly, its
//! tasks move to the other, which restores their stores from the changelogs and continues every
//! user's count where it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use weir_tests::{
    Broker, Consumed, TopicTail, WorkerArgs, WorkerProcess, create_topic, murmur2_partition,
    produce, temp_state_dir, unique_name,
};
use weir_topologies::model::{Interests, Search};
use weir_topologies::user_interests;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");
const PARTITIONS: usize = 4;
const USERS: usize = 16;

fn user(u: usize) -> String {
    format!("user-{u:02}")
}

/// `count` searches of each user, keyed by a search id (not the user: the topology repartitions
/// by user), interleaved across users.
fn searches(
    phase: &str,
    counts: &BTreeMap<String, usize>,
) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> {
    let max = counts.values().copied().max().unwrap_or(0);
    let mut out = Vec::new();
    for round in 0..max {
        for (u, &n) in counts {
            if round < n {
                let s = Search {
                    user_id: u.clone(),
                    query: format!("query {round}"),
                    product_id: format!("p-{}", (round * 7) % 23),
                    category: ["toys", "books", "garden"][round % 3].into(),
                    ts: 1_700_000_000_000 + round as i64,
                };
                out.push((
                    Some(format!("search-{phase}-{u}-{round}").into_bytes()),
                    Some(serde_json::to_vec(&s).unwrap()),
                ));
            }
        }
    }
    out
}

fn count_value(r: &Consumed) -> i64 {
    let v = r.value.as_deref().expect("a count, not a tombstone");
    i64::from_be_bytes(v.try_into().expect("an 8-byte big-endian count"))
}

/// The counts each user's key received, in output order.
fn counts_by_user(records: &[Consumed]) -> BTreeMap<String, Vec<i64>> {
    let mut by_user: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in records {
        by_user
            .entry(r.key_str().unwrap())
            .or_default()
            .push(count_value(r));
    }
    by_user
}

fn last_counts(records: &[Consumed]) -> BTreeMap<String, i64> {
    counts_by_user(records)
        .into_iter()
        .map(|(u, vs)| (u, *vs.last().unwrap()))
        .collect()
}

/// The value of `key=` in a log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split_whitespace().next()
}

/// The tasks a worker owns according to its log: created minus closed on revocation.
fn owned_tasks(log: &str) -> BTreeSet<String> {
    let mut owned = BTreeSet::new();
    for line in log.lines() {
        if line.contains("task created") {
            owned.insert(field(line, "task").unwrap().to_owned());
        } else if line.contains("task closed (revoked)") {
            owned.remove(field(line, "task").unwrap());
        }
    }
    owned
}

/// The non-empty `partitions assigned` lines of a log.
fn assignments(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("partitions assigned") && !l.contains("partitions=[]"))
        .collect()
}

/// `(task, store) -> records` of the `restored` lines of a log.
fn restored(log: &str) -> BTreeMap<(String, String), u64> {
    log.lines()
        .filter(|l| l.contains(": restored task="))
        .map(|l| {
            (
                (
                    field(l, "task").unwrap().to_owned(),
                    field(l, "store").unwrap().to_owned(),
                ),
                field(l, "records").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn two_workers_split_partitions_and_state_moves_with_them() {
    let t0 = Instant::now();
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, user_interests::INPUT, PARTITIONS as i32, false);
    create_topic(&bootstrap, user_interests::COUNTS, PARTITIONS as i32, false);
    create_topic(
        &bootstrap,
        user_interests::INTERESTS,
        PARTITIONS as i32,
        false,
    );

    let users: Vec<String> = (0..USERS).map(user).collect();
    // The count task of a user is 1_{murmur2(user) % 4} (the repartition topic has the source's
    // 4 partitions); every task must hold some users for the move to mean anything.
    let partition_of = |u: &str| murmur2_partition(u.as_bytes(), PARTITIONS);
    let covered: BTreeSet<i32> = users.iter().map(|u| partition_of(u)).collect();
    assert_eq!(covered.len(), PARTITIONS, "users per partition");

    let app = unique_name("ui");
    let (dir1, dir2) = (temp_state_dir(), temp_state_dir());
    let args = |dir: &std::path::Path| {
        WorkerArgs::new("user-interests", &bootstrap, &app, dir).commit_interval_ms(100)
    };
    let mut w1 = WorkerProcess::spawn(WORKER, "ui-1", &args(dir1.path()));
    let mut w2 = WorkerProcess::spawn(WORKER, "ui-2", &args(dir2.path()));
    w1.wait_started(Duration::from_secs(60));
    w2.wait_started(Duration::from_secs(60));

    // Step 1: wait until the group settled with both workers owning tasks, all 8 tasks
    // (2 sub-topologies x 4 partitions) owned exactly once.
    let all_tasks: BTreeSet<String> = (0..2)
        .flat_map(|s| (0..PARTITIONS).map(move |p| format!("{s}_{p}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tasks1, tasks2) = loop {
        let (t1, t2) = (owned_tasks(&w1.log()), owned_tasks(&w2.log()));
        let union: BTreeSet<String> = t1.union(&t2).cloned().collect();
        if !t1.is_empty() && !t2.is_empty() && t1.is_disjoint(&t2) && union == all_tasks {
            break (t1, t2);
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle on two workers in 60 s: ui-1 owns {t1:?}, ui-2 owns {t2:?}\n\
             ui-1:\n{}\nui-2:\n{}",
            w1.log_tail(30),
            w2.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "group settled after {:?}: ui-1 owns {tasks1:?}, ui-2 owns {tasks2:?}",
        t0.elapsed()
    );
    for w in [&w1, &w2] {
        let log = w.log();
        let a = assignments(&log);
        assert!(!a.is_empty(), "no partitions assigned in:\n{log}");
        eprintln!("{w:?}: {}", a.join("\n    "));
    }

    // Step 2: the first searches; every user's count reaches its number of searches.
    let first: BTreeMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.clone(), 4 + i))
        .collect();
    produce(&bootstrap, user_interests::INPUT, searches("a", &first));
    let expected1: BTreeMap<String, i64> =
        first.iter().map(|(u, &n)| (u.clone(), n as i64)).collect();
    let mut counts = TopicTail::uncommitted(&bootstrap, user_interests::COUNTS);
    let t1 = Instant::now();
    let reached = counts.wait_for(Duration::from_secs(60), |rs| last_counts(rs) == expected1);
    assert!(
        reached,
        "counts after the first searches: {:?}, expected {expected1:?}\nui-1:\n{}\nui-2:\n{}",
        last_counts(counts.records()),
        w1.log_tail(30),
        w2.log_tail(30)
    );
    eprintln!("first counts complete after {:?}", t1.elapsed());
    // No update lost or repeated: each user's counts are 1, 2, ..., n.
    for (u, vs) in counts_by_user(counts.records()) {
        assert_eq!(vs, (1..=expected1[&u]).collect::<Vec<_>>(), "counts of {u}");
    }

    // Step 3: stop (SIGTERM) the worker owning more count tasks; its tasks move to the other.
    let count_tasks = |t: &BTreeSet<String>| t.iter().filter(|t| t.starts_with("1_")).count();
    let (mut leaving, mut staying, moved) = if count_tasks(&tasks2) >= count_tasks(&tasks1) {
        (w2, w1, tasks2)
    } else {
        (w1, w2, tasks1)
    };
    let moved_partitions: BTreeSet<i32> = moved
        .iter()
        .filter_map(|t| t.strip_prefix("1_"))
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        !moved_partitions.is_empty(),
        "neither worker owns a count task: {moved:?}"
    );
    let moved_users: BTreeSet<&String> = users
        .iter()
        .filter(|u| moved_partitions.contains(&partition_of(u)))
        .collect();
    eprintln!("stopping {leaving:?} (tasks {moved:?}); users whose state moves: {moved_users:?}");
    let staying_log_before = staying.log().len();
    let t2 = Instant::now();
    leaving.terminate(Duration::from_secs(30));
    eprintln!("{leaving:?} stopped in {:?}", t2.elapsed());
    assert!(
        leaving.log().contains("[out] worker stopped"),
        "{}",
        leaving.log_tail(30)
    );

    // Step 4: more searches for everyone; the remaining worker continues every count.
    let second: BTreeMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.clone(), 2 + i % 5))
        .collect();
    produce(&bootstrap, user_interests::INPUT, searches("b", &second));
    let expected2: BTreeMap<String, i64> = first
        .iter()
        .map(|(u, &n)| (u.clone(), (n + second[u]) as i64))
        .collect();
    let t3 = Instant::now();
    let reached = counts.wait_for(Duration::from_secs(60), |rs| last_counts(rs) == expected2);
    assert!(
        reached,
        "counts after the move: {:?}, expected {expected2:?} (first + second searches)\n\
         remaining worker:\n{}",
        last_counts(counts.records()),
        staying.log_tail(40)
    );
    eprintln!("final counts complete {:?} after the stop", t3.elapsed());
    // Nothing more arrives, and each user's counts are exactly 1, 2, ..., total: the moved
    // users' counts continued from their restored state, none restarted from 1.
    counts.wait_idle(Duration::from_secs(2), Duration::from_secs(10));
    for (u, vs) in counts_by_user(counts.records()) {
        assert_eq!(vs, (1..=expected2[&u]).collect::<Vec<_>>(), "counts of {u}");
    }
    // The other store moved too: every user's interests count every search.
    let mut interests = TopicTail::uncommitted(&bootstrap, user_interests::INTERESTS);
    let total: usize = expected2.values().map(|&n| n as usize).sum();
    interests.wait_for(Duration::from_secs(30), |rs| rs.len() >= total);
    let mut last_interests: BTreeMap<String, Interests> = BTreeMap::new();
    for r in interests.records() {
        last_interests.insert(
            r.key_str().unwrap(),
            serde_json::from_slice(r.value.as_deref().unwrap()).unwrap(),
        );
    }
    let searched: BTreeMap<String, i64> = last_interests
        .iter()
        .map(|(u, i)| (u.clone(), i.searches))
        .collect();
    assert_eq!(searched, expected2, "interests.searches per user");
    assert_eq!(interests.len(), total, "one interests update per search");

    // Step 5: the remaining worker restored the moved count tasks' stores from their
    // changelogs (at least one record per user of the partition, at most one per search).
    let log = staying.log();
    let after_stop = restored(&log[staying_log_before..]);
    eprintln!("restored by the remaining worker after the stop: {after_stop:?}");
    for p in &moved_partitions {
        let in_p: Vec<&String> = users.iter().filter(|u| partition_of(u) == *p).collect();
        let searches_in_p: u64 = in_p.iter().map(|u| first[*u] as u64).sum();
        for store in [user_interests::COUNT_STORE, user_interests::INTEREST_STORE] {
            let n = after_stop
                .get(&(format!("1_{p}"), store.to_owned()))
                .copied()
                .unwrap_or_else(|| {
                    panic!(
                        "no `restored` line for task 1_{p}, store {store} after the stop:\n{log}"
                    )
                });
            assert!(
                (in_p.len() as u64..=searches_in_p).contains(&n),
                "task 1_{p} store {store}: restored {n} records; {} users, {searches_in_p} searches",
                in_p.len()
            );
        }
    }
    staying.terminate(Duration::from_secs(30));
    eprintln!("total {:?}", t0.elapsed());
}
