"""The data set: product and forbidden-id records in the formats weir's product-filter expects,
the topics they live in, and writing them.

Formats (topologies/definitions/product-filter.yaml, topologies/src/model.rs and generate.rs):
* `shop-products`: key = product id (UTF-8), value = a JSON `Product` (`product_id`, `name`,
  `shop_id`, `category`: strings; `price`: a number), ~170 bytes here;
* `forbidden-products`: key = product id, value = the reason as plain UTF-8 (the YAML's
  `value: string`; generate.rs writes `sample data: forbidden product`).

Product numbers are 1..records (ids `p-0000001`...); the forbidden set is every k-th number,
k = round(1 / forbidden share), as generate.rs forbids every 10th id. Ids past `records` are
fresh records for the latency phase.
"""

import logging
import time
from array import array
from dataclasses import dataclass

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

PRODUCTS = "shop-products"
FORBIDDEN = "forbidden-products"
OUTPUT = "products"
DEAD_LETTERS = "shop-products-dlq"  # product-filter's dead-letter topic (its config)
HOP = "bench-hop"  # the broker alone: produced and consumed directly (latency phase)
REASON = b"sample data: forbidden product"

_ADJECTIVES = ("red", "small", "sturdy", "vintage", "smart", "light", "classic", "quiet")
_NOUNS = ("lamp", "kettle", "racket", "novel", "drill", "tent", "puzzle", "guitar")
_MATERIALS = ("walnut", "brushed steel", "linen", "oak", "recycled plastic", "bamboo")
_CATEGORIES = ("books", "garden", "kitchen", "music", "outdoor", "sports", "toys", "tools")

# Pre-production favours throughput; the latency phase's producer sends within 5 ms (tansu takes
# small batches slowly: at linger.ms=1 it fell behind 5,000 records/s).
BULK_PRODUCER = {"linger.ms": 50, "batch.num.messages": 10000, "queue.buffering.max.messages": 500000}
PROMPT_PRODUCER = {"linger.ms": 5, "queue.buffering.max.messages": 500000}
# One record per batch: tansu's latest offset is wrong for multi-record batches, and faust's table
# recovery trusts it (it would recover nothing).
SINGLE_RECORD_BATCHES = {"linger.ms": 0, "batch.num.messages": 1}


# librdkafka's logs of the harness's own clients (cli.py sends them to a file: the brokers
# stopping between runs would otherwise fill the terminal with connection errors).
CLIENT_LOG = logging.getLogger("bench.kafka")


def client(bootstrap: str, **settings) -> dict:
    """A harness client's configuration."""
    return {"bootstrap.servers": bootstrap, "logger": CLIENT_LOG, **settings}


def product_id(n: int) -> str:
    return f"p-{n:07d}"


def product_number(key: bytes | None) -> int:
    """The number of a `p-NNNNNNN` key; -1 for anything else."""
    if not key or not key.startswith(b"p-"):
        return -1
    try:
        return int(key[2:])
    except ValueError:
        return -1


def product_value(n: int) -> bytes:
    """A product's JSON value, a deterministic function of its number (~170 bytes)."""
    h = (n * 2654435761) % 4294967296
    name = (
        f"{_ADJECTIVES[h % 8]} {_ADJECTIVES[(h >> 3) % 8]} {_NOUNS[(h >> 6) % 8]} in "
        f"{_MATERIALS[(h >> 9) % 6]}, spring catalogue, with matching case, model {n:07d}"
    )
    return (
        f'{{"product_id":"{product_id(n)}","name":"{name}","shop_id":"s-{1 + (h >> 12) % 50:03d}",'
        f'"category":"{_CATEGORIES[(h >> 18) % 8]}","price":{1 + (h >> 20) % 500}.{h % 100:02d}}}'
    ).encode()


@dataclass(frozen=True)
class DataSet:
    records: int
    partitions: int
    forbidden_every: int  # 0: nothing is forbidden

    @classmethod
    def create(cls, records: int, partitions: int, forbidden_share: float) -> "DataSet":
        every = round(1 / forbidden_share) if forbidden_share > 0 else 0
        return cls(records, partitions, every)

    def forbidden(self, n: int) -> bool:
        return self.forbidden_every > 0 and n % self.forbidden_every == 0

    def forbidden_numbers(self, last: int) -> range:
        """Forbidden numbers up to `last` (the data set's and the latency phase's ids)."""
        return (
            range(self.forbidden_every, last + 1, self.forbidden_every) if self.forbidden_every else range(0)
        )

    def expected_in(self, numbers: range, passthrough: bool) -> int:
        """How many of `numbers` a system must write (a pass-through writes them all)."""
        if passthrough or not self.forbidden_every:
            return len(numbers)
        return sum(1 for n in numbers if not self.forbidden(n))

    def summary(self) -> dict:
        forbidden = len(self.forbidden_numbers(self.records))
        return {
            "records": self.records,
            "partitions": self.partitions,
            "forbidden_every": self.forbidden_every,
            "forbidden_ids": forbidden,
            "allowed_records": self.records - forbidden,
            "product_bytes": len(product_value(1)),
        }


