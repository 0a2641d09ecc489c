"""The broker the systems share: tansu (scripts/broker.sh, in-memory storage) or librdkafka's
mock cluster (`weir mock-broker --port 0`, which prints `bootstrap 127.0.0.1:PORT` first and runs
until SIGTERM).

tansu answers a consumer group's first JoinGroup after session.timeout.ms / 2, so every group
member here uses session.timeout.ms = 6000 (a ~3 s join wait, in start-to-first-output), and its
latest offset is wrong for multi-record batches, so output is counted by consuming. The mock
cluster keeps at most 100,000 batches / 5 MiB per partition (older data is dropped silently) and
has no CreateTopics/DeleteTopics: each system gets a fresh one, fed in rounds.
"""

import selectors
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import Processes

SESSION_TIMEOUT_MS = 6000
JOIN_NOTE = (
    f"every group member uses session.timeout.ms={SESSION_TIMEOUT_MS}: tansu answers a group's "
    f"first JoinGroup after session.timeout.ms/2 (~{SESSION_TIMEOUT_MS // 2000} s), which is part "
    "of start-to-first-output"
)


class Unavailable(Exception):
    """The broker cannot be started here (the reason is the message)."""


@dataclass
class Broker:
    kind: str  # "tansu" | "mock"
    bootstrap: str
    pid: int
    version: str
    log: Path
    _stop: object  # () -> None

    def stop(self) -> None:
        self._stop()

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log, lines)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_tansu(repo: Path, workdir: Path) -> Broker:
    script = repo / "scripts" / "broker.sh"
    directory = workdir / "tansu"
    binary = subprocess.run([script, "bin"], check=True, capture_output=True, text=True).stdout.strip()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    done = subprocess.run([script, "start", directory], capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"scripts/broker.sh start failed: {done.stderr.strip()}")
    pid = int((directory / "broker.pid").read_text())
    return Broker(
        "tansu",
        done.stdout.strip().splitlines()[-1],
        pid,
        version or "tansu",
        directory / "tansu.log",
        lambda: subprocess.run([script, "stop", directory], check=False),
    )


def start_mock(weir_bin: Path, workdir: Path, procs: Processes, name: str, topics: list[str]) -> Broker:
    """`weir mock-broker`, creating `topics` (`NAME:PARTITIONS`: the mock cluster has no
    CreateTopics API)."""
    if not shutil.which(str(weir_bin)):
        raise Unavailable(f"{weir_bin} does not exist or is not executable")
    log = workdir / f"mock-broker-{name}.log"
    args = [str(weir_bin), "mock-broker", "--port", "0"]
    for t in topics:
        args += ["--topic", t]
    proc = procs.start(args, log, stdout=subprocess.PIPE)
    line = _first_line(proc, timeout=15)
    if not line.startswith("bootstrap "):
        procs.stop(proc, grace=5)
        said = tail(log, 5).replace("\n", " | ")
        raise Unavailable(
            f"`{weir_bin} mock-broker --port 0` printed no `bootstrap HOST:PORT` line "
            f"(first line: {line!r}; exit code {proc.poll()}); its log: {said}"
        )
    threading.Thread(target=_copy_rest, args=(proc, log), daemon=True).start()
    version = subprocess.run([str(weir_bin), "--version"], capture_output=True, text=True).stdout.strip()
    return Broker(
        "mock",
        line.split()[1],
        proc.pid,
        f"librdkafka mock cluster ({version})",
        log,
        lambda: procs.stop(proc),
    )


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            return proc.stdout.readline().decode(errors="replace").strip()
        if proc.poll() is not None:
            return ""
    return ""


def _copy_rest(proc: subprocess.Popen, log: Path) -> None:
    """Keeps the mock broker's stdout drained (a full pipe would block it)."""
    with open(log, "ab") as out:
        for line in proc.stdout:
            out.write(line)
