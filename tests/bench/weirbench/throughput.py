"""One system's throughput run: start it on the data set, count its output by consuming until
every expected record came out (or it fails, stalls or times out), stop it, and compute the
figures.

Clocks: wall = process start -> last expected output seen; steady rate = output records between
the first and the last output, by the harness consumer's receive time; CPU and peak RSS are
sampled up to the last expected output (the system's process tree; the broker's CPU over the
same window). A run stops early when its output is idle for IDLE_SECONDS after it began (a
system that loses records never completes) and fails after `timeout` seconds or when the
system exits by itself.
"""

import os
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

from .broker import Broker, tail
from .data import DataSet, Writer, produce_products
from .output import OutputCheck, Tap
from .procs import Processes, Usage
from .systems import Binaries, Launch, System

IDLE_SECONDS = 15.0
GRACE_SECONDS = 1.0  # after the last expected record: late duplicates still count
LOG_LINES = 25


@dataclass
class Bench:
    """A broker holding the data set, and what every run on it shares."""

    broker: Broker
    data: DataSet
    partitions: int  # as the broker has them (the mock cluster may differ from --partitions)
    timestamps: array
    tap: Tap  # `products`
    hop_tap: Tap  # the direct hop's topic
    procs: Processes
    workdir: Path
    binaries: Binaries

    def launch(self, system: System, tag: str) -> tuple[Launch, Path]:
        group = f"bench-{system.name}-{tag}-{os.getpid()}"
        state = self.workdir / "state" / group
        state.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{group}.log"
        return Launch(self.broker.bootstrap, group, state, self.partitions, self.binaries), log


class Feeder:
    """Writes the products while a system runs, in rounds (the mock cluster's retention); the
    next round goes out when the output caught up with the previous ones, or was idle 5 s."""

    def __init__(
        self, writer: Writer, data: DataSet, rounds: list[range], timestamps: array, passthrough: bool
    ):
        self.writer = writer
        self.rounds = rounds
        self.timestamps = timestamps
        self.caught_up_at = []  # expected outputs once rounds[:i + 1] are processed
        for numbers in rounds:
            before = self.caught_up_at[-1] if self.caught_up_at else 0
            self.caught_up_at.append(before + data.expected_in(numbers, passthrough))
        self.fed = 0
        self.fed_at = 0.0

    def feed(self, check: OutputCheck, now: float) -> None:
        if self.fed == len(self.rounds):
            return
        caught_up = self.fed == 0 or check.seen >= self.caught_up_at[self.fed - 1]
        idle = now - max(check.last or 0.0, self.fed_at) > 5.0
        if caught_up or idle:
            produce_products(self.writer, self.rounds[self.fed], self.timestamps)
            self.fed += 1
            self.fed_at = time.monotonic()


def timeout_for(records: int) -> float:
    """Seconds a run may take: start-up plus ~2,000 records/s (faust's pace is ~3,500)."""
    return 120 + records / 2000


def run_throughput(bench: Bench, system: System, tag: str, feeder: Feeder | None) -> dict:
    launch, log = bench.launch(system, tag)
    skipped = bench.tap.drain()
    positions = bench.tap.positions()
    check = OutputCheck(bench.data, system.passthrough, bench.timestamps)
    proc = bench.procs.start(system.command(launch), log)
    started = time.monotonic()
    usage = Usage(proc.pid, bench.broker.pid)
    broker_cpu_before = usage.sample()["broker_cpu_s"]
    usage.start()
    try:
        outcome = _wait_for_output(bench.tap, check, proc, feeder, timeout_for(bench.data.records))
        at_end = {**usage.sample(), "records": check.records, "first": check.first, "last": check.last}
        if outcome == "complete":
            _count_for(bench.tap, check, GRACE_SECONDS)
    finally:
        usage.stop()
        exit_code = bench.procs.stop(proc)
    _count_until_idle(bench.tap, check)
    return {
        "system": system.name,
        "round": tag,
        "group": launch.group,
        "skipped_before_start": skipped,  # `products` records of earlier runs
        "products_positions_at_start": positions,
        "exit_code_after_stop": exit_code,
        **_status(outcome, check, log),
        **_figures(bench.data.records, started, at_end, broker_cpu_before),
        **check.summary(),
    }


def _wait_for_output(tap: Tap, check: OutputCheck, proc, feeder: Feeder | None, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if feeder:
            feeder.feed(check, now)
        if check.complete():
            return "complete"
        if proc.poll() is not None:
            return f"exited by itself with code {proc.returncode}"
        if now > deadline:
            return f"timed out after {timeout:.0f} s"
        if check.last is not None and now - check.last > IDLE_SECONDS:
            return f"output idle for {IDLE_SECONDS:.0f} s"
        check.add(tap.poll(0.2), time.monotonic())


def _count_for(tap: Tap, check: OutputCheck, seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        check.add(tap.poll(0.1), time.monotonic())


def _count_until_idle(tap: Tap, check: OutputCheck, idle: float = 2.0) -> None:
    """What the stopped system wrote last (a final flush, a duplicate) still counts."""
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < idle:
        records = tap.poll(0.2)
        if records:
            check.add(records, time.monotonic())
            quiet_since = time.monotonic()


def _status(outcome: str, check: OutputCheck, log: Path) -> dict:
    if outcome == "complete":
        return {"status": "ok", "reason": "", "log_tail": ""}
    if outcome.startswith("output idle"):
        return {"status": "incomplete", "reason": outcome, "log_tail": ""}
    reason = outcome if check.first is not None else f"{outcome}, before any output"
    return {"status": "failed", "reason": reason, "log_tail": tail(log, LOG_LINES)}


def _figures(records: int, started: float, at_end: dict, broker_before: float | None) -> dict:
    """The figures as they stood when the last expected record came out (or the run ended)."""
    if at_end["first"] is None:
        return {"records_in": records}
    window = at_end["last"] - at_end["first"]
    cpu = at_end["system_cpu_s"]
    broker_cpu = at_end["broker_cpu_s"] - broker_before if broker_before is not None else None
    return {
        "records_in": records,
        "wall_s": at_end["last"] - started,
        "first_output_s": at_end["first"] - started,
        "steady_window_s": window,
        "steady_rate": (at_end["records"] - 1) / window if window > 0 else None,
        "cpu_s": cpu,
        "broker_cpu_s": broker_cpu,
        "cpu_us_per_record": cpu / records * 1e6,
        "broker_cpu_us_per_record": broker_cpu / records * 1e6 if broker_cpu is not None else None,
        "peak_rss_mb": at_end["peak_rss_mb"],
    }
