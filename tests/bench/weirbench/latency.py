"""The latency phase: fresh products (ids past the data set's, so none is forbidden) written at 50 %
of a system's measured steady rate for `seconds`, then the same number flat out; latency =
receive time at a read_committed consumer (fetch.wait.max.ms=10) - the record's timestamp (its
produce time; weir and the ceiling keep the input's timestamp on output, systems that restamp
get no latency figures). The same loads go through the broker alone first (produced to and
consumed from one topic: the direct hop); a system's added latency = its hop - the direct one.

The system reads an input topic that holds nothing but these records (tansu: `shop-products`
recreated; mock: a fresh cluster), so the data set of later runs stays as it was.
"""

import threading
import time

from .broker import tail
from .data import HOP, PRODUCTS, PROMPT_PRODUCER, Writer, now_ms, product_id, product_number, product_value
from .output import Tap
from .systems import System
from .throughput import Bench

PERCENTILES = {"p50": 0.50, "p99": 0.99, "p999": 0.999}
LOAD_IDLE_SECONDS = 10.0
WARM_UP_SECONDS = 120.0


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {name: None for name in PERCENTILES}
    ordered = sorted(samples)
    return {name: ordered[min(len(ordered) - 1, int(q * len(ordered)))] for name, q in PERCENTILES.items()}


def run_latency(bench: Bench, system: System, steady_rate: float, seconds: float) -> dict:
    count = max(100, int(steady_rate * 0.5 * seconds))
    first = bench.data.records + 1
    paced, flat = range(first, first + count), range(first + count, first + 2 * count)
    direct = {
        "at_50": load(bench, HOP, bench.hop_tap, paced, steady_rate * 0.5),
        "flat_out": load(bench, HOP, bench.hop_tap, flat, None),
    }
    launch, log = bench.launch(system, "latency")
    proc = bench.procs.start(system.command(launch), log)
    try:
        warm = warm_up(bench, proc, range(first + 2 * count, first + 2 * count + 100_000))
        if warm:
            return {"status": "failed", "reason": warm, "log_tail": tail(log), "direct": direct}
        through = {
            "at_50": load(bench, PRODUCTS, bench.tap, paced, steady_rate * 0.5),
            "flat_out": load(bench, PRODUCTS, bench.tap, flat, None),
        }
    finally:
        bench.procs.stop(proc)
    return {
        "status": "ok",
        "records_per_load": count,
        "direct": direct,
        "system": through,
        "added": added(through, direct),
    }


def added(through: dict, direct: dict) -> dict:
    return {
        load: {p: _minus(through[load][p], direct[load][p]) for p in PERCENTILES}
        for load in ("at_50", "flat_out")
    }


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def warm_up(bench: Bench, proc, numbers: range) -> str:
    """Writes a record every 200 ms until one comes out; returns why it failed ('' when it did)."""
    bench.tap.drain(idle=0.5)
    writer = Writer(bench.broker.bootstrap, PROMPT_PRODUCER)
    deadline = time.monotonic() + WARM_UP_SECONDS
    for n in numbers:
        if proc.poll() is not None:
            return f"exited by itself with code {proc.returncode} before its first output"
        if time.monotonic() > deadline:
            return f"no output within {WARM_UP_SECONDS:.0f} s"
        writer.send(PRODUCTS, product_id(n).encode(), product_value(n), now_ms())
        writer.flush()
        if bench.tap.poll(0.2):
            bench.tap.drain(idle=1.0)
            return ""
    return "no output for any warm-up record"


def load(bench: Bench, topic: str, tap: Tap, numbers: range, rate: float | None) -> dict:
    """Writes `numbers` to `topic` at `rate` records/s (None: flat out) while `tap` reads them."""
    tap.drain(idle=0.5)
    written: dict = {}
    writer = threading.Thread(target=_write, args=(bench.broker.bootstrap, topic, numbers, rate, written))
    writer.start()
    latencies = _receive(tap, numbers, written)
    writer.join()
    return {
        "records": len(numbers),
        "received": len(latencies),
        "target_rate": rate,
        "offered_rate": _rate(len(numbers), written.get("offered_seconds")),
        "achieved_rate": _rate(len(numbers), written.get("seconds")),  # all delivered
        **percentiles(latencies),
        "max": max(latencies) if latencies else None,
        "error": written.get("error", ""),
    }


def _rate(records: int, seconds: float | None) -> float | None:
    return records / seconds if seconds else None


def _write(bootstrap: str, topic: str, numbers: range, rate: float | None, written: dict) -> None:
    """The writer thread; `written` gets "seconds" when it is done (and "error" if it failed)."""
    writer = Writer(bootstrap, PROMPT_PRODUCER)
    step = max(1, int((rate or 0) / 1000))  # pace in slices of ~1 ms
    started = time.monotonic()
    try:
        for i, n in enumerate(numbers):
            if rate and i % step == 0:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            writer.send(topic, product_id(n).encode(), product_value(n), now_ms())
            if i % 1000 == 0:
                writer.poll()
        written["offered_seconds"] = time.monotonic() - started
        writer.flush()
    except RuntimeError as e:
        written["error"] = str(e)
    finally:
        written["seconds"] = time.monotonic() - started


def _receive(tap: Tap, numbers: range, written: dict) -> list[float]:
    """Latency (ms) of the first copy of each of `numbers`, until all came or the tap idles."""
    seen = bytearray(len(numbers))
    latencies: list[float] = []
    quiet_since = time.monotonic()
    while len(latencies) < len(numbers):
        records = tap.poll(0.1)
        received_ms = time.time_ns() / 1e6
        if records:
            quiet_since = time.monotonic()
        elif "seconds" in written and time.monotonic() - quiet_since > LOAD_IDLE_SECONDS:
            break
        for record in records:
            i = product_number(record.key()) - numbers.start
            if 0 <= i < len(seen) and not seen[i]:
                seen[i] = 1
                latencies.append(received_ms - record.timestamp()[1])
    return latencies
