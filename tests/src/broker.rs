//! [`Broker`]: one tansu process on a free 127.0.0.1 port, stopped when the value is dropped:
//! in-memory storage ([`Broker::start`]), or SQLite storage that survives a restart on the same
//! port ([`Broker::start_sqlite`], [`Broker::stop`], [`Broker::restart`]).

use std::fs::File;
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

use crate::free_port;

/// How long [`Broker::start`] waits for the broker to answer a metadata request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Broker`]'s `Drop` waits after SIGINT before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Broker::stop`] waits after SIGINT for tansu to exit.
const CLEAN_STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts at starting on a fresh port when tansu exits at once (port taken in between).
const START_ATTEMPTS: usize = 3;

/// A running tansu broker: in-memory storage (all data is lost when it stops) from
/// [`Broker::start`], SQLite storage (kept across [`Broker::stop`] and [`Broker::restart`]) from
/// [`Broker::start_sqlite`].
///
/// Its output goes to `tansu.log` in a temporary directory (the SQLite database lives there
/// too); when the broker is dropped during a panic the directory is kept and its path printed.
pub struct Broker {
    child: Child,
    bin: PathBuf,
    port: u16,
    storage: Storage,
    dir: Option<tempfile::TempDir>,
    log: PathBuf,
    started_in: Duration,
    /// The port advertised to clients, when not `port` (a [`crate::Proxy`] in front).
    advertised: Option<u16>,
}

/// Where a [`Broker`] keeps its data.
#[derive(Debug, Clone)]
enum Storage {
    Memory,
    /// A SQLite database file; tansu resolves `sqlite://NAME` against its working directory, so
    /// it runs in the file's directory.
    Sqlite(PathBuf),
}

impl Storage {
    /// The `--storage-engine` URL and the working directory tansu runs in.
    fn engine(&self) -> (String, Option<&Path>) {
        match self {
            Storage::Memory => ("memory://tansu/".to_owned(), None),
            Storage::Sqlite(file) => {
                let name = file
                    .file_name()
                    .expect("a SQLite database path ends in a file name")
                    .to_string_lossy();
                (format!("sqlite://{name}"), file.parent())
            }
        }
    }
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("pid", &self.child.id())
            .field("bootstrap", &self.bootstrap())
            .field("storage", &self.storage)
            .field("log", &self.log)
            .finish()
    }
}

pub use weir_tansu::{tansu_bin, tansu_sqlite_bin};

