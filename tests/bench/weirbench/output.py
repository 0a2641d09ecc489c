"""Reading what the systems write, by consuming (never by trusting high watermarks: tansu's are
wrong for multi-record batches).

A `Tap` is one read_committed consumer of a topic, assigned to all its partitions from the
beginning; `drain` consumes to the end (no record for a short idle time), so what it reads next
is what came after: systems run one after another on one broker, each counted from where the
previous one left the topic. `OutputCheck` compares a run's output with the expected set.
"""

import os
import time
from itertools import count

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from .data import DataSet, client, product_number

BATCH = 10000
_taps = count()


class Tap:
    def __init__(self, bootstrap: str, topic: str, partitions: int):
        self.topic = topic
        settings = {
            "group.id": f"bench-tap-{os.getpid()}-{next(_taps)}",  # assign() only: never joins
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 10,  # tansu holds a fetch for all of it even when data is there
        }
        self._consumer = Consumer(client(bootstrap, **settings))
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        self._partitions = partitions

    def poll(self, timeout: float) -> list:
        """Up to BATCH records; raises on fatal errors (others, e.g. a topic not created yet, pass)."""
        records = self._consumer.consume(BATCH, timeout)
        good = []
        for record in records:
            err = record.error()
            if err is None:
                good.append(record)
            elif err.fatal():
                raise KafkaException(err)
        return good

    def drain(self, idle: float = 2.0) -> int:
        """Consumes until nothing came for `idle` seconds; returns how many records it skipped."""
        skipped, quiet_since = 0, time.monotonic()
        while time.monotonic() - quiet_since < idle:
            got = len(self.poll(0.2))
            if got:
                skipped += got
                quiet_since = time.monotonic()
        return skipped

    def positions(self) -> dict[int, int]:
        """Where the next read starts, per partition (negative: nothing read there yet)."""
        tps = [TopicPartition(self.topic, p) for p in range(self._partitions)]
        return {tp.partition: tp.offset for tp in self._consumer.position(tps)}

    def close(self) -> None:
        self._consumer.close()


class OutputCheck:
    """Which product numbers came out how often, and when (monotonic receive times)."""

    def __init__(self, data: DataSet, passthrough: bool, timestamps):
        self.data = data
        self.passthrough = passthrough
        self.timestamps = timestamps
        self.copies = bytearray(data.records + 1)
        self.expected = data.expected_in(range(1, data.records + 1), passthrough)
        self.records = self.seen = self.duplicated = self.unexpected = self.restamped = 0
        self.first = self.last = None

    def add(self, records: list, received: float) -> None:
        if not records:
            return
        if self.first is None:
            self.first = received
        self.last = received
        self.records += len(records)
        copies, data, stamps = self.copies, self.data, self.timestamps
        for record in records:
            n = product_number(record.key())
            if n < 1 or n > data.records or (not self.passthrough and data.forbidden(n)):
                self.unexpected += 1
                continue
            if copies[n]:
                self.duplicated += 1
            else:
                copies[n] = 1
                self.seen += 1
            if record.timestamp()[1] != stamps[n]:
                self.restamped += 1

    def complete(self) -> bool:
        return self.seen >= self.expected

    def lost_ids(self, limit: int = 10) -> list[str]:
        """Up to `limit` expected ids that never came out."""
        lost = []
        for n in range(1, self.data.records + 1):
            if not self.copies[n] and (self.passthrough or not self.data.forbidden(n)):
                lost.append(f"p-{n:07d}")
                if len(lost) == limit:
                    break
        return lost

    def summary(self) -> dict:
        lost = self.expected - self.seen
        return {
            "expected": self.expected,
            "records_out": self.records,
            "distinct_expected_out": self.seen,
            "lost": lost,
            "duplicated": self.duplicated,
            "unexpected": self.unexpected,
            "correct": lost == 0 and self.duplicated == 0 and self.unexpected == 0,
            "lost_sample": self.lost_ids() if lost else [],
            "keeps_input_timestamps": self.restamped == 0 and self.seen > 0,
            "restamped_records": self.restamped,
        }
