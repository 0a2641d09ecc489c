#!/usr/bin/env bash
# The reliability suite (tests/tests/reliability_*.rs, RELIABILITY.md): every scenario with real
# worker processes on a real broker, one at a time, printing each scenario's figure lines
# (`RELIABILITY <scenario>: key=value ...`) at the end.
#
#   bash scripts/reliability.sh          # the full run (WEIR_RELIABILITY_FULL=1: 200k products, 5 kills, 60 s outages, ...)
#   bash scripts/reliability.sh --short  # the CI sizes (what `./weir test` runs)
#
# The disk-full scenario mounts a tmpfs and runs only as root (otherwise it stays ignored and
# says so). WEIR_RELIABILITY_SEED=N replays the fault points of an earlier run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ "${1:-}" != "--short" ]]; then
    export WEIR_RELIABILITY_FULL=1
fi
ignored=()
if [[ $(id -u) == 0 ]]; then
    ignored=(--include-ignored)
fi
log="$(mktemp -t weir-reliability-XXXXXX.log)"
tests=()
for f in tests/tests/reliability_*.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done
rc=0
./weir cargo test -p weir-tests "${tests[@]}" -- --nocapture --test-threads 1 "${ignored[@]}" 2>&1 \
    | tee "$log" | grep -E "^(test |RELIABILITY|.*RECORDS-DELIVERED)" || rc=$?
echo
echo "=== figures (full log: $log)"
grep -E "^RELIABILITY " "$log" || true
grep -qE "^test result: FAILED|^error: test failed" "$log" && rc=1
exit "$rc"
