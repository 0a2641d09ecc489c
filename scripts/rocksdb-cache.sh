#!/usr/bin/env bash
# RocksDB static-library cache for weir builds.
#
# librocksdb-sys compiles RocksDB's C++ from source on every clean build (~10 of a clean
# build's ~12 minutes on 2 cores). Its build script links prebuilt static libraries instead
# when ROCKSDB_LIB_DIR / SNAPPY_LIB_DIR are set (with ROCKSDB_STATIC / SNAPPY_STATIC for
# static linking). lz4 and zstd need nothing here: lz4-sys and zstd-sys always compile and
# link their own C code (seconds); librocksdb-sys only uses their headers.
#
# This script keeps those libraries in $WEIR_CACHE_DIR/rocksdb-<librocksdb-sys version>/
# (default ~/.cache/weir/rocksdb-0.19.0+11.8.1/), outside any clone or target dir.
#
#   eval "$(scripts/rocksdb-cache.sh env)"   # export the variables when it is right to
#   scripts/rocksdb-cache.sh save [OUT_DIR]  # copy librocksdb.a + libsnappy.a from a build
#   scripts/rocksdb-cache.sh status          # what is cached, what the target dir uses
#
# IMPORTANT: librocksdb-sys's build script declares rerun-if-env-changed for these
# variables, so switching them on or off in a target dir reruns it and rebuilds everything
# above it; switching them OFF compiles RocksDB's C++ again (10 min). So `env` by default
# (WEIR_ROCKSDB_CACHE=auto) follows what the target dir already holds:
#   * no librocksdb-sys build in the target dir yet        -> use the cache (fast clean build)
#   * target dir's librocksdb-sys was linked from the cache -> keep using it (no rebuild)
#   * target dir's librocksdb-sys compiled RocksDB itself   -> print nothing (no rebuild)
# WEIR_ROCKSDB_CACHE=always uses the cache whenever it is valid; =off never.
# A developer who wants the same behaviour as CI runs  eval "$(scripts/rocksdb-cache.sh env)"
# before cargo in the same CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_BASE="${WEIR_CACHE_DIR:-$HOME/.cache/weir}"
TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_BASE/target}"
MODE="${WEIR_ROCKSDB_CACHE:-auto}"
LIBS=(librocksdb.a libsnappy.a)

log() { echo "rocksdb-cache: $*" >&2; }

crate_version() {
    awk '/^name = "librocksdb-sys"$/ { getline; gsub(/^version = "|"$/, ""); print; exit }' \
        "$ROOT/Cargo.lock"
}

VERSION="$(crate_version)"
if [[ -z "$VERSION" ]]; then
    log "librocksdb-sys not found in $ROOT/Cargo.lock"
    exit 1
fi
CACHE_DIR="$CACHE_BASE/rocksdb-$VERSION"

# Everything besides the crate version that decides whether cached objects fit this build:
# target, C++ compiler, the workspace's rocksdb features (-DLZ4/-DZSTD/-DSNAPPY are compiled
# in), RUSTFLAGS (target-cpu is passed to the C++ compiler).
cache_key() {
    echo "librocksdb-sys $VERSION"
    echo "host $(rustc -vV | sed -n 's/^host: //p')"
    echo "cxx $("${CXX:-c++}" --version 2>/dev/null | head -n1)"
    echo "rocksdb-dep $(grep -h '^rocksdb *=' "$ROOT/Cargo.toml" | tr -s ' ')"
    echo "rustflags ${RUSTFLAGS:-}"
}

cache_valid() {
    local lib
    for lib in "${LIBS[@]}"; do [[ -s "$CACHE_DIR/$lib" ]] || return 1; done
    [[ -f "$CACHE_DIR/KEY" ]] && [[ "$(cat "$CACHE_DIR/KEY")" == "$(cache_key)" ]]
}

