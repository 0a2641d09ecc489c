"""The command line and the order of work: the data set on the broker, every system's throughput
run (one system at a time, `--rounds` times), then every system's latency run, then the tables
and the JSON. Every process it started is stopped, also on Ctrl-C or a failure; a system that
fails is reported with the tail of its log and the next one runs.
"""

import argparse
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import report, venv
from .broker import JOIN_NOTE, Unavailable
from .brokers import Brokers
from .data import CLIENT_LOG, DataSet
from .latency import run_latency
from .procs import Processes
from .systems import BY_NAME, REPO, SYSTEMS, Binaries, System
from .throughput import run_throughput
from .workloads import Workloads

NOTES = [
    "output is counted by consuming `products` with a read_committed consumer (tansu's high "
    "watermarks are wrong for multi-record batches); each system is counted from where the "
    "previous one left the topic",
    "the harness's own producer and consumer (Python) share the machine with the system and the "
    "broker; the broker's CPU includes serving them",
    "CPU per record = CPU seconds up to the last expected output / input records",
]
MOCK_NOTE = (
    "mock cluster: a fresh one per run (no CreateTopics/DeleteTopics); it keeps at most 100k "
    "batches / 5 MiB per partition, so the products are fed while the system runs, in rounds "
    "(the next when the output caught up): its wall time and steady rate include those pauses, and "
    "its transactions do not isolate (read_committed sees uncommitted records)"
)


def parse(argv: list[str]) -> argparse.Namespace:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "weir" / "target"))
    p = argparse.ArgumentParser(
        prog="bench.py", description="weir side by side with a librdkafka ceiling and its peers"
    )
    p.add_argument("--records", type=int, help="products in the data set (default 1,000,000; smoke: 5,000)")
    p.add_argument("--partitions", type=int, help="partitions of every topic (default 8; smoke: 2)")
    p.add_argument("--forbidden-share", type=float, default=0.01, help="share of product ids forbidden")
    p.add_argument("--broker", choices=("tansu", "mock"), default="tansu")
    p.add_argument("--systems", help=f"comma-separated, of: {', '.join(BY_NAME)} (default: all available)")
    p.add_argument("--smoke", action="store_true", help="seconds: small data, no peers, no latency phase")
    p.add_argument("--no-latency", action="store_true", help="skip the latency phase")
    p.add_argument("--latency-seconds", type=float, default=20, help="length of the 50%%-rate load")
    p.add_argument("--rounds", type=int, default=1, help="throughput runs per system")
    p.add_argument("--restore-records", type=int, help="changelog records of weir-restore (default: --records)")
    p.add_argument("--json", type=Path, help="where to write the results (default: in the work directory)")
    p.add_argument("--weir-bin", type=Path, default=target / "debug" / "weir")
    p.add_argument("--ceiling-bin", type=Path, default=target / "debug" / "weir-bench-ceiling")
    args = p.parse_args(argv)
    args.records = args.records or (5000 if args.smoke else 1_000_000)
    args.partitions = args.partitions or (2 if args.smoke else 8)
    args.latency = not (args.smoke or args.no_latency)
    return args


