#!/usr/bin/env python3
"""Structural checks of deploy/ for scripts/check-deploy.sh (needs PyYAML).

    check-deploy.py yaml FILE...                 every file parses (all documents)
    check-deploy.py compose COMPOSE_FILE         references, workers' settings, scrape targets
    check-deploy.py dashboard JSON DATASOURCES   panels, datasource uid, the application variable
    check-deploy.py alerts ALERTS README         severity/summary/description; a runbook each
    check-deploy.py alertmanager FILE            route and receivers agree (when amtool is absent)
    check-deploy.py k8s RENDERED_YAML            the product-filter StatefulSet's essentials

Prints what it checked; exits 1 listing every problem found.
"""
import json
import os
import re
import sys

import yaml

problems = []


def problem(msg):
    problems.append(msg)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def cmd_yaml(files):
    for path in files:
        try:
            docs = load_all(path)
        except yaml.YAMLError as e:
            problem(f"{path}: {e}")
            continue
        print(f"  {path}: {len(docs)} document(s)")


def cmd_compose(path):
    base = os.path.dirname(path)
    d = load_all(path)[0]
    # compose interpolates $VAR and ${VAR} from the host's environment: a shell variable meant
    # for the container must be written $$VAR.
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for m in re.finditer(r"(?<!\$)\$(?!\$)", code.replace("$$", "")):
            problem(f"{path}:{i}: `$` would be interpolated by compose (write $$): {line.strip()}")
    services = d.get("services") or {}
    volumes = set((d.get("volumes") or {}).keys())
    if not services:
        problem(f"{path}: no services")
    ports = {}
    for name, svc in services.items():
        if "image" not in svc and "build" not in svc:
            problem(f"{name}: neither image nor build")
        if isinstance(svc.get("image"), str) and svc["image"].endswith(":latest"):
            problem(f"{name}: unpinned image {svc['image']}")
        build = svc.get("build")
        if build:
            ctx = os.path.normpath(os.path.join(base, build.get("context", ".")))
            df = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(df):
                problem(f"{name}: build dockerfile {df} missing")
        deps = svc.get("depends_on") or {}
        for dep in deps if isinstance(deps, (list, dict)) else []:
            if dep not in services:
                problem(f"{name}: depends_on unknown service {dep}")
            cond = deps[dep].get("condition") if isinstance(deps, dict) else None
            if cond == "service_healthy" and "healthcheck" not in services.get(dep, {}):
                problem(f"{name}: waits for {dep} to be healthy, which has no healthcheck")
        for v in svc.get("volumes") or []:
            src = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.normpath(os.path.join(base, src))):
                    problem(f"{name}: bind mount source {src} missing")
            elif src not in volumes:
                problem(f"{name}: named volume {src} not declared")
        for p in svc.get("ports") or []:
            host = str(p).split(":")[0]
            if host in ports:
                problem(f"host port {host} used by {ports[host]} and {name}")
            ports[host] = name
    # weir workers: `weir run` services
    workers = {n: s for n, s in services.items() if (s.get("command") or [None])[0] == "run"}
    ids = {}
    for name, svc in workers.items():
        env = svc.get("environment") or {}
        cmd = svc["command"]
        for key in ("WEIR_BOOTSTRAP_SERVERS", "WEIR_STATE_DIR", "WEIR_PROCESSING_GUARANTEE",
                    "WEIR_NUM_STREAM_THREADS", "WEIR_GROUP_INSTANCE_ID"):
            if key not in env:
                problem(f"{name}: no {key}")
        if env.get("WEIR_PROCESSING_GUARANTEE") not in (None, "exactly_once_v2", "at_least_once"):
            problem(f"{name}: bad WEIR_PROCESSING_GUARANTEE")
        gid = env.get("WEIR_GROUP_INSTANCE_ID")
        if gid in ids:
            problem(f"{name}: WEIR_GROUP_INSTANCE_ID {gid} also used by {ids[gid]}")
        ids[gid] = name
        if "--http" not in cmd or "0.0.0.0:8080" not in cmd:
            problem(f"{name}: not serving HTTP on 0.0.0.0:8080")
        if "--topology" not in cmd and "-f" not in cmd:
            problem(f"{name}: no topology")
        hc = " ".join(svc.get("healthcheck", {}).get("test", []))
        if "/health" not in hc or "8080" not in hc:
            problem(f"{name}: healthcheck does not GET /health on 8080")
        if not any(str(v).endswith(":" + env.get("WEIR_STATE_DIR", "/var/lib/weir")) for v in svc.get("volumes") or []):
            problem(f"{name}: no volume at the state dir")
    topologies = [s["command"][s["command"].index("--topology") + 1] for s in workers.values() if "--topology" in s["command"]]
    for t in ("product-filter", "user-recommendations"):
        if t not in topologies:
            problem(f"no worker runs {t}")
    if topologies.count("product-filter") < 2:
        problem("fewer than two product-filter workers")
    # Prometheus scrapes exactly the workers
    prom_svc = services.get("prometheus")
    if prom_svc:
        prom = load_all(os.path.join(base, "prometheus", "prometheus.yml"))[0]
        targets = set()
        for job in prom.get("scrape_configs", []):
            if job.get("job_name") == "weir":
                for sc in job.get("static_configs", []):
                    targets.update(sc.get("targets", []))
        want = {f"{n}:8080" for n in workers}
        if targets != want:
            problem(f"prometheus job weir scrapes {sorted(targets)}, workers are {sorted(want)}")
    # KRaft quorum
    brokers = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka") and "KAFKA_NODE_ID" in (s.get("environment") or {})}
    voters = {str(s["environment"].get("KAFKA_CONTROLLER_QUORUM_VOTERS")) for s in brokers.values()}
    cids = {str(s["environment"].get("CLUSTER_ID")) for s in brokers.values()}
    if len(brokers) != 3 or len(voters) != 1 or len(cids) != 1:
        problem(f"expected 3 KRaft nodes with one quorum and one cluster id: {len(brokers)} nodes, voters {voters}, ids {cids}")
    else:
        node_ids = sorted(str(s["environment"]["KAFKA_NODE_ID"]) for s in brokers.values())
        vs = sorted(v.split("@")[0] for v in voters.pop().split(","))
        if node_ids != vs:
            problem(f"quorum voters {vs} != node ids {node_ids}")
    print(f"  {len(services)} services, {len(workers)} weir workers ({', '.join(topologies)}), "
          f"{len(brokers)} KRaft nodes, {len(volumes)} named volumes")


