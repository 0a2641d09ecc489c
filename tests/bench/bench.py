#!/usr/bin/env python3
"""weir side by side: one broker, one pre-produced data set, one system at a time.

Runs weir's product-filter (Rust DSL and YAML twin, at_least_once and exactly_once_v2), a
librdkafka pass-through (the ceiling) and its peers (quixstreams, faust-streaming) on the same
products, counts each one's output by consuming, and prints a Markdown table (throughput, CPU per
record of the system and of the broker, peak RSS, latency, start-up) with ratios, plus JSON.
See tests/bench/README.md; `python3 tests/bench/bench.py --help` for the options.

On first use it creates ~/.cache/weir/bench-venv (confluent-kafka, quixstreams 3.x,
faust-streaming 0.15.x) and runs itself again with that venv's interpreter.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from weirbench import venv

if __name__ == "__main__":
    venv.reexec_inside()
    from weirbench.cli import main

    sys.exit(main(sys.argv[1:]))