def create_topics(bootstrap: str, partitions: int, recreate: tuple[str, ...] = ()) -> list[str]:
    """Creates the harness's topics (P partitions each; the forbidden set compacted and
    co-partitioned with the products, as quixstreams' join and faust's Table need); deletes
    `recreate` first. Returns warnings (a broker without CreateTopics auto-creates on use)."""
    admin = AdminClient(client(bootstrap))
    warnings = _wait_all(admin.delete_topics(list(recreate), operation_timeout=30)) if recreate else []
    if recreate:
        _wait_gone(admin, recreate)
    # tansu describes only a topic's explicit settings and quixstreams reads `retention.ms`.
    keep = {"retention.ms": "-1"}
    topics = [
        NewTopic(PRODUCTS, partitions, 1, config=keep),
        NewTopic(FORBIDDEN, partitions, 1, config={**keep, "cleanup.policy": "compact"}),
        NewTopic(OUTPUT, partitions, 1, config=keep),
        NewTopic(HOP, partitions, 1, config=keep),
    ]
    futures = admin.create_topics(topics, operation_timeout=30)
    return warnings + [w for w in _wait_all(futures) if "already exists" not in w.lower()]


def _wait_all(futures: dict) -> list[str]:
    warnings = []
    for topic, future in futures.items():
        try:
            future.result()
        except KafkaException as e:
            warnings.append(f"{topic}: {e.args[0].str()}")
    return warnings


def _wait_gone(admin: AdminClient, topics: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not set(topics) & set(admin.list_topics(timeout=10).topics):
            return
        time.sleep(0.2)


def partition_counts(bootstrap: str) -> dict[str, int]:
    """Partitions per topic, asked one topic at a time by a producer (so a broker that creates
    topics on first use, as the mock cluster does, creates them now)."""
    producer = Producer(client(bootstrap))
    counts = {}
    for name in (PRODUCTS, FORBIDDEN, OUTPUT, HOP):
        topic = producer.list_topics(topic=name, timeout=10).topics.get(name)
        if topic is not None and topic.error is None:
            counts[name] = len(topic.partitions)
    return counts


class Writer:
    """A producer that counts failed deliveries (a data set with holes is no data set)."""

    def __init__(self, bootstrap: str, settings: dict):
        self.failed = 0
        self.last_error = ""
        self._producer = Producer(client(bootstrap, **settings, on_delivery=self._delivered))

    def _delivered(self, err, _msg) -> None:
        if err is not None:
            self.failed += 1
            self.last_error = str(err)

    def send(self, topic: str, key: bytes, value: bytes, timestamp_ms: int) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, timestamp=timestamp_ms)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.05)

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self) -> None:
        remaining = self._producer.flush(120)
        if remaining or self.failed:
            raise RuntimeError(
                f"producing failed: {self.failed} records not delivered, {remaining} still queued "
                f"({self.last_error or 'flush timed out'})"
            )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def produce_forbidden(bootstrap: str, data: DataSet, last: int) -> int:
    """Writes the forbidden ids up to `last`; returns how many."""
    writer = Writer(bootstrap, SINGLE_RECORD_BATCHES)
    numbers = data.forbidden_numbers(last)
    for n in numbers:
        writer.send(FORBIDDEN, product_id(n).encode(), REASON, now_ms())
    writer.flush()
    return len(numbers)


def produce_products(
    writer: Writer, numbers: range, timestamps: array | None = None, topic: str = PRODUCTS
) -> None:
    """Writes the products `numbers`, record timestamp = produce time (kept in `timestamps`)."""
    for i, n in enumerate(numbers):
        ts = now_ms()
        if timestamps is not None:
            timestamps[n] = ts
        writer.send(topic, product_id(n).encode(), product_value(n), ts)
        if i % 10000 == 0:
            writer.poll()
    writer.flush()


def new_timestamps(records: int) -> array:
    """Input record timestamps by product number (0: not produced)."""
    return array("q", bytes(8 * (records + 1)))
