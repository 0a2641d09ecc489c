"""The workloads beside product filtering, on the same tansu broker and the same product ids:

* `recommendations`: weir's user-recommendations. `client-searches` gets one search per product
  record (users `u-00000`..., each search names a product of the data set, 1 % of them
  forbidden), then `client-recommendation-requests` one request per 10 searches. Every request
  must be answered once on `client-recommendations`, and no answer may name a forbidden
  product. Figures: input records (searches + requests) per second from start to the last
  answer, CPU µs per input record, peak RSS.
* `restore`: a fresh user-recommendations worker whose `user-interests` changelog holds N
  records (one per user, N = the data set's size). Probe requests (PROBES users spread over
  every partition) are answered only once their task restored; restore time = start → last
  probe answer, less the same with an empty changelog (the group join and start-up). Each
  answer is checked against the restored value.

Requests and changelog records are keyed by user id and partitioned as Java clients (and weir's
repartition topics) do (`murmur2_random`), so a request meets its user's interests.
"""

import json
import time
from pathlib import Path

from .broker import Broker
from .data import BULK_PRODUCER, DataSet, Writer, _wait_gone, client, now_ms, product_id
from .output import Tap
from .procs import Processes, Usage
from .systems import Binaries, Launch, System

SEARCHES = "client-searches"
REQUESTS = "client-recommendation-requests"
ANSWERS = "client-recommendations"
INTEREST_STORE = "user-interests"
JAVA_PARTITIONER = {"partitioner": "murmur2_random"}
SEARCHES_PER_REQUEST = 10
SEARCHES_PER_USER = 100
PROBES = 64
CATEGORIES = ("books", "garden", "kitchen", "music", "outdoor", "sports", "toys", "tools")
IDLE_SECONDS = 30.0


def user_id(u: int) -> str:
    return f"u-{u:05d}"


def _search(data: DataSet, i: int, users: int) -> tuple[str, bytes]:
    n = 1 + (i * 7919) % data.records  # every product number, in a scattered order
    user = user_id(i % users)
    value = {
        "user_id": user,
        "query": f"q{n % 97}",
        "product_id": product_id(n),
        "category": CATEGORIES[n % 8],
        "ts": i,
    }
    return user, json.dumps(value, separators=(",", ":")).encode()


def _request(user: str, request_id: str) -> bytes:
    return json.dumps({"user_id": user, "request_id": request_id}, separators=(",", ":")).encode()


class Answers:
    """Answers by request id; an answer naming a forbidden product is wrong."""

    def __init__(self, data: DataSet, expected: set[str], check=None, prefix: str = ""):
        self.data = data
        self.prefix = prefix  # answers to other runs' requests (another prefix) are skipped
        self.expected = expected
        self.seen: set[str] = set()
        self.duplicated = self.unexpected = self.wrong = 0
        self.check = check  # (answer) -> bool: the answer's products are right
        self.first = self.last = None

    def add(self, records: list, received: float) -> None:
        for record in records:
            try:
                answer = json.loads(record.value())
                rid = answer["request_id"]
            except (ValueError, TypeError, KeyError):
                self.unexpected += 1
                continue
            if not str(rid).startswith(self.prefix):
                continue
            if rid not in self.expected:
                self.unexpected += 1
                continue
            if rid in self.seen:
                self.duplicated += 1
                continue
            self.seen.add(rid)
            forbidden = any(self.data.forbidden(int(p[2:])) for p in answer.get("products", []))
            if forbidden or (self.check and not self.check(answer)):
                self.wrong += 1
            self.first = self.first or received
            self.last = received

    def complete(self) -> bool:
        return len(self.seen) >= len(self.expected)

    def summary(self) -> dict:
        lost = len(self.expected) - len(self.seen)
        return {
            "expected": len(self.expected),
            "answered": len(self.seen),
            "lost": lost,
            "duplicated": self.duplicated,
            "unexpected": self.unexpected,
            "wrong": self.wrong,
            "correct": lost == 0 and self.duplicated == 0 and self.unexpected == 0 and self.wrong == 0,
        }


