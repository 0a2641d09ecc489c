//! Reliability scenario 8 (RELIABILITY.md): the disk under the state directory.
//!
//! * Full: a user-interests worker's state directory on a small tmpfs that a ballast file then
//!   fills. The worker must fail with a clear error (no space left), not hang or lose data;
//!   after the space returns, a restart opens the same stores (not corrupted), restores and
//!   continues, and every user's final count is at least the number of searches (at-least-once:
//!   nothing lost). Mounting a tmpfs needs root: the test is `#[ignore]`d and `./weir test`
//!   runs it when it runs as root (CI does).
//! * Locked: a second worker started on a state directory a running worker holds exits with
//!   code 1 and says which directory and which process hold it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use weir_tests::scenario;
use weir_tests::{
    Broker, WorkerArgs, WorkerProcess, committed_offsets, create_topic, produce, temp_state_dir,
    unique_name,
};
use weir_topologies::user_interests;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");
const USERS: usize = 500;

fn searches(
    from: usize,
    n: usize,
    expected: &mut BTreeMap<String, i64>,
) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> {
    (from..from + n)
        .map(|i| {
            let user = format!("user-{:03}", i % USERS);
            *expected.entry(user.clone()).or_default() += 1;
            // Long queries: the store and its changelog grow quickly.
            let value = serde_json::json!({
                "user_id": user, "query": format!("{i}-{}", "q".repeat(200)),
                "product_id": format!("p-{i}"), "category": format!("c{}", i % 50), "ts": i,
            });
            (
                Some(format!("s-{i}").into_bytes()),
                Some(value.to_string().into_bytes()),
            )
        })
        .collect()
}

fn committed(b: &str, app: &str) -> i64 {
    committed_offsets(b, app, user_interests::INPUT)
        .into_iter()
        .map(|o| o.unwrap_or(0))
        .sum()
}

fn topics(b: &str) {
    for t in [
        user_interests::INPUT,
        user_interests::COUNTS,
        user_interests::INTERESTS,
    ] {
        create_topic(b, t, 2, false);
    }
}

struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "weir-test"])
            .arg(dir)
            .status()
            .expect("cannot run mount");
        assert!(st.success(), "mount -t tmpfs failed (needs root)");
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a ballast file until the file system is full; returns its size.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.sync_all();
    written
}

#[test]
#[ignore = "needs root to mount a small tmpfs; ./weir test runs it with --ignored as root"]
fn scenario_8_a_full_disk_fails_the_worker_clearly_and_a_restart_loses_nothing() {
    let broker = Broker::start();
    let b = broker.bootstrap();
    topics(&b);
    let mount = tempfile::tempdir().unwrap();
    let _fs = Tmpfs::mount(mount.path(), "64m");
    let state = mount.path().join("state");
    let app = unique_name("rel-disk");
    let args = WorkerArgs::new("user-interests", &b, &app, &state).commit_interval_ms(200);
    let mut expected = BTreeMap::new();
    let wave = 10_000;
    let mut w = WorkerProcess::start(WORKER, "disk", &args);
    produce(&b, user_interests::INPUT, searches(0, wave, &mut expected));
    let t = Instant::now();
    while committed(&b, &app) < wave as i64 {
        assert!(t.elapsed() < Duration::from_secs(120), "{}", w.log_tail(30));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The disk fills up; more searches come.
    let ballast = mount.path().join("ballast");
    let filled = fill(&ballast);
    let mut sent = wave;
    let t = Instant::now();
    let status = loop {
        produce(
            &b,
            user_interests::INPUT,
            searches(sent, wave, &mut expected),
        );
        sent += wave;
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && w.is_running() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !w.is_running() {
            break w.wait_exit(Duration::from_secs(5));
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the worker still runs 120 s after the disk filled up ({sent} searches)\n{}",
            w.log_tail(30)
        );
    };
    let log = w.log();
    let failed_after = t.elapsed().as_secs_f64();
    assert!(
        !status.success(),
        "exited successfully on a full disk\n{log}"
    );
    let clear = log.lines().any(|l| l.contains("No space left on device"));
    assert!(
        clear,
        "the error does not say the disk is full:\n{}",
        w.log_tail(30)
    );

    eprintln!(
        "scenario 8: the worker on a full disk exited with {status}; its log ends:\n{}",
        w.log_tail(25)
    );
    let committed_at_failure = committed(&b, &app);
    if let Ok(path) = std::env::var("WEIR_RELIABILITY_KEEP_LOGS") {
        let _ = std::fs::write(format!("{path}/disk-first.log"), w.log());
    }
    // Space returns: the restart opens the same stores and finishes.
    std::fs::remove_file(&ballast).unwrap();
    let t = Instant::now();
    let mut w = WorkerProcess::start(WORKER, "disk-again", &args);
    while committed(&b, &app) < sent as i64 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "committed {} of {sent} after the restart\n{}",
            committed(&b, &app),
            w.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    let verdict = scenario::await_counts(
        &b,
        user_interests::COUNTS,
        &expected,
        Duration::from_secs(120),
    );
    let converged = t.elapsed().as_secs_f64();
    let restart_log = w.log();
    if let Ok(path) = std::env::var("WEIR_RELIABILITY_KEEP_LOGS") {
        let _ = std::fs::write(format!("{path}/disk-restart.log"), &restart_log);
    }
    w.terminate(Duration::from_secs(60));
    scenario::report(
        "8 disk full",
        &[
            ("tmpfs", "64m".into()),
            ("ballast_mb", (filled >> 20).to_string()),
            ("searches", sent.to_string()),
            ("failed_after_s", format!("{failed_after:.1}")),
            ("committed_at_failure", committed_at_failure.to_string()),
            ("input_committed_s_after_restart", format!("{recovered:.1}")),
            ("counts_complete_s_after_restart", format!("{converged:.1}")),
            ("lost_users", verdict.lost.to_string()),
            ("over_counted_users", verdict.store_over.to_string()),
            (
                "corruption_reported",
                restart_log.contains("orrupt").to_string(),
            ),
        ],
    );
    assert!(verdict.at_least_once(), "{verdict}");
}

#[test]
fn scenario_8_a_locked_state_directory_stops_a_second_worker_with_exit_code_1() {
    let broker = Broker::start();
    let b = broker.bootstrap();
    topics(&b);
    let state = temp_state_dir();
    let app = unique_name("rel-lock");
    let args = WorkerArgs::new("user-interests", &b, &app, state.path());
    let mut first = WorkerProcess::start(WORKER, "holder", &args);
    let mut second = WorkerProcess::spawn(WORKER, "second", &args);
    let status = second.wait_exit(Duration::from_secs(60));
    let log = second.log();
    assert_eq!(status.code(), Some(1), "{log}");
    let dir = state.path().join(&app);
    assert!(
        log.contains(&format!(
            "{} is in use by another worker (pid {})",
            dir.display(),
            first.pid()
        )),
        "{log}"
    );
    assert!(
        first.is_running(),
        "the holder stopped\n{}",
        first.log_tail(20)
    );
    first.terminate(Duration::from_secs(30));
    scenario::report(
        "8 state dir locked",
        &[("second_worker_exit_code", "1".into())],
    );
}
