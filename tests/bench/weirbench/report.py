"""Figures per system over its rounds (medians), the Markdown tables and the ratios."""

from statistics import median

from .latency import PERCENTILES


def summarize(runs: list[dict]) -> dict:
    """Per system: medians over the rounds that produced output; correct only if every round was."""
    summary = {}
    for name in dict.fromkeys(r["system"] for r in runs):
        mine = [r for r in runs if r["system"] == name]
        measured = [r for r in mine if r.get("first_output_s") is not None]
        summary[name] = {
            "rounds": len(mine),
            "status": _worst(r["status"] for r in mine),
            "correct": all(r.get("correct") for r in mine),
            "correctness": _correctness(mine),
            "keeps_input_timestamps": all(r.get("keeps_input_timestamps") for r in measured)
            and bool(measured),
            **{key: _median(measured, key) for key in FIGURES},
            "peak_rss_mb": max((r["peak_rss_mb"] for r in measured), default=None),
            "max_steady_rate": max((r["steady_rate"] for r in measured if r["steady_rate"]), default=None),
        }
    return summary


FIGURES = ("steady_rate", "wall_s", "first_output_s", "cpu_us_per_record", "broker_cpu_us_per_record")


def _median(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return median(values) if values else None


def _worst(statuses) -> str:
    statuses = set(statuses)
    return next(s for s in ("failed", "incomplete", "ok") if s in statuses)


def _correctness(runs: list[dict]) -> str:
    wrong = [r for r in runs if not r.get("correct")]
    if not wrong:
        return "yes"
    parts = []
    for r in wrong:
        if r["status"] == "failed":
            parts.append(f"round {r['round']}: failed, {r['reason']}")
        else:
            errors = f"lost {r['lost']}, duplicated {r['duplicated']}, unexpected {r['unexpected']}"
            parts.append(f"round {r['round']}: {errors}")
    return f"**NO** ({len(wrong)} of {len(runs)} rounds: " + "; ".join(parts) + ")"


def ratios(summary: dict, peers: list[str]) -> dict:
    """Each system's steady rate and CPU/record over the ceiling's and over each peer's."""
    references = [r for r in ["ceiling", *peers] if summary.get(r, {}).get("steady_rate")]
    table = {}
    for name, s in summary.items():
        table[name] = {
            ref: {
                "rate": _ratio(s["steady_rate"], summary[ref]["steady_rate"]),
                "cpu_per_record": _ratio(s["cpu_us_per_record"], summary[ref]["cpu_us_per_record"]),
            }
            for ref in references
            if ref != name
        }
    return table


def _ratio(a, b):
    return a / b if a is not None and b else None


def num(value, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def triple(figures: dict | None) -> str:
    if not figures or figures.get("p50") is None:
        return "–"
    return "/".join(num(figures[p], 0 if figures[p] >= 100 else 1) for p in PERCENTILES)


def main_table(summary: dict, latency: dict) -> str:
    lines = [
        "| system | correct | steady rec/s | CPU µs/rec | broker CPU µs/rec | peak RSS MB "
        "| p50/p99/p999 ms at 50% | start→first output s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lat = latency.get(name, {})
        at_50 = (
            triple(lat.get("system", {}).get("at_50")) if lat.get("status") == "ok" else lat.get("note", "–")
        )
        lines.append(
            f"| {name} | {s['correctness']} | {num(s['steady_rate'])} | {num(s['cpu_us_per_record'], 2)} "
            f"| {num(s['broker_cpu_us_per_record'], 2)} | {num(s['peak_rss_mb'])} | {at_50} "
            f"| {num(s['first_output_s'], 2)} |"
        )
    return "\n".join(lines)


def latency_table(latency: dict) -> str:
    lines = [
        "| system | load rec/s (target → achieved) | through system p50/p99/p999 ms | broker alone "
        "| added | flat out: through system | flat out: broker alone | flat out: added |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, lat in latency.items():
        if lat.get("status") != "ok":
            lines.append(f"| {name} | {lat.get('note') or lat.get('reason', '')} | | | | | | |")
            continue
        at_50, flat = lat["system"]["at_50"], lat["system"]["flat_out"]
        lines.append(
            f"| {name} | {num(at_50['target_rate'])} → {num(at_50['achieved_rate'])} "
            f"| {triple(at_50)} | {triple(lat['direct']['at_50'])} | {triple(lat['added']['at_50'])} "
            f"| {triple(flat)} | {triple(lat['direct']['flat_out'])} | {triple(lat['added']['flat_out'])} |"
        )
    return "\n".join(lines)


def ratio_table(table: dict, order: list[str]) -> str:
    """Columns in `order` (the ceiling, then the peers), those that have figures."""
    references = [ref for ref in order if any(ref in row for row in table.values())]
    if not references:
        return ""
    head = " | ".join(f"rate ÷ {r} | CPU/rec ÷ {r}" for r in references)
    lines = [f"| system | {head} |", "|---|" + "---|" * (2 * len(references))]
    for name, row in table.items():
        cells = []
        for ref in references:
            pair = row.get(ref)
            cells += [num(pair["rate"], 2, "×"), num(pair["cpu_per_record"], 2, "×")] if pair else ["", ""]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runs_table(runs: list[dict]) -> str:
    lines = [
        "| system | round | status | records out | lost/dup/unexpected | wall s | steady rec/s "
        "| CPU s | broker CPU s | CPU µs/rec | peak RSS MB | first output s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        errors = f"{r.get('lost', '–')}/{r.get('duplicated', '–')}/{r.get('unexpected', '–')}"
        lines.append(
            f"| {r['system']} | {r['round']} | {r['status']} | {num(r.get('records_out'))} | {errors} "
            f"| {num(r.get('wall_s'), 1)} | {num(r.get('steady_rate'))} | {num(r.get('cpu_s'), 1)} "
            f"| {num(r.get('broker_cpu_s'), 1)} | {num(r.get('cpu_us_per_record'), 2)} "
            f"| {num(r.get('peak_rss_mb'))} | {num(r.get('first_output_s'), 2)} |"
        )
    return "\n".join(lines)


def workload_line(run: dict) -> str:
    """One line for a user-recommendations or restore run (workloads.py)."""
    if "restore_s" in run:
        full = run["full"]
        return (
            f"{run['status']}: {num(run['changelog_records'])} changelog records restored in "
            f"{num(run['restore_s'], 2)} s = {num(run['rate'])} rec/s, {num(run['mb_per_s'], 1)} MB/s; "
            f"probes answered {full['answered']}/{full['expected']}, wrong {full['wrong']}; "
            f"RSS {num(run['peak_rss_mb'])} MB {run['reason']}"
        )
    if "answered" not in run:
        return f"FAILED: {run.get('reason', '')}"
    return (
        f"{run['status']}: {num(run['input_records'])} inputs, answered {run['answered']}/{run['expected']} "
        f"(duplicated {run['duplicated']}, wrong {run['wrong']}); {num(run['rate'])} rec/s start → last answer; "
        f"CPU {num(run['cpu_us_per_record'], 2)} µs/rec; RSS {num(run['peak_rss_mb'])} MB {run['reason']}"
    )


def workload_table(runs: list[dict]) -> str:
    lines = [
        "| system | correct | input records | rec/s (start → last answer) | CPU µs/rec | broker CPU µs/rec "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    restores = []
    for r in runs:
        if "restore_s" in r:
            restores.append(r)
        elif "answered" in r:
            lines.append(
                f"| {r['system']} | {'yes' if r['correct'] else 'NO'} | {num(r['input_records'])} "
                f"| {num(r['rate'])} | {num(r['cpu_us_per_record'], 2)} "
                f"| {num(r['broker_cpu_us_per_record'], 2)} | {num(r['peak_rss_mb'])} |"
            )
        else:
            lines.append(f"| {r['system']} | failed: {r.get('reason', '')} | | | | | |")
    if restores:
        lines += [
            "",
            "| restore | correct | changelog records | restore s (net of start-up) | rec/s | MB/s "
            "| CPU µs/rec | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in restores:
            lines.append(
                f"| {r['system']} | {'yes' if r['correct'] else 'NO'} | {num(r['changelog_records'])} "
                f"| {num(r['restore_s'], 2)} | {num(r['rate'])} | {num(r['mb_per_s'], 1)} "
                f"| {num(r['cpu_us_per_record'], 2)} | {num(r['peak_rss_mb'])} |"
            )
    return "\n".join(lines)
