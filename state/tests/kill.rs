//! Crash test of [`RocksDbStore`]: data and changelog offset agree after the process dies.
//!
//! The test runs its own binary again as a child that runs only `kill_child_process`: the child
//! applies batches — each carrying its data and the changelog offset it reaches — as fast as it
//! can, while a timer thread calls `std::process::abort()` (no close, no flush, possibly in the
//! middle of a write or of a background memtable flush). The parent then reopens the store and
//! checks that the committed offset and the data agree exactly: every write of every batch up to
//! the offset is there, nothing of a later batch is. Several rounds continue the same store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use weir_state::{KeyValueStore, Offsets, RocksDbConfig, RocksDbStore, WriteBatch};

const DIR_ENV: &str = "WEIR_STATE_KILL_DIR";
const DELAY_ENV: &str = "WEIR_STATE_KILL_AFTER_MS";
const NAME: &str = "kill";
/// Writes per batch besides the `latest` marker and one delete.
const KEYS: u32 = 20;
/// Each batch deletes key 0 of the batch this many batches earlier.
const DELETE_LAG: i64 = 5;
/// The child stops writing after this many batches in one round and waits for the abort.
const MAX_BATCHES_PER_ROUND: i64 = 100_000;

fn config() -> RocksDbConfig {
    // Small memtables: background flushes run all the time, so the abort often hits one.
    RocksDbConfig {
        write_buffer_size: 256 << 10,
        ..Default::default()
    }
}

/// `b`, the batch, the key's index: cheap to build, so the child spends its time in RocksDB.
fn key(batch: i64, j: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(13);
    key.push(b'b');
    key.extend_from_slice(&batch.to_be_bytes());
    key.extend_from_slice(&j.to_be_bytes());
    key
}

fn value(batch: i64, j: u32) -> Vec<u8> {
    let mut value = batch.to_le_bytes().to_vec();
    value.extend_from_slice(&j.to_le_bytes());
    value
}

fn batch(i: i64) -> WriteBatch {
    let mut writes: Vec<_> = (0..KEYS).map(|j| (key(i, j), Some(value(i, j)))).collect();
    writes.push((b"latest".to_vec(), Some(i.to_be_bytes().to_vec())));
    if i >= DELETE_LAG {
        writes.push((key(i - DELETE_LAG, 0), None));
    }
    WriteBatch {
        writes,
        offsets: Offsets::from([(0, i)]),
    }
}

#[test]
#[ignore = "the child process of `crash_leaves_data_and_offset_in_agreement`"]
fn kill_child_process() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let delay: u64 = std::env::var(DELAY_ENV).unwrap().parse().unwrap();
    let mut store = RocksDbStore::open(NAME, &dir, &config()).unwrap();
    let first = store
        .committed_offsets()
        .unwrap()
        .get(&0)
        .map_or(0, |c| c + 1);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(delay));
        std::process::abort();
    });
    for i in first..first + MAX_BATCHES_PER_ROUND {
        store.apply(batch(i)).unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reopens the store and checks it against its checkpoint; returns the checkpoint.
fn verify(dir: &Path) -> i64 {
    let store = RocksDbStore::open(NAME, dir, &config()).unwrap();
    let offsets = store.committed_offsets().unwrap();
    let Some(&c) = offsets.get(&0) else {
        assert!(
            store.get(b"latest").unwrap().is_none(),
            "data without a checkpoint"
        );
        return -1;
    };
    assert_eq!(offsets.len(), 1);
    assert_eq!(
        store.get(b"latest").unwrap(),
        Some(c.to_be_bytes().to_vec()),
        "checkpoint {c}"
    );
    for i in 0..=c {
        for j in 0..KEYS {
            let expected = (j != 0 || i + DELETE_LAG > c).then(|| value(i, j));
            assert_eq!(
                store.get(&key(i, j)).unwrap(),
                expected,
                "batch {i} key {j}, checkpoint {c}"
            );
        }
    }
    // Nothing of a later batch: the scan holds exactly the keys checked above.
    let expected = (c + 1) * i64::from(KEYS - 1) + (c + 1).min(DELETE_LAG);
    let mut found = 0;
    for entry in store.prefix_scan(b"b").unwrap() {
        entry.unwrap();
        found += 1;
    }
    assert_eq!(found, expected, "keys of batches after checkpoint {c}");
    c
}

#[test]
fn crash_leaves_data_and_offset_in_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = -1;
    for delay_ms in [40, 5, 120, 15, 60, 250, 25, 90, 10, 180, 35, 70] {
        let status = Command::new(&exe)
            .args([
                "kill_child_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(DELAY_ENV, delay_ms.to_string())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(6),
                "child did not die of SIGABRT: {status}"
            );
        }
        assert!(!status.success());
        let c = verify(dir.path());
        assert!(c >= last, "checkpoint went back from {last} to {c}");
        eprintln!("round with abort after {delay_ms} ms: checkpoint {c}");
        last = c;
    }
    assert!(last >= 0, "the child never applied a batch");
}
