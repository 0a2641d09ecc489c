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
eval "$(./weir env)"
log="$(mktemp -t weir-reliability-XXXXXX.log)"
# Scenarios without special needs; the #[ignore]d ones run where their need is met.
tests=()
for f in tests/tests/reliability_*.rs; do
    t="$(basename "$f" .rs)"
    [[ $t == reliability_disk || $t == reliability_broker_restart ]] || tests+=(--test "$t")
done
run() { cargo test -p weir-tests "$@" 2>&1 | tee -a "$log" | grep -E "^(test |RELIABILITY|.*RECORDS-DELIVERED)"; }
rc=0
run "${tests[@]}" -- --nocapture --test-threads 1 || rc=$?
if [[ $(id -u) == 0 ]]; then
    run --test reliability_disk -- --nocapture --include-ignored || rc=$?
else
    echo "not root: scenario 8's disk-full half stays ignored (it mounts a tmpfs)"
    run --test reliability_disk -- --nocapture || rc=$?
fi
if [[ -n "${WEIR_TANSU_SQLITE_BIN:-}" ]]; then
    run --test reliability_broker_restart -- --nocapture --ignored || rc=$?
else
    echo "no tansu with SQLite storage: scenario 4 stays ignored (see its #[ignore] reason)"
fi
echo
echo "=== figures (full log: $log)"
grep -oE "RELIABILITY [^:]+: .*" "$log" || true
grep -qE "^test result: FAILED|^error: test failed" "$log" && rc=1
exit "$rc"
