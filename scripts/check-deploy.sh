#!/usr/bin/env bash
# scripts/check-deploy.sh — validate the deployment artifacts in deploy/ (and the Dockerfile).
#
#   bash scripts/check-deploy.sh
#
# Runs every check, prints each one's result, ends with "N passed, N failed" and exits non-zero
# if any failed. Nothing is skipped silently: promtool is required (installed from Debian's
# `prometheus` package when missing and we are root with apt-get); a check whose tool is absent
# falls back to a stated, weaker check (docker compose -> structural YAML checks, kubectl ->
# YAML parse, amtool -> YAML structure).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive

PY_HELPER="scripts/check-deploy.py"
PASSED=0
FAILED=0
FAILED_NAMES=()
START=$(date +%s)

check() { # check NAME CMD...: run CMD with errexit in a subshell, record ok/FAILED
    local name="$1"
    shift
    echo
    echo "=== [$name]"
    set +e
    (
        set -euo pipefail
        "$@"
    )
    local rc=$?
    set -e
    if [[ $rc -eq 0 ]]; then
        echo "--- ok: $name"
        PASSED=$((PASSED + 1))
    else
        echo "--- FAILED: $name (exit $rc)"
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
    fi
}

# ---------------------------------------------------------------------------- tools
apt_install() { # apt_install PKG...: only as root with apt-get; refreshes the lists once if needed
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; }
}

if ! command -v promtool >/dev/null; then
    echo "promtool not found: installing Debian's prometheus package"
    apt_install prometheus || true
fi
if ! command -v amtool >/dev/null; then
    apt_install prometheus-alertmanager || true # optional: a YAML structure check stands in
fi

# A python3 with PyYAML (pyenv's python3 may lack it where Debian's has python3-yaml).
PYTHON=""
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
        PYTHON="$py"
        break
    fi
done
if [[ -z $PYTHON ]] && apt_install python3-yaml && /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi

echo "tools: promtool=$(command -v promtool || echo MISSING) amtool=$(command -v amtool || echo -)" \
    "python+yaml=${PYTHON:-MISSING} kubectl=$(command -v kubectl || echo -)" \
    "docker-compose=$(docker compose version --short 2>/dev/null || echo -) yamllint=$(command -v yamllint || echo -)"

need_promtool() {
    command -v promtool >/dev/null || {
        echo "promtool is missing and could not be installed (needs root + apt-get: apt-get install prometheus)" >&2
        return 1
    }
}
need_python() {
    [[ -n $PYTHON ]] || {
        echo "no python3 with PyYAML and it could not be installed (apt-get install python3-yaml)" >&2
        return 1
    }
}

# ---------------------------------------------------------------------------- checks
prometheus_config() { need_promtool && promtool check config deploy/prometheus/prometheus.yml; }
prometheus_rules() { need_promtool && promtool check rules deploy/prometheus/alerts.yml; }
prometheus_rule_tests() { need_promtool && promtool test rules deploy/prometheus/alerts_test.yml; }

alertmanager_config() {
    if command -v amtool >/dev/null; then
        amtool check-config deploy/alertmanager/alertmanager.yml
    else
        echo "amtool not installed: checking alertmanager.yml's structure only"
        need_python && "$PYTHON" "$PY_HELPER" alertmanager deploy/alertmanager/alertmanager.yml
    fi
}

compose_config() {
    if docker compose version >/dev/null 2>&1; then
        docker compose -f deploy/docker-compose.yml config -q
        echo "docker compose config: valid"
    else
        echo "docker compose not available: structural checks of deploy/docker-compose.yml instead"
    fi
    # Always: cross-references compose cannot know (scrape targets, worker settings).
    need_python && "$PYTHON" "$PY_HELPER" compose deploy/docker-compose.yml
}