/// Sends `signal` (a `kill` name like `INT`) to `pid`.
pub(crate) fn send_signal(pid: u32, signal: &str) {
    // `kill` exits non-zero when the process is already gone; that is fine here.
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits up to `timeout` for `child` to exit; its status when it did.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The last `lines` lines of a file, for failure messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Broker {
    /// Starts tansu on a free port and waits (up to 30 s) until it answers a metadata request.
    ///
    /// # Panics
    /// When tansu is not installed (the message says how to install it), or does not come up.
    pub fn start() -> Broker {
        let bin = tansu_bin().unwrap_or_else(|e| panic!("{e}"));
        Broker::start_with(bin, |_| Storage::Memory, None)
    }

    /// [`Broker::start`], advertising `127.0.0.1:advertised` to clients instead of its own
    /// port: where a [`crate::Proxy`] forwarding to [`Broker::port`] listens.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn start_advertising(advertised: u16) -> Broker {
        let bin = tansu_bin().unwrap_or_else(|e| panic!("{e}"));
        Broker::start_with(bin, |_| Storage::Memory, Some(advertised))
    }

    /// Starts `bin` (a tansu with the `libsql` feature, see [`tansu_sqlite_bin`]) with SQLite
    /// storage in a fresh temporary directory, on a free port, and waits (up to 30 s) until it
    /// answers a metadata request. Its data survives [`Broker::stop`] and [`Broker::restart`].
    ///
    /// # Panics
    /// When tansu does not come up.
    pub fn start_sqlite(bin: impl AsRef<Path>) -> Broker {
        Broker::start_with(
            bin.as_ref().to_owned(),
            |dir| Storage::Sqlite(dir.join("tansu.db")),
            None,
        )
    }

    fn start_with(
        bin: PathBuf,
        storage: impl FnOnce(&Path) -> Storage,
        advertised: Option<u16>,
    ) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("weir-tansu-")
            .tempdir()
            .expect("cannot create a temporary directory for the broker");
        let log = dir.path().join("tansu.log");
        let storage = storage(dir.path());
        let t0 = Instant::now();
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let mut child = spawn_tansu(&bin, port, advertised, &storage, &log);
            match wait_ready(&mut child, port, t0 + READY_TIMEOUT) {
                Ok(()) => {
                    return Broker {
                        child,
                        bin,
                        port,
                        storage,
                        advertised,
                        dir: Some(dir),
                        log,
                        started_in: t0.elapsed(),
                    };
                }
                Err(e) => {
                    send_signal(child.id(), "KILL");
                    let _ = child.wait();
                    failures.push(format!("attempt {attempt} (port {port}): {e}"));
                    if t0.elapsed() >= READY_TIMEOUT {
                        break;
                    }
                }
            }
        }
        let kept = dir.keep();
        panic!(
            "tansu ({}) did not come up:\n  {}\nlast lines of {}:\n{}",
            bin.display(),
            failures.join("\n  "),
            kept.join("tansu.log").display(),
            tail(&kept.join("tansu.log"), 30)
        );
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// How long the last start (or restart) took until the broker answered a metadata request.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The SQLite database file, for a broker from [`Broker::start_sqlite`].
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.storage {
            Storage::Memory => None,
            Storage::Sqlite(file) => Some(file),
        }
    }

    /// Whether the broker process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the broker cleanly: SIGINT, then waits up to 15 s for it to exit. Returns how long
    /// it took. The port and the storage are kept for [`Broker::restart`]; stopping a stopped
    /// broker does nothing.
    ///
    /// # Panics
    /// When tansu does not exit in time (it is then killed).
    pub fn stop(&mut self) -> Duration {
        let t0 = Instant::now();
        if self.is_running() {
            send_signal(self.child.id(), "INT");
            if wait_exit(&mut self.child, CLEAN_STOP_TIMEOUT).is_none() {
                send_signal(self.child.id(), "KILL");
                let _ = self.child.wait();
                panic!(
                    "tansu (pid {}) did not exit within {CLEAN_STOP_TIMEOUT:?} of SIGINT (killed); \
                     last lines of {}:\n{}",
                    self.child.id(),
                    self.log.display(),
                    tail(&self.log, 30)
                );
            }
        }
        t0.elapsed()
    }

    /// Starts a stopped broker again, on the same port with the same storage (only a SQLite
    /// broker keeps its data), and waits (up to 30 s) until it answers a metadata request. It
    /// retries while the port is still taken. Returns how long it took.
    ///
    /// # Panics
    /// When the broker still runs, or does not come up.
    pub fn restart(&mut self) -> Duration {
        assert!(
            !self.is_running(),
            "Broker::restart: tansu (pid {}) still runs: stop it first",
            self.child.id()
        );
        let t0 = Instant::now();
        let deadline = t0 + READY_TIMEOUT;
        let mut failures = Vec::new();
        loop {
            let mut child = spawn_tansu(
                &self.bin,
                self.port,
                self.advertised,
                &self.storage,
                &self.log,
            );
            match wait_ready(&mut child, self.port, deadline) {
                Ok(()) => {
                    self.child = child;
                    self.started_in = t0.elapsed();
                    return self.started_in;
                }
                Err(e) => {
                    send_signal(child.id(), "KILL");
                    let _ = child.wait();
                    failures.push(e);
                    if Instant::now() >= deadline {
                        panic!(
                            "tansu ({}) did not come up again on port {} within {READY_TIMEOUT:?} \
                             ({} attempts, the last: {}); last lines of {}:\n{}",
                            self.bin.display(),
                            self.port,
                            failures.len(),
                            failures.last().map_or("", String::as_str),
                            self.log.display(),
                            tail(&self.log, 30)
                        );
                    }
                    // The port may still be held by the old process's sockets.
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

fn spawn_tansu(
    bin: &Path,
    port: u16,
    advertised: Option<u16>,
    storage: &Storage,
    log: &Path,
) -> Child {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let err = out.try_clone().expect("cannot clone the log file handle");
    let url = format!("tcp://127.0.0.1:{port}");
    let advertised = format!("tcp://127.0.0.1:{}", advertised.unwrap_or(port));
    let (engine, cwd) = storage.engine();
    let mut cmd = Command::new(bin);
    cmd.arg("broker")
        .args([
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised,
        ])
        .args(["--storage-engine", &engine])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // tansu also reads its settings from the environment; flags win, and the optional ones are
    // cleared so that none leaks in from the caller's environment.
    for var in [
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
    ] {
        cmd.env_remove(var);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start tansu ({}): {e}", bin.display()))
}

/// Waits until `port` accepts a TCP connection and the broker answers a metadata request that
/// lists a broker.
fn wait_ready(child: &mut Child, port: u16, deadline: Instant) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Step 1: TCP.
    let mut last_error;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("tansu exited with {status} before listening"));
        }
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_) => break,
            Err(e) => last_error = format!("connect: {e}"),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not listening after {READY_TIMEOUT:?} ({last_error})"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Step 2: a metadata request through librdkafka.
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("log_level", "3")
        .create()
        .map_err(|e| format!("cannot create a metadata client: {e}"))?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("tansu exited with {status}"));
        }
        match client.fetch_metadata(None, Duration::from_secs(1)) {
            Ok(m) if !m.brokers().is_empty() => return Ok(()),
            Ok(_) => last_error = "metadata lists no broker".into(),
            Err(e) => last_error = format!("metadata: {e}"),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no metadata after {READY_TIMEOUT:?} ({last_error})"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Broker {
    /// SIGINT, up to 5 s for tansu to exit, then SIGKILL.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            send_signal(self.child.id(), "INT");
            if wait_exit(&mut self.child, STOP_TIMEOUT).is_none() {
                send_signal(self.child.id(), "KILL");
                let _ = self.child.wait();
            }
        }
        // During a panic keep the log for the post-mortem; otherwise the directory goes.
        if let Some(dir) = self.dir.take().filter(|_| std::thread::panicking()) {
            let kept = dir.keep();
            eprintln!(
                "weir-tests: broker log kept at {}",
                kept.join("tansu.log").display()
            );
        }
    }
}