# The run directory ($TARGET_DIR/debug/build/librocksdb-sys-HASH, holding `output` and
# `out/`) of this crate version whose build script ran last; empty when none.
last_run_dir() {
    local f newest="" newest_t=0 t
    for f in "$TARGET_DIR"/debug/build/librocksdb-sys-*/output; do
        [[ -f "$f" ]] || continue
        grep -q "librocksdb-sys-$VERSION" "$f" || continue
        t="$(stat -c %Y "$f")"
        if (( t >= newest_t )); then newest_t="$t"; newest="$(dirname "$f")"; fi
    done
    echo "$newest"
}

# How the target dir's librocksdb-sys was last built: none | cache | source | other.
target_mode() {
    local d
    d="$(last_run_dir)"
    if [[ -z "$d" ]]; then echo none
    elif grep -qxF "cargo:rustc-link-search=native=$CACHE_DIR" "$d/output"; then echo cache
    elif grep -q '^cargo:rustc-link-search=native=.*/out$' "$d/output" \
        && [[ -s "$d/out/librocksdb.a" ]]; then echo source
    else echo other
    fi
}

print_env() {
    echo "export ROCKSDB_LIB_DIR='$CACHE_DIR'"
    echo "export ROCKSDB_STATIC=1"
    echo "export SNAPPY_LIB_DIR='$CACHE_DIR'"
    echo "export SNAPPY_STATIC=1"
}

cmd_env() {
    if [[ "$MODE" == off ]]; then
        echo "# rocksdb-cache: WEIR_ROCKSDB_CACHE=off"
        return 0
    fi
    if ! cache_valid; then
        echo "# rocksdb-cache: no valid cache at $CACHE_DIR; RocksDB compiles from source"
        return 0
    fi
    local tm
    tm="$(target_mode)"
    if [[ "$MODE" == auto && ( "$tm" == source || "$tm" == other ) ]]; then
        echo "# rocksdb-cache: $TARGET_DIR built RocksDB from source; not switching (it would rebuild)"
        return 0
    fi
    echo "# rocksdb-cache: linking the cached RocksDB from $CACHE_DIR (target dir: $tm)"
    print_env
}

cmd_save() {
    local src="${1:-}" d
    if cache_valid; then
        log "already cached in $CACHE_DIR"
        return 0
    fi
    if [[ -z "$src" ]]; then
        d="$(last_run_dir)"
        if [[ -n "$d" && "$(target_mode)" == source ]]; then src="$d/out"; fi
    fi
    if [[ -z "$src" ]]; then
        log "no RocksDB built from source in $TARGET_DIR/debug/build; nothing to save"
        return 1
    fi
    local lib
    for lib in "${LIBS[@]}"; do
        if [[ ! -s "$src/$lib" ]]; then log "$src/$lib missing"; return 1; fi
    done
    mkdir -p "$CACHE_BASE"
    local tmp="$CACHE_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    for lib in "${LIBS[@]}"; do cp "$src/$lib" "$tmp/"; done
    cache_key >"$tmp/KEY"
    echo "$src" >"$tmp/SOURCE"
    # Replace atomically enough for concurrent readers: old dir away, new dir in.
    rm -rf "$CACHE_DIR.old.$$"
    if [[ -e "$CACHE_DIR" ]]; then mv "$CACHE_DIR" "$CACHE_DIR.old.$$"; fi
    mv "$tmp" "$CACHE_DIR"
    rm -rf "$CACHE_DIR.old.$$"
    log "saved $(du -sh "$CACHE_DIR" | cut -f1) to $CACHE_DIR from $src"
}

cmd_status() {
    echo "librocksdb-sys version: $VERSION"
    echo "cache dir:              $CACHE_DIR"
    if cache_valid; then echo "cache:                  valid"
    elif [[ -d "$CACHE_DIR" ]]; then echo "cache:                  present but stale or incomplete"
    else echo "cache:                  absent"
    fi
    echo "target dir:             $TARGET_DIR"
    echo "target dir's RocksDB:   $(target_mode) ($(last_run_dir))"
    echo "mode:                   $MODE"
}

case "${1:-}" in
    env) cmd_env ;;
    save) shift; cmd_save "$@" ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 env|save [OUT_DIR]|status" >&2
        exit 2
        ;;
esac
