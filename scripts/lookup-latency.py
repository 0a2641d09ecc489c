#!/usr/bin/env python3
"""Key-lookup and range latency of the state endpoint while `weir demo` runs its load.

Starts `weir demo --quiet --rate RATE --http 127.0.0.1:PORT` (the embedded broker, three
topologies, generators at RATE records/s each), waits until /ready and until the partitioned
store `user-interests` has entries, then, over one keep-alive connection, asks GET
/stores/user-interests/keys/{key} for random known keys and GET /stores/user-interests/range
(limit 20) COUNT times each, one request every INTERVAL ms so the worker is measured under its
load rather than under a request flood. Prints p50/p99/p999/max per route and stops the demo by
PID.

    python3 scripts/lookup-latency.py [--weir PATH] [--rate 200] [--count 2000] [--interval-ms 5]
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time


TIMEOUT_S = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def wait_for_keys(conn, deadline):
    while time.time() < deadline:
        try:
            status, body = get(conn, "/stores/user-interests/range?limit=1000")
            if status == 200:
                keys = [e["key"] for e in json.loads(body)["entries"]]
                if len(keys) >= 10:
                    return keys
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("the demo's user-interests store got no entries in time")


def percentile(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(p * len(sorted_ms)))]


def measure(conn, paths, interval):
    """Latencies in ms, sorted, and how many requests got no answer within the timeout."""
    out, timeouts = [], 0
    for path in paths:
        t = time.perf_counter()
        try:
            status, _ = get(conn, path)
        except TimeoutError:
            timeouts += 1
            conn.close()
            continue
        out.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
        time.sleep(interval)
    return sorted(out), timeouts


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/weir/target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", default=os.path.join(target, "debug", "weir"))
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--interval-ms", type=float, default=5)
    ap.add_argument("--warmup-s", type=float, default=10)
    a = ap.parse_args()
    port = free_port()
    demo = subprocess.Popen(
        [a.weir, "demo", "--quiet", "--rate", str(a.rate), "--http", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
                if get(conn, "/ready")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or demo.poll() is not None:
                raise SystemExit("the demo did not get ready")
            time.sleep(0.5)
        keys = wait_for_keys(conn, time.time() + 60)
        time.sleep(a.warmup_s)
        rng = random.Random(7)
        interval = a.interval_ms / 1000
        routes = {
            "key": [f"/stores/user-interests/keys/{rng.choice(keys)}" for _ in range(a.count)],
            "range": ["/stores/user-interests/range?limit=20"] * a.count,
        }
        print(f"weir demo at {a.rate} records/s per generator; {a.count} requests per route, "
              f"one every {a.interval_ms} ms, one keep-alive connection")
        for name, paths in routes.items():
            ms, timeouts = measure(conn, paths, interval)
            print(f"{name:>5}: p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms  "
                  f"p999 {percentile(ms, 0.999):.2f} ms  max {ms[-1]:.2f} ms  "
                  f"({timeouts} without an answer within {TIMEOUT_S} s)")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