yaml_files() {
    need_python
    local files=()
    mapfile -t files < <(find deploy -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
    "$PYTHON" "$PY_HELPER" yaml "${files[@]}"
    if command -v yamllint >/dev/null; then
        yamllint -d '{extends: relaxed, rules: {line-length: {max: 200}}}' "${files[@]}"
    fi
}

dashboard_json() {
    python3 -m json.tool deploy/grafana/dashboards/weir.json >/dev/null
    echo "deploy/grafana/dashboards/weir.json: valid JSON"
    need_python && "$PYTHON" "$PY_HELPER" dashboard deploy/grafana/dashboards/weir.json \
        deploy/grafana/provisioning/datasources/prometheus.yml
}

# Every `weir_` name in the alerts, their tests, the dashboard and the README must be in
# deploy/metrics.txt (histograms also as _bucket/_sum/_count); every listed metric must be on
# the dashboard.
metric_names() {
    local known used unknown=0 name base type
    known=$(grep -vE '^\s*(#|$)' deploy/metrics.txt | awk '{print $1 " " $2}')
    used=$(grep -ohE '\bweir_[a-z0-9_]+' deploy/prometheus/alerts.yml deploy/prometheus/alerts_test.yml \
        deploy/grafana/dashboards/weir.json deploy/README.md | sort -u)
    for name in $used; do
        if grep -qx "$name [a-z]*" <<<"$known"; then
            continue
        fi
        base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")
        type=$(awk -v n="$base" '$1 == n {print $2}' <<<"$known")
        if [[ $base != "$name" && $type == histogram ]]; then
            continue
        fi
        echo "unknown metric name: $name (not in deploy/metrics.txt)" >&2
        grep -nH -- "$name" deploy/prometheus/alerts.yml deploy/prometheus/alerts_test.yml \
            deploy/grafana/dashboards/weir.json deploy/README.md | head -3 >&2 || true
        unknown=$((unknown + 1))
    done
    # shellcheck disable=SC2013 # one metric name per line, no spaces
    for name in $(awk '{print $1}' <<<"$known"); do
        if ! grep -q "\b$name" deploy/grafana/dashboards/weir.json; then
            echo "metric $name (deploy/metrics.txt) is on no dashboard panel" >&2
            unknown=$((unknown + 1))
        fi
    done
    [[ $unknown -eq 0 ]] || return 1
    echo "$(wc -w <<<"$used") weir_ names used, all in deploy/metrics.txt ($(wc -l <<<"$known") metrics); every metric is on the dashboard"
}

alerts_documented() { need_python && "$PYTHON" "$PY_HELPER" alerts deploy/prometheus/alerts.yml deploy/README.md; }

k8s_manifests() {
    if command -v kubectl >/dev/null; then
        local out
        out=$(mktemp)
        kubectl kustomize deploy/k8s >"$out"
        echo "kubectl kustomize deploy/k8s: $(grep -c '^kind:' "$out") objects"
        need_python && "$PYTHON" "$PY_HELPER" k8s "$out"
        rm -f "$out"
    else
        echo "kubectl not available: YAML parse of deploy/k8s only"
        need_python && "$PYTHON" "$PY_HELPER" yaml deploy/k8s/*.yaml
    fi
}

dockerfile() {
    local f=Dockerfile ok=0
    for want in '^ARG RUST_VERSION=1\.(89|9[0-9])' '^FROM rust:\$\{RUST_VERSION\}' '^ARG DEBIAN_RELEASE=bookworm' \
        '^FROM debian:\$\{DEBIAN_RELEASE\}-slim' 'AS builder' 'COPY --from=builder' \
        'libclang-dev' 'cmake' '--mount=type=cache,target=/usr/local/cargo/registry' \
        '--mount=type=cache,target=/src/target' 'cargo build --release --locked -p weir-cli --bin weir' \
        '--uid 10001' '^USER 10001' '^EXPOSE 8080' '^ENTRYPOINT \["weir"\]' \
        'COPY topologies/definitions /etc/weir/definitions' 'COPY topologies/schemas /etc/weir/schemas' \
        '/var/lib/weir'; do
        grep -qE -- "$want" "$f" || { echo "Dockerfile: missing /$want/" >&2; ok=1; }
    done
    for want in '^target/' '^\.git/'; do
        grep -qE -- "$want" .dockerignore || { echo ".dockerignore: missing /$want/" >&2; ok=1; }
    done
    for path in topologies/definitions topologies/schemas Cargo.lock; do
        [[ -e $path ]] || { echo "Dockerfile copies $path, which does not exist" >&2; ok=1; }
    done
    if command -v hadolint >/dev/null; then hadolint Dockerfile; fi
    [[ $ok -eq 0 ]] && echo "Dockerfile and .dockerignore: required stages, user, ports and paths present"
}

check "promtool check config" prometheus_config
check "promtool check rules" prometheus_rules
check "promtool test rules" prometheus_rule_tests
check "alertmanager config" alertmanager_config
check "docker-compose.yml" compose_config
check "YAML parse (deploy/**)" yaml_files
check "Grafana dashboard JSON" dashboard_json
check "metric names vs deploy/metrics.txt" metric_names
check "alerts: labels, annotations, runbooks" alerts_documented
check "Kubernetes manifests" k8s_manifests
check "Dockerfile" dockerfile

echo
echo "check-deploy: $(($(date +%s) - START))s"
if [[ $FAILED -gt 0 ]]; then
    printf 'failed: %s\n' "${FAILED_NAMES[@]}"
fi
echo "check-deploy: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
