#!/usr/bin/env python3
"""Prints the dependency graph of weir's workspace crates and checks that it points downward.

    python3 scripts/crate-graph.py            # the graph, one crate a line, lowest layer first
    python3 scripts/crate-graph.py --dot      # the same as Graphviz dot

Each workspace crate has a layer (LAYERS below, lowest first); a crate may depend (normal,
build or dev dependency) only on crates of a lower layer, or of its own layer when listed
together with it in SAME_LAYER_OK. Cargo already refuses cycles between normal dependencies;
this also catches an upward dev-dependency and a crate added without a layer. Exit code 1 on a
violation. Reads `cargo metadata` (no build).
"""

import json
import subprocess
import sys

# Lowest layer first. A new crate must be placed here.
LAYERS = [
    ["weir-tansu"],  # test support: finds the tests' broker; no dependencies
    ["weir-state"],  # stores, no Kafka
    ["weir-core"],  # records, Serde trait and plain serdes, config, errors, metric names
    ["weir-avro", "weir-graph"],  # Avro + Schema Registry; the pure topology graph
    ["weir-runtime"],  # DSL, operators, tasks, Processor API, store wiring, test driver
    ["weir-kafka", "weir-definition"],  # rdkafka worker; YAML + CEL definition files
    ["weir-http"],  # the state endpoint (axum)
    ["weir-engine"],  # every layer re-exported under one name
    ["weir-topologies"],  # the marketplace topologies
    ["weir-cli", "weir-tests"],  # the binary; end-to-end tests
]

# Pairs [a, b] of one layer where a may depend on b (none today).
SAME_LAYER_OK: list[list[str]] = []


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = {p["name"]: p for p in meta["packages"]}
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    problems = []
    for name in members:
        if name not in layer:
            problems.append(f"{name}: no layer in scripts/crate-graph.py")
    edges = []
    for name, pkg in members.items():
        for dep in pkg["dependencies"]:
            if dep["name"] not in members:
                continue
            kind = dep["kind"] or "normal"
            edges.append((name, dep["name"], kind))
            if name in layer and dep["name"] in layer and layer[dep["name"]] >= layer[name]:
                if layer[dep["name"]] == layer[name] and [name, dep["name"]] in SAME_LAYER_OK:
                    continue
                problems.append(
                    f"{name} (layer {layer[name]}) -> {dep['name']} (layer {layer[dep['name']]}), "
                    f"{kind} dependency: not downward"
                )
    if "--dot" in sys.argv:
        print("digraph weir {\n  rankdir=BT;")
        for a, b, kind in sorted(edges):
            style = "" if kind == "normal" else ' [style=dashed, label="' + kind + '"]'
            print(f'  "{a}" -> "{b}"{style};')
        print("}")
    else:
        for names in LAYERS:
            for name in names:
                deps = sorted(
                    f"{b}" + ("" if kind == "normal" else f" ({kind})")
                    for a, b, kind in edges
                    if a == name
                )
                print(f"L{layer.get(name, '?')} {name:<16} -> {', '.join(deps) or '(none)'}")
    for p in problems:
        print(f"crate-graph: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