def cmd_dashboard(path, ds_path):
    d = json.load(open(path, encoding="utf-8"))
    uids = {ds["uid"] for ds in load_all(ds_path)[0]["datasources"]}
    if not 36 <= d.get("schemaVersion", 0) <= 41:
        problem(f"schemaVersion {d.get('schemaVersion')}")
    var = [v for v in d.get("templating", {}).get("list", []) if v.get("name") == "application"]
    if not var or "label_values(weir_records_consumed_total, application)" not in json.dumps(var[0]):
        problem("no `application` variable from label_values(weir_records_consumed_total, application)")
    ids = set()
    n = 0
    for p in d.get("panels", []):
        if p["id"] in ids:
            problem(f"duplicate panel id {p['id']}")
        ids.add(p["id"])
        if p["type"] == "row":
            continue
        n += 1
        g = p.get("gridPos", {})
        if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
            problem(f"panel {p['title']!r}: bad gridPos {g}")
        if p.get("datasource", {}).get("uid") not in uids:
            problem(f"panel {p['title']!r}: datasource uid not provisioned ({sorted(uids)})")
        if not p.get("targets") or not all(t.get("expr") for t in p["targets"]):
            problem(f"panel {p['title']!r}: no query")
        for t in p.get("targets", []):
            e = t.get("expr", "")
            if e.count("(") != e.count(")") or e.count("{") != e.count("}"):
                problem(f"panel {p['title']!r}: unbalanced expression {e}")
            if "weir_" in e and "$application" not in e:
                problem(f"panel {p['title']!r}: ignores $application: {e}")
            if "histogram_quantile" in e and "_bucket" not in e:
                problem(f"panel {p['title']!r}: histogram_quantile without _bucket: {e}")
    print(f"  {n} panels, datasource uid(s) {sorted(uids)}, schemaVersion {d['schemaVersion']}")