class Workloads:
    """Runs the non-product workloads on one broker (created topics, data, one run each)."""

    def __init__(
        self,
        broker: Broker,
        data: DataSet,
        procs: Processes,
        workdir: Path,
        binaries: Binaries,
        restore_records: int | None = None,
    ):
        self.restore_records = restore_records or data.records
        self.broker = broker
        self.data = data
        self.procs = procs
        self.workdir = workdir
        self.binaries = binaries
        self.partitions = data.partitions

    def _topics(self, names: list[str], compact: tuple[str, ...] = (), recreate: bool = False) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient(client(self.broker.bootstrap))
        if recreate:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                try:
                    future.result()
                except Exception:  # noqa: BLE001 — a topic that does not exist yet
                    pass
            _wait_gone(admin, tuple(names))
        keep = {"retention.ms": "-1"}
        new = [
            NewTopic(t, self.partitions, 1, config={**keep, **({"cleanup.policy": "compact"} if t in compact else {})})
            for t in names
        ]
        for future in admin.create_topics(new, operation_timeout=30).values():
            try:
                future.result()
            except Exception as e:  # noqa: BLE001 — "already exists" is fine; others show in the run
                if "already exists" not in str(e).lower():
                    print(f"   warning: {e}", flush=True)

    def _launch(self, system: System, tag: str) -> tuple[Launch, Path]:
        group = f"bench-{system.name}-{tag}-{time.monotonic_ns()}"
        state = self.workdir / "state" / group
        state.mkdir(parents=True, exist_ok=True)
        return Launch(self.broker.bootstrap, group, state, self.partitions, self.binaries), self.workdir / f"{group}.log"

    def _run(self, system: System, launch: Launch, log: Path, tap: Tap, answers: Answers, timeout: float) -> dict:
        proc = self.procs.start(system.command(launch), log)
        started = time.monotonic()
        usage = Usage(proc.pid, self.broker.pid)
        broker_before = usage.sample()["broker_cpu_s"]
        usage.start()
        outcome = "complete"
        try:
            while not answers.complete():
                now = time.monotonic()
                if proc.poll() is not None:
                    outcome = f"exited by itself with code {proc.returncode}"
                    break
                if now - started > timeout:
                    outcome = f"timed out after {timeout:.0f} s"
                    break
                if answers.last is not None and now - answers.last > IDLE_SECONDS:
                    outcome = f"output idle for {IDLE_SECONDS:.0f} s"
                    break
                answers.add(tap.poll(0.2), time.monotonic())
            at_end = usage.sample()
        finally:
            usage.stop()
            self.procs.stop(proc)
        end = answers.last or time.monotonic()
        return {
            "status": "ok" if outcome == "complete" else "failed",
            "reason": "" if outcome == "complete" else outcome,
            "wall_s": end - started,
            "cpu_s": at_end["system_cpu_s"],
            "broker_cpu_s": at_end["broker_cpu_s"] - broker_before,
            "peak_rss_mb": at_end["peak_rss_mb"],
            **answers.summary(),
        }

    def recommendations(self, system: System) -> dict:
        """Searches then requests, pre-produced; the worker answers every request."""
        self._topics([SEARCHES, REQUESTS, ANSWERS])
        tap = Tap(self.broker.bootstrap, ANSWERS, self.partitions)
        tap.drain()
        searches = self.data.records
        users = max(10, searches // SEARCHES_PER_USER)
        requests = max(1, searches // SEARCHES_PER_REQUEST)
        writer = Writer(self.broker.bootstrap, {**BULK_PRODUCER, **JAVA_PARTITIONER})
        tag = f"{time.monotonic_ns()}"
        for i in range(searches):
            user, value = _search(self.data, i, users)
            writer.send(SEARCHES, user.encode(), value, now_ms())
            if i % 10000 == 0:
                writer.poll()
        expected = set()
        for r in range(requests):
            user = user_id(r % users)
            rid = f"{tag}-{r}"
            expected.add(rid)
            writer.send(REQUESTS, user.encode(), _request(user, rid), now_ms())
        writer.flush()
        launch, log = self._launch(system, "recs")
        try:
            answers = Answers(self.data, expected, prefix=f"{tag}-")
            run = self._run(system, launch, log, tap, answers, 120 + searches / 2000)
        finally:
            tap.close()
        inputs = searches + requests
        run.update(
            system=system.name,
            searches=searches,
            requests=requests,
            users=users,
            input_records=inputs,
            rate=inputs / run["wall_s"] if run["wall_s"] else None,
            cpu_us_per_record=run["cpu_s"] / inputs * 1e6,
            broker_cpu_us_per_record=run["broker_cpu_s"] / inputs * 1e6,
        )
        return run

    def restore(self, system: System) -> dict:
        """Start → every probe answered, with an N-record changelog and with an empty one."""
        # No searches: the worker's only work is the restore and the probes.
        self._topics([SEARCHES, REQUESTS], recreate=True)
        self._topics([ANSWERS])
        records = self.restore_records
        empty = self._restore_run(system, 0)
        full = self._restore_run(system, records)
        run = {"system": system.name, "changelog_records": records, "empty": empty, "full": full}
        run["status"] = "ok" if empty["status"] == full["status"] == "ok" else "failed"
        run["correct"] = empty["correct"] and full["correct"]
        run["reason"] = empty["reason"] or full["reason"]
        seconds = full["wall_s"] - empty["wall_s"]
        run["restore_s"] = seconds
        run["rate"] = records / seconds if seconds > 0 else None
        run["mb_per_s"] = full["changelog_bytes"] / 1e6 / seconds if seconds > 0 else None
        run["cpu_us_per_record"] = (full["cpu_s"] - empty["cpu_s"]) / records * 1e6 if records else None
        run["peak_rss_mb"] = full["peak_rss_mb"]
        return run

    def _restore_run(self, system: System, records: int) -> dict:
        launch, log = self._launch(system, f"restore{records}")
        changelog = f"{launch.group}-{INTEREST_STORE}-changelog"
        self._topics([changelog], compact=(changelog,))
        writer = Writer(self.broker.bootstrap, {**BULK_PRODUCER, **JAVA_PARTITIONER})
        size = 0
        for u in range(records):
            value = _interests(u)
            size += len(value) + 8
            writer.send(changelog, user_id(u).encode(), value, now_ms())
            if u % 10000 == 0:
                writer.poll()
        tap = Tap(self.broker.bootstrap, ANSWERS, self.partitions)
        tap.drain()
        probes = {}
        step = max(1, records // PROBES) if records else 1
        for k in range(PROBES):
            user = user_id(k * step)
            rid = f"{launch.group}-{k}"
            probes[rid] = user
            writer.send(REQUESTS, user.encode(), _request(user, rid), now_ms())
        writer.flush()

        def restored(answer: dict) -> bool:
            user = probes.get(answer.get("request_id"), "")
            u = int(user[2:]) if user else -1
            want = [p for p in _recent(u) if not self.data.forbidden(int(p[2:]))] if 0 <= u < records else []
            return answer.get("products") == want[:5]

        try:
            answers = Answers(self.data, set(probes), restored, prefix=f"{launch.group}-")
            run = self._run(system, launch, log, tap, answers, 600 + records / 20000)
        finally:
            tap.close()
        run["changelog_bytes"] = size
        return run


def _recent(u: int) -> list[str]:
    """The restored user's recently searched products (3, one of them forbidden for u % 3 == 0)."""
    return [product_id(1 + (u * 3 + k) % 1000) for k in range(3)]


def _interests(u: int) -> bytes:
    """A `user-interests` changelog value (topologies/src/model.rs `Interests`)."""
    value = {"categories": {CATEGORIES[u % 8]: 1 + u % 5}, "recent_products": _recent(u), "searches": 1 + u % 5}
    return json.dumps(value, separators=(",", ":")).encode()