def choose(args: argparse.Namespace, binaries: Binaries) -> tuple[list[System], dict[str, str], bool]:
    """The systems to run, why the others cannot, and whether a system asked for by name is missing."""
    if args.systems:
        unknown = [n for n in args.systems.split(",") if n not in BY_NAME]
        if unknown:
            sys.exit(f"bench: unknown system(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        wanted = [BY_NAME[n] for n in args.systems.split(",")]
    else:
        wanted = [s for s in SYSTEMS if not (args.smoke and s.peer)]
    missing = {s.name: s.missing(binaries) for s in wanted if s.missing(binaries)}
    if args.broker == "mock":
        missing.update({s.name: "the mock cluster is for the Rust systems" for s in wanted if s.peer})
        missing.update(
            {s.name: "on tansu only (its topics are made on demand)" for s in wanted if s.workload != "products"}
        )
    chosen = [s for s in wanted if s.name not in missing]
    return chosen, missing, bool(args.systems) and bool(missing)


def main(argv: list[str]) -> int:
    args = parse(argv)
    binaries = Binaries(args.weir_bin, args.ceiling_bin)
    systems, missing, asked_missing = choose(args, binaries)
    workdir = Path(tempfile.mkdtemp(prefix="weir-bench-"))
    data = DataSet.create(args.records, args.partitions, args.forbidden_share)
    _log_clients_to(workdir / "kafka-clients.log")
    _header(args, data, systems, missing, workdir)
    signal.signal(signal.SIGTERM, _interrupt)
    procs = Processes()
    brokers = Brokers(args.broker, REPO, workdir, data, procs, binaries)
    runs, latency, others, problem = [], {}, [], ""
    products = [s for s in systems if s.workload == "products"]
    try:
        throughput_pass(brokers, products, args.rounds, runs)
        workload_pass(
            brokers, [s for s in systems if s.workload != "products"], others, args.restore_records
        )
        if args.latency:
            latency_pass(brokers, products, report.summarize(runs), args.latency_seconds, latency)
    except Unavailable as e:
        problem = f"{args.broker} broker unavailable: {e}"
    except KeyboardInterrupt:
        problem = "interrupted"
    finally:
        procs.stop_all()
        brokers.release()
    return finish(args, data, brokers, runs, latency, others, missing, workdir, problem, asked_missing)


def _log_clients_to(path: Path) -> None:
    CLIENT_LOG.addHandler(logging.FileHandler(path))
    CLIENT_LOG.setLevel(logging.INFO)
    CLIENT_LOG.propagate = False


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def _header(args, data: DataSet, systems: list[System], missing: dict, workdir: Path) -> None:
    forbidden = f"every {data.forbidden_every}th id forbidden" if data.forbidden_every else "none forbidden"
    print(
        f"bench: {data.records:,} products, {data.partitions} partitions, {forbidden}, broker {args.broker}"
    )
    print(f"bench: systems: {', '.join(s.name for s in systems) or 'none'}; work directory {workdir}")
    for name, why in missing.items():
        print(f"bench: skipping {name}: {why}")
    for note in ([JOIN_NOTE] if args.broker == "tansu" else [MOCK_NOTE]) + NOTES:
        print(f"note: {note}")
    sys.stdout.flush()


def throughput_pass(brokers: Brokers, systems: list[System], rounds: int, runs: list[dict]) -> None:
    """Appends each run to `runs` as it ends (an interrupted pass keeps what it measured)."""
    for round_no in range(1, rounds + 1):
        for system in systems:
            bench, feeder = brokers.throughput(system)
            print(f"\n== {system.name} (round {round_no}): {system.description}", flush=True)
            try:
                run = run_throughput(bench, system, str(round_no), feeder)
            except Exception as e:  # one system's failure (or its broker's) must not end the others
                run = {"system": system.name, "round": str(round_no), "status": "failed", "reason": repr(e)}
            print(_run_line(run), flush=True)
            runs.append(run)


def workload_pass(
    brokers: Brokers, systems: list[System], others: list[dict], restore_records: int | None
) -> None:
    """Runs user-recommendations and restore systems (workloads.py) on the throughput broker."""
    for system in systems:
        print(f"\n== {system.name}: {system.description}", flush=True)
        bench, _ = brokers.throughput(system)
        workloads = Workloads(
            bench.broker, bench.data, bench.procs, bench.workdir, bench.binaries, restore_records
        )
        try:
            run = getattr(workloads, system.workload)(system)
        except Exception as e:  # as in throughput_pass
            run = {"system": system.name, "status": "failed", "correct": False, "reason": repr(e)}
        print(f"   {report.workload_line(run)}", flush=True)
        others.append(run)


def _run_line(run: dict) -> str:
    if "lost" not in run:
        return f"   FAILED: {run['reason']}\n{run.get('log_tail', '')}"
    num = report.num
    line = (
        f"   {run['status']}: out {run['records_out']:,} (lost {run['lost']}, "
        f"duplicated {run['duplicated']}, unexpected {run['unexpected']}); "
        f"steady {num(run.get('steady_rate'))} rec/s; CPU {num(run.get('cpu_us_per_record'), 2)} µs/rec "
        f"(broker {num(run.get('broker_cpu_us_per_record'), 2)}); RSS {num(run.get('peak_rss_mb'))} MB; "
        f"first output after {num(run.get('first_output_s'), 2)} s"
    )
    if run["status"] != "ok":
        line += f"\n   {run['status'].upper()}: {run['reason']}\n{run.get('log_tail', '')}"
    return line


def latency_pass(
    brokers: Brokers, systems: list[System], summary: dict, seconds: float, latency: dict
) -> None:
    """Adds each system's latency figures to `latency` as they come."""
    for system in systems:
        s = summary.get(system.name, {})
        if not s.get("max_steady_rate"):
            latency[system.name] = {"status": "skipped", "note": "no steady rate measured"}
            continue
        if not s["keeps_input_timestamps"]:
            latency[system.name] = {"status": "skipped", "note": "n/a: restamps its output records"}
            continue
        print(
            f"\n== latency: {system.name} at {s['max_steady_rate'] / 2:,.0f} rec/s and flat out", flush=True
        )
        try:
            latency[system.name] = run_latency(brokers.latency(), system, s["max_steady_rate"], seconds)
        except Exception as e:  # as in throughput_pass
            latency[system.name] = {"status": "failed", "reason": repr(e)}
        print(f"   {_latency_line(latency[system.name])}", flush=True)


def _latency_line(lat: dict) -> str:
    if lat["status"] != "ok":
        return f"{lat['status']}: {lat.get('reason', '')}"
    system, direct = lat["system"], lat["direct"]
    return "; ".join(
        f"{label}: {report.triple(system[load])} ms (broker alone {report.triple(direct[load])})"
        for label, load in (("at 50%", "at_50"), ("flat out", "flat_out"))
    )


def finish(
    args, data, brokers, runs, latency, others, missing, workdir: Path, problem: str, asked_missing: bool
) -> int:
    summary = report.summarize(runs)
    peers = [s.name for s in SYSTEMS if s.peer]
    ratios = report.ratios(summary, peers)
    print("\n## Results\n")
    if problem:
        print(f"**{problem}**\n")
    print(report.main_table(summary, latency))
    if args.rounds > 1:
        print("\n" + report.runs_table(runs))
    if latency:
        print("\n" + report.latency_table(latency))
    if others:
        print("\n" + report.workload_table(others))
    if any(ratios.values()):
        print("\n" + report.ratio_table(ratios, ["ceiling", *peers]))
    path = args.json or workdir / "bench.json"
    document = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(),
        "versions": versions(args),
        "broker": brokers.info,
        "dataset": data.summary(),
        "notes": ([JOIN_NOTE] if args.broker == "tansu" else [MOCK_NOTE]) + NOTES,
        "skipped": missing,
        "problem": problem,
        "runs": runs,
        "summary": summary,
        "latency": latency,
        "workloads": others,
        "ratios": ratios,
    }
    path.write_text(json.dumps(document, indent=2))
    print(f"\nbench: wrote {path}; logs in {workdir}")
    bad = (
        problem
        or asked_missing
        or not (runs or others)
        or any(not r.get("correct") for r in runs + others)
    )
    return 1 if bad else 0


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "cpu": model,
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def versions(args) -> dict:
    import confluent_kafka

    return {
        "python": platform.python_version(),
        "librdkafka (Python client's)": confluent_kafka.libversion()[0],
        **venv.installed(),
        "weir": _output([str(args.weir_bin), "--version"]),
        "git": _output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "not available"