def cmd_alerts(path, readme):
    text = open(readme, encoding="utf-8").read()
    n = 0
    for g in load_all(path)[0]["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            n += 1
            a = r["alert"]
            if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                problem(f"{a}: severity label missing or unknown")
            for k in ("summary", "description"):
                if not r.get("annotations", {}).get(k):
                    problem(f"{a}: no {k} annotation")
            if not re.search(rf"^#+ {a}\s*$", text, re.M):
                problem(f"{a}: no runbook heading '### {a}' in {readme}")
    print(f"  {n} alerts, each with severity, summary, description and a runbook in {readme}")


def cmd_alertmanager(path):
    d = load_all(path)[0]
    names = {r["name"] for r in d.get("receivers", [])}

    def walk(route):
        if route.get("receiver") and route["receiver"] not in names:
            problem(f"route to unknown receiver {route['receiver']}")
        for r in route.get("routes", []):
            walk(r)

    if "route" not in d or not d["route"].get("receiver"):
        problem("no top-level route with a receiver")
    else:
        walk(d["route"])
    print(f"  receivers {sorted(names)}")


def cmd_k8s(path):
    docs = load_all(path)
    sts = [d for d in docs if d["kind"] == "StatefulSet"]
    if len(sts) != 1:
        problem(f"{len(sts)} StatefulSets")
        return
    s = sts[0]
    spec = s["spec"]
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e for e in c.get("env", [])}
    gid = env.get("WEIR_GROUP_INSTANCE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    checks = {
        "3 replicas": spec.get("replicas") == 3,
        "WEIR_GROUP_INSTANCE_ID from metadata.name": gid == "metadata.name",
        "volumeClaimTemplate mounted at the state dir": any(
            m["name"] in {v["metadata"]["name"] for v in spec.get("volumeClaimTemplates", [])} and m["mountPath"] == "/var/lib/weir"
            for m in c.get("volumeMounts", [])),
        "readiness on /ready": c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/ready",
        "liveness on /health": c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health",
        "terminationGracePeriodSeconds >= 60": pod.get("terminationGracePeriodSeconds", 30) >= 60,
        "requests and limits": bool(c.get("resources", {}).get("requests")) and bool(c.get("resources", {}).get("limits")),
        "runAsNonRoot": pod.get("securityContext", {}).get("runAsNonRoot") is True,
        "readOnlyRootFilesystem": c.get("securityContext", {}).get("readOnlyRootFilesystem") is True,
        "--config from a ConfigMap": "--config" in c.get("args", []) and any("configMap" in v for v in pod.get("volumes", [])),
        "prometheus.io annotations": {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}
        <= set(spec["template"]["metadata"].get("annotations", {})),
        "headless Service": any(d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"
                                and d["metadata"]["name"] == spec.get("serviceName") for d in docs),
        "regular Service on 8080": any(d["kind"] == "Service" and d["spec"].get("clusterIP") != "None"
                                       and any(p["port"] == 8080 for p in d["spec"]["ports"]) for d in docs),
    }
    for what, ok in checks.items():
        if not ok:
            problem(f"StatefulSet {s['metadata']['name']}: {what}")
    print(f"  {len(docs)} objects; StatefulSet {s['metadata']['name']}: {len(checks)} properties checked")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    {"yaml": lambda: cmd_yaml(args), "compose": lambda: cmd_compose(*args),
     "dashboard": lambda: cmd_dashboard(*args), "alerts": lambda: cmd_alerts(*args),
     "alertmanager": lambda: cmd_alertmanager(*args), "k8s": lambda: cmd_k8s(*args)}[cmd]()
    for p in problems:
        print(f"  PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
