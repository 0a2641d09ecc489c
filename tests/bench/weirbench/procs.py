"""The processes the harness starts, and what they cost.

Each system is started in its own session (process group = its PID), so stopping it by its PID
also reaches any children it started. `Usage` samples /proc every 100 ms: CPU seconds (utime +
stime, plus the children's: waited-for ones through cutime/cstime, live ones by walking
/proc/PID/task/*/children) of the system and of the broker, and the system's peak RSS (VmHWM,
summed over its processes).
"""

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.1


class Processes:
    """Everything the harness started; `stop_all` ends what still runs (also on Ctrl-C)."""

    def __init__(self):
        self._running: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, stdout=None, cwd: Path | None = None) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout or out,
                stderr=out,
                cwd=cwd,
                start_new_session=True,
            )
        self._running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 30) -> int:
        """SIGTERM to the process's group, SIGKILL after `grace` seconds; returns its exit code."""
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        if proc in self._running:
            self._running.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in reversed(list(self._running)):
            self.stop(proc, grace=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # Only while the leader is unreaped: its PID (= the group's id) cannot have been reused.
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def cpu_seconds(pid: int, children: bool) -> float | None:
    """utime + stime of `pid` (+ its waited-for children's when `children`); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is the state (field 3)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of `pid` and all its children, live or waited for; None when it is gone."""
    cpu = [c for c in (cpu_seconds(p, children=True) for p in [pid, *descendants(pid)]) if c is not None]
    return sum(cpu) if cpu else None


class Usage(threading.Thread):
    """Samples a system's process tree and the broker's every 100 ms until `stop`."""

    def __init__(self, system_pid: int, broker_pid: int):
        super().__init__(daemon=True)
        self.system_pid = system_pid
        self.broker_pid = broker_pid
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._system_cpu = 0.0
        self._broker_cpu = tree_cpu_seconds(broker_pid)
        self._peak_kb: dict[int, int] = {}

    def run(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> dict:
        tree = [self.system_pid, *descendants(self.system_pid)]
        system = tree_cpu_seconds(self.system_pid)
        broker = tree_cpu_seconds(self.broker_pid)
        with self._lock:
            if system is not None:  # a system that has exited keeps its last figures
                self._system_cpu = max(self._system_cpu, system)
            if broker is not None:
                self._broker_cpu = broker
            for pid in tree:
                self._peak_kb[pid] = max(self._peak_kb.get(pid, 0), peak_rss_kb(pid))
            return {
                "system_cpu_s": self._system_cpu,
                "broker_cpu_s": self._broker_cpu,
                "peak_rss_mb": sum(self._peak_kb.values()) / 1024,
            }

    def stop(self) -> None:
        self._stopping.set()
        self.join()
