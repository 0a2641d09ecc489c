"""The systems the harness compares: how each is started, and whether it can run here.

Every product system reads `shop-products` (and the forbidden set from `forbidden-products`) and writes
`products`; each run gets a fresh consumer group / application id and state directory. To add a
system, append a `System` to `SYSTEMS`: a name, how to start it from a `Launch`, what it needs,
and whether it passes every record through (like the ceiling) or writes the allowed products
only. Systems of another workload (user-recommendations, a changelog restore: workloads.py) run
after the product systems, on the same broker and product ids.
"""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .broker import SESSION_TIMEOUT_MS

HERE = Path(__file__).resolve().parent.parent  # tests/bench
REPO = HERE.parent.parent
PEERS = HERE / "peers"
PRODUCT_FILTER_YAML = REPO / "topologies" / "definitions" / "product-filter.yaml"


@dataclass(frozen=True)
class Binaries:
    weir: Path
    ceiling: Path


@dataclass(frozen=True)
class Launch:
    """What one run of a system is given."""

    bootstrap: str
    group: str
    state_dir: Path
    partitions: int
    binaries: Binaries


@dataclass(frozen=True)
class System:
    name: str
    description: str
    command: Callable[[Launch], list[str]]
    missing: Callable[[Binaries], str | None]  # why it cannot run here; None: it can
    passthrough: bool = False  # writes every input record (the ceiling), not only allowed ones
    peer: bool = False  # another framework: a column of the ratio table, left out in smoke mode
    workload: str = "products"  # or "recommendations", "restore" (workloads.py; tansu only)


def _executable(path: Path) -> str | None:
    return (
        None if os.access(path, os.X_OK) and path.is_file() else f"{path} is not built (no executable there)"
    )


def _ceiling(launch: Launch) -> list[str]:
    return [
        str(launch.binaries.ceiling),
        "--bootstrap-servers", launch.bootstrap,
        "--input", "shop-products",
        "--output", "products",
        "--group", launch.group,
        "--set", f"consumer.session.timeout.ms={SESSION_TIMEOUT_MS}",
    ]  # fmt: skip


def _weir(topology: list[str], guarantee: str) -> Callable[[Launch], list[str]]:
    def command(launch: Launch) -> list[str]:
        return [
            str(launch.binaries.weir), "run", *topology,
            "--bootstrap-servers", launch.bootstrap,
            "--state-dir", str(launch.state_dir),
            "--processing-guarantee", guarantee,
            "--set", f"application.id={launch.group}",
            "--set", f"session.timeout.ms={SESSION_TIMEOUT_MS}",
        ]  # fmt: skip

    return command


def _peer(script: str, *extra: str) -> Callable[[Launch], list[str]]:
    def command(launch: Launch) -> list[str]:
        return [
            sys.executable, str(PEERS / script),
            "--bootstrap-servers", launch.bootstrap,
            "--group", launch.group,
            "--state-dir", str(launch.state_dir),
            "--session-timeout-ms", str(SESSION_TIMEOUT_MS),
            *(a.format(partitions=launch.partitions) for a in extra),
        ]  # fmt: skip

    return command


def _weir_missing(binaries: Binaries) -> str | None:
    return _executable(binaries.weir)


RUST = ["--topology", "product-filter"]
YAML = ["-f", str(PRODUCT_FILTER_YAML)]
RECS = ["--topology", "user-recommendations"]

SYSTEMS = [
    System(
        "ceiling",
        "librdkafka consume -> produce pass-through with weir's client settings (copies every record)",
        _ceiling,
        lambda b: _executable(b.ceiling),
        passthrough=True,
    ),
    System(
        "weir-rust-alos",
        "weir product-filter, Rust DSL, at_least_once",
        _weir(RUST, "at_least_once"),
        _weir_missing,
    ),
    System(
        "weir-rust-eos",
        "weir product-filter, Rust DSL, exactly_once_v2",
        _weir(RUST, "exactly_once_v2"),
        _weir_missing,
    ),
    System(
        "weir-yaml-alos",
        "weir product-filter, YAML twin, at_least_once",
        _weir(YAML, "at_least_once"),
        _weir_missing,
    ),
    System(
        "weir-yaml-eos",
        "weir product-filter, YAML twin, exactly_once_v2",
        _weir(YAML, "exactly_once_v2"),
        _weir_missing,
    ),
    System(
        "quix",
        "quixstreams 3.x, forbidden set in a RocksDB join_asof store",
        _peer("quix_filter.py"),
        lambda _: None,
        peer=True,
    ),
    System(
        "faust",
        "faust-streaming 0.15.x, forbidden set in a Table (changelog: forbidden-products)",
        _peer("faust_filter.py", "--partitions", "{partitions}"),
        lambda _: None,
        peer=True,
    ),
    System(
        "weir-recs-alos",
        "weir user-recommendations, Rust DSL, at_least_once: searches, then requests answered",
        _weir(RECS, "at_least_once"),
        _weir_missing,
        workload="recommendations",
    ),
    System(
        "weir-recs-eos",
        "weir user-recommendations, Rust DSL, exactly_once_v2: searches, then requests answered",
        _weir(RECS, "exactly_once_v2"),
        _weir_missing,
        workload="recommendations",
    ),
    System(
        "weir-restore",
        "weir user-recommendations restoring its user-interests store from a changelog of N records",
        _weir(RECS, "at_least_once"),
        _weir_missing,
        workload="restore",
    ),
]

BY_NAME = {s.name: s for s in SYSTEMS}
