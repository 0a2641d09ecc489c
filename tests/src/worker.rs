//! [`WorkerProcess`]: a `weir-test-worker` child process for crash tests — start it, wait for
//! "worker started", stop it cleanly (SIGTERM) or crash it (SIGKILL).
//!
//! Integration tests find the binary with `env!("CARGO_BIN_EXE_weir-test-worker")`.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::broker::{send_signal, tail, wait_exit};

/// The line the worker prints once `KafkaStreams::start` returned.
pub const STARTED_LINE: &str = "worker started";

/// The command line of `weir-test-worker`.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// `product-filter` or `user-interests`.
    pub topology: String,
    pub bootstrap: String,
    pub app: String,
    pub state_dir: PathBuf,
    /// `at_least_once` or `exactly_once_v2`.
    pub guarantee: String,
    pub commit_interval_ms: Option<u64>,
    /// `--set key=value`, in order (later wins).
    pub sets: Vec<(String, String)>,
}

impl WorkerArgs {
    /// At-least-once, the worker's default commit interval, no extra properties.
    pub fn new(topology: &str, bootstrap: &str, app: &str, state_dir: &Path) -> WorkerArgs {
        WorkerArgs {
            topology: topology.to_owned(),
            bootstrap: bootstrap.to_owned(),
            app: app.to_owned(),
            state_dir: state_dir.to_owned(),
            guarantee: "at_least_once".to_owned(),
            commit_interval_ms: None,
            sets: Vec::new(),
        }
    }

    /// With `exactly_once_v2`.
    pub fn exactly_once(mut self) -> Self {
        self.guarantee = "exactly_once_v2".to_owned();
        self
    }

    /// With `commit.interval.ms`.
    pub fn commit_interval_ms(mut self, ms: u64) -> Self {
        self.commit_interval_ms = Some(ms);
        self
    }

    /// With one more `--set key=value`.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.sets.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The argument list.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--topology".to_owned(),
            self.topology.clone(),
            "--bootstrap".to_owned(),
            self.bootstrap.clone(),
            "--app".to_owned(),
            self.app.clone(),
            "--state-dir".to_owned(),
            self.state_dir.display().to_string(),
            "--guarantee".to_owned(),
            self.guarantee.clone(),
        ];
        if let Some(ms) = self.commit_interval_ms {
            a.push("--commit-interval-ms".to_owned());
            a.push(ms.to_string());
        }
        for (k, v) in &self.sets {
            a.push("--set".to_owned());
            a.push(format!("{k}={v}"));
        }
        a
    }
}

/// A running worker process. Its stdout and stderr go to `worker.log` (in a temporary
/// directory, kept and printed when a test panics); stdout lines are also watched for
/// [`STARTED_LINE`]. Dropping it kills the process (SIGKILL).
pub struct WorkerProcess {
    child: Child,
    name: String,
    lines: Receiver<String>,
    log: PathBuf,
    dir: Option<tempfile::TempDir>,
    readers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerProcess")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .field("log", &self.log)
            .finish()
    }
}

impl WorkerProcess {
    /// Starts `bin` with `args`; `name` labels it in messages. Does not wait for it to start.
    pub fn spawn(bin: impl AsRef<Path>, name: &str, args: &WorkerArgs) -> WorkerProcess {
        let bin = bin.as_ref();
        let dir = tempfile::Builder::new()
            .prefix(&format!("weir-worker-{name}-"))
            .tempdir()
            .expect("cannot create a temporary directory for the worker log");
        let log = dir.path().join("worker.log");
        let file =
            File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let mut child = Command::new(bin)
            .args(args.to_args())
            .env(
                "WEIR_LOG",
                std::env::var("WEIR_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start worker `{name}` ({}): {e}", bin.display()));
        let (tx, lines) = mpsc::channel();
        let mut readers = Vec::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for (stream, tx, tag) in [
            (
                Box::new(stdout) as Box<dyn std::io::Read + Send>,
                Some(tx),
                "out",
            ),
            (Box::new(stderr), None, "err"),
        ] {
            let mut file = file.try_clone().expect("cannot clone the log file handle");
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(file, "[{tag}] {line}");
                    if let Some(tx) = &tx {
                        let _ = tx.send(line);
                    }
                }
            }));
        }
        WorkerProcess {
            child,
            name: name.to_owned(),
            lines,
            log,
            dir: Some(dir),
            readers,
        }
    }

    /// [`WorkerProcess::spawn`], then [`WorkerProcess::wait_started`] with 120 s.
    pub fn start(bin: impl AsRef<Path>, name: &str, args: &WorkerArgs) -> WorkerProcess {
        let mut w = WorkerProcess::spawn(bin, name, args);
        w.wait_started(Duration::from_secs(120));
        w
    }

    /// Waits until the worker printed [`STARTED_LINE`].
    ///
    /// # Panics
    /// When it exits first or `timeout` passes; the message holds the end of its log.
    pub fn wait_started(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) if line.trim() == STARTED_LINE => return,
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    self.fail(&format!("exited before it started ({status:?})"));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("exited before it started ({status})"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "did not print `{STARTED_LINE}` within {timeout:?}"
                ));
            }
        }
    }

    fn fail(&mut self, what: &str) -> ! {
        self.flush_log();
        panic!(
            "worker `{}` {what}; last lines of {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, 40)
        );
    }

    /// Waits for the log readers (after the process exited) so the log file is complete.
    fn flush_log(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file (stdout lines tagged `[out]`, stderr `[err]`).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Crashes the worker: SIGKILL, then waits for it.
    pub fn kill(&mut self) {
        if self.is_running() {
            send_signal(self.child.id(), "KILL");
        }
        let _ = self.child.wait();
        self.flush_log();
    }

    /// Waits up to `timeout` for the worker to exit by itself (e.g. after a fatal error).
    ///
    /// # Panics
    /// When it is still running after `timeout` (it is then killed).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let Some(status) = wait_exit(&mut self.child, timeout) else {
            send_signal(self.child.id(), "KILL");
            let _ = self.child.wait();
            self.fail(&format!("still running after {timeout:?} (killed)"));
        };
        self.flush_log();
        status
    }

    /// Stops the worker cleanly: SIGTERM, then waits up to `timeout` for it to exit.
    ///
    /// # Panics
    /// When it does not exit in time (it is then killed) or exits unsuccessfully.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        if self.is_running() {
            send_signal(self.child.id(), "TERM");
        }
        let Some(status) = wait_exit(&mut self.child, timeout) else {
            send_signal(self.child.id(), "KILL");
            let _ = self.child.wait();
            self.fail(&format!(
                "did not exit within {timeout:?} of SIGTERM (killed)"
            ));
        };
        self.flush_log();
        if !status.success() {
            self.fail(&format!("exited with {status} after SIGTERM"));
        }
        status
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            send_signal(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
        // During a panic keep the log for the post-mortem; otherwise the directory goes.
        if let Some(dir) = self.dir.take().filter(|_| std::thread::panicking()) {
            let kept = dir.keep();
            eprintln!(
                "weir-tests: log of worker `{}` kept at {}",
                self.name,
                kept.join("worker.log").display()
            );
        }
    }
}
