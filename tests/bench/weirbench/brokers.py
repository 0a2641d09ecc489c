"""Hands each run a `Bench`: a broker holding the data set.

tansu: ONE broker and ONE data set for the whole invocation, written before any system runs
(forbidden ids first); the latency phase recreates `shop-products` empty for each system.
mock: a fresh cluster per run (it has no CreateTopics/DeleteTopics and keeps at most 5 MiB per
partition): the forbidden ids are written first, then the same products are fed while the
system runs, in rounds of ~MOCK_ROUND_BYTES per partition.
"""

import time
from pathlib import Path

from . import broker as brokers
from .data import (
    DEAD_LETTERS,
    BULK_PRODUCER,
    FORBIDDEN,
    HOP,
    OUTPUT,
    PRODUCTS,
    DataSet,
    Writer,
    create_topics,
    new_timestamps,
    partition_counts,
    produce_forbidden,
    produce_products,
    product_value,
)
from .output import Tap
from .procs import Processes
from .systems import Binaries, System
from .throughput import Bench, Feeder

MOCK_ROUND_BYTES = 2 * 1024 * 1024
RECORD_OVERHEAD_BYTES = 100  # key, headers and batch framing, roughly


class Brokers:
    def __init__(
        self, kind: str, repo: Path, workdir: Path, data: DataSet, procs: Processes, binaries: Binaries
    ):
        self.kind = kind
        self.repo = repo
        self.workdir = workdir
        self.data = data
        self.procs = procs
        self.binaries = binaries
        self.info: dict = {"kind": kind, "warnings": []}
        self._bench: Bench | None = None
        self._mocks = 0

    def throughput(self, system: System) -> tuple[Bench, Feeder | None]:
        if self.kind == "tansu":
            if self._bench is None:
                self._bench = self._prepare(self._start(), preproduce=True)
            return self._bench, None
        self.release()
        self._bench = self._prepare(self._start(), preproduce=False)
        writer = Writer(self._bench.broker.bootstrap, BULK_PRODUCER)
        return self._bench, Feeder(
            writer, self.data, self._mock_rounds(), self._bench.timestamps, system.passthrough
        )

    def latency(self) -> Bench:
        if self.kind == "tansu":
            self._warn(
                create_topics(self._bench.broker.bootstrap, self.data.partitions, recreate=(PRODUCTS,))
            )
            return self._bench
        self.release()
        self._bench = self._prepare(self._start(), preproduce=False)
        return self._bench

    def release(self) -> None:
        """Stops the current broker (tansu: only at the end)."""
        if self._bench is not None:
            self._bench.tap.close()
            self._bench.hop_tap.close()
            self._bench.broker.stop()
            self._bench = None

    def _start(self) -> brokers.Broker:
        if self.kind == "tansu":
            broker = brokers.start_tansu(self.repo, self.workdir)
        else:
            self._mocks += 1
            # The mock cluster has no CreateTopics: every topic a system writes exists up front,
            # product-filter's dead-letter topic included.
            names = (PRODUCTS, FORBIDDEN, OUTPUT, HOP, DEAD_LETTERS)
            topics = [f"{t}:{self.data.partitions}" for t in names]
            broker = brokers.start_mock(self.binaries.weir, self.workdir, self.procs, str(self._mocks), topics)
        self.info.update(version=broker.version, bootstrap=broker.bootstrap)
        return broker

    def _prepare(self, broker: brokers.Broker, preproduce: bool) -> Bench:
        self._warn(create_topics(broker.bootstrap, self.data.partitions))
        self.info["forbidden_written"] = produce_forbidden(broker.bootstrap, self.data, self.data.records)
        counts = partition_counts(broker.bootstrap)
        self.info["partitions"] = counts
        timestamps = new_timestamps(self.data.records)
        if preproduce:
            self._preproduce(broker, timestamps)
        return Bench(
            broker,
            self.data,
            counts.get(PRODUCTS, self.data.partitions),
            timestamps,
            Tap(broker.bootstrap, OUTPUT, counts.get(OUTPUT, self.data.partitions)),
            Tap(broker.bootstrap, HOP, counts.get(HOP, self.data.partitions)),
            self.procs,
            self.workdir,
            self.binaries,
        )

    def _preproduce(self, broker: brokers.Broker, timestamps) -> None:
        started = time.monotonic()
        produce_products(Writer(broker.bootstrap, BULK_PRODUCER), range(1, self.data.records + 1), timestamps)
        seconds = time.monotonic() - started
        self.info["preproduced"] = {
            "records": self.data.records,
            "seconds": seconds,
            "rate": self.data.records / seconds,
        }

    def _mock_rounds(self) -> list[range]:
        per_partition = MOCK_ROUND_BYTES // (len(product_value(1)) + RECORD_OVERHEAD_BYTES)
        size = max(1000, per_partition * self._bench.partitions)
        self.info["mock_round_records"] = size
        return [range(n, min(n + size, self.data.records + 1)) for n in range(1, self.data.records + 1, size)]

    def _warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            if warning not in self.info["warnings"]:
                self.info["warnings"].append(warning)
