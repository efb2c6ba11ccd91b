"""The remediation-latency results as markdown, and their place in benchmarks/README.md."""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from latency_records import STAGES, Outcome, percentile

BEGIN = "<!-- remediation_latency.py results: begin (rewritten by --write-readme) -->"
END = "<!-- remediation_latency.py results: end -->"


def _s(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _values(outcomes: list[Outcome], name: str) -> list[float]:
    return [v for v in (getattr(o, name) for o in outcomes) if v is not None]


def _pcts(values: list[float]) -> tuple[float, float]:
    return percentile(values, 0.5), percentile(values, 0.95)


def _tally(names: Iterable[str | None]) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in Counter(n or "none" for n in names).most_common())


def _summary(by: dict[str, list[Outcome]]) -> list[str]:
    lines = [
        "| configuration | incidents killed | kill p50 s | kill p95 s | boost p50 s | boost p95 s "
        "| warning tier p50 s | warning tier p95 s | peak °C median / max | killed by | capped by |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    stats = {}
    for config in ("shipped", "typical"):
        group = by.get(config, [])
        if not group:
            continue
        kill, boost, tier = (_pcts(_values(group, n)) for n in ("kill", "boost", "tier"))
        stats[config] = (kill, boost, tier)
        peaks = [o.peak for o in group if o.peak is not None]
        killed = sum(1 for o in group if o.kill is not None)
        cells = [_s(v) for pair in (kill, boost, tier) for v in pair]
        peak = f"{_s(percentile([float(p) for p in peaks], 0.5), 0)} / {max(peaks, default='–')}"
        paths = f"{_tally(o.killer for o in group)} | {_tally(o.cap_alert for o in group)}"
        lines.append(f"| {config} | {killed}/{len(group)} | " + " | ".join(cells) + f" | {peak} | {paths} |")
    if len(stats) == 2:
        pairs = zip(stats["typical"], stats["shipped"], strict=True)
        ratio = [_s(t / s if s else math.nan) + "×" for a, b in pairs for t, s in zip(a, b, strict=True)]
        lines.append(f"| **typical / shipped** | | **{ratio[0]}** | **{ratio[1]}** | {ratio[2]} | {ratio[3]} "
                     f"| {ratio[4]} | {ratio[5]} | | | |")
    return lines


def _breakdown(by: dict[str, list[Outcome]]) -> list[str]:
    lines = [
        "| configuration | " + " | ".join(STAGES) + " | sum of medians | kill p50 |",
        "|---|" + "---|" * (len(STAGES) + 2),
    ]
    for config in ("shipped", "typical"):
        group = [o for o in by.get(config, []) if all(s in o.stages for s in STAGES)]
        if not group:
            continue
        medians = [percentile([o.stages[s] for o in group], 0.5) for s in STAGES]
        kill = percentile(_values(group, "kill"), 0.5)
        lines.append(f"| {config} ({len(group)} incidents) | " + " | ".join(_s(m, 2) for m in medians)
                     + f" | {_s(sum(medians), 2)} | {_s(kill, 2)} |")
    return lines


def _failsafe(group: list[Outcome]) -> list[str]:
    if not group:
        return []
    latencies = [o.stages["failsafe"] for o in group if "failsafe" in o.stages]
    lines = [
        "| GPU | failsafe engaged after the heartbeats stopped, s | crossed 85 °C, relative to engagement, s "
        "| workload exit after max(engaged, crossed), s | peak °C |",
        "|---|---|---|---|---|",
    ]
    for o in group:
        cells = [_s(o.stages.get("engaged_after_silence")), _s(o.stages.get("crossed_vs_engaged")),
                 _s(o.stages.get("failsafe"), 2)]
        lines.append(f"| {o.gpu} | " + " | ".join(cells) + f" | {o.peak} |")
    lines.append(f"| **max** | | | **{_s(max(latencies, default=None), 2)}** | |")
    return lines


def _details(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "<details><summary>every incident</summary>", "",
        "| config | GPU | kill s | boost s | warning tier s | peak °C | °C/s at 85 | killed by | capped by |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        cells = [_s(v, 2) for v in (o.kill, o.boost, o.tier)]
        lines.append(f"| {o.config} | {o.gpu} | " + " | ".join(cells)
                     + f" | {o.peak} | {_s(o.heating_rate, 2)} | {o.killer} | {o.cap_alert} |")
    return [*lines, "", "</details>"]


def markdown(outcomes: list[Outcome], args: argparse.Namespace, command: str, problems: list[str]) -> str:
    by: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by.setdefault(outcome.config, []).append(outcome)
    parts = [
        f"Command: `{command}`, run of {time.strftime('%Y-%m-%d %H:%M')} "
        f"(inlet {args.ambient:.0f} °C, {args.stagger:.0f} s between shipped incidents, "
        f"simulated driver latency `{args.latency}`).",
        "",
        *_summary(by),
        "",
        "Median of each stage of the kill path, seconds (medians do not add up exactly to the median total):",
        "",
        *_breakdown(by),
        "",
        "Failsafe (the shipped Alertmanager stopped, receiver alone):",
        "",
        *_failsafe(by.get("failsafe", [])),
        "",
        *_details(outcomes),
    ]
    if problems:
        parts += ["", "**Problems in this run:** " + "; ".join(problems)]
    return "\n".join(parts)


def write_section(readme: Path, text: str) -> None:
    """Put `text` between the markers of the remediation-latency section (added after its header)."""
    content = readme.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in content and END in content:
        head, rest = content.split(BEGIN, 1)
        content = head + block + rest.split(END, 1)[1]
    else:
        header = "## Remediation latency: the whole loop"
        start = content.index(header)
        line_end = content.index("\n", start) + 1
        content = content[:line_end] + "\n" + block + "\n" + content[line_end:]
    readme.write_text(content)
