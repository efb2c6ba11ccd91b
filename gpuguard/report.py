"""The demo's report: `report.md` (a timeline of the incident) and `timeline.png` (matplotlib)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpuguard.incident import Incident


@dataclass
class Entry:
    wall: float
    source: str
    what: str


def timeline(incident: Incident) -> list[Entry]:
    """Everything that happened, from every record, in time order."""
    entries = [Entry(s.wall, "demo", f"**{s.name}**: {s.detail}") for s in incident.steps]
    entries += [
        Entry(c.wall, c.source, f"{c.alertname} (gpu {c.gpu or '-'}) {c.state}")
        for c in incident.observer.changes
        if c.alertname != "Watchdog"
    ]
    for record in incident.audit():
        if record["event"] in ("heartbeat",):
            continue
        detail = ", ".join(f"{k}={v}" for k, v in record.items() if k not in ("ts", "event"))
        entries.append(Entry(record["ts"], "receiver", f"{record['event']}: {detail}"))
    for setter in incident.node.setters():
        entries.append(
            Entry(
                setter["wall"],
                "driver",
                f"{setter['call']} gpu {setter.get('gpu')} "
                f"{setter.get('args')} by pid {setter['pid']}: {setter['result']}",
            )
        )
    for event in incident.node.events():
        if event["event"] in ("workload_start", "workload_exit", "set"):
            detail = ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("wall", "sim_time", "event"))
            entries.append(Entry(event["wall"], "simulator", f"{event['event']}: {detail}"))
    return sorted(entries, key=lambda e: e.wall)


def write_markdown(incident: Incident, path: Path, outcome: str) -> None:
    start = incident.started
    latency = incident.kill_latency()
    lines = [
        "# gpuguard demo: overheat incident on a simulated `seed` node",
        "",
        f"- started: {datetime.fromtimestamp(start, UTC).isoformat(timespec='seconds')}",
        f"- outcome: {outcome}",
        f"- kill latency: {latency:.1f} s" if latency is not None else "- kill latency: n/a",
        f"- thresholds: warning {incident.warning_c:.0f} °C, critical {incident.critical_c:.0f} °C",
        "",
        "| t (s) | source | what |",
        "|---:|---|---|",
    ]
    lines += [
        f"| {e.wall - start:7.2f} | {e.source} | {e.what.replace('|', '/')} |" for e in timeline(incident)
    ]
    path.write_text("\n".join(lines) + "\n")


def _series(samples: list[Any], gpu: int, key: str) -> list[float]:
    out = []
    for sample in samples:
        info = next((g for g in sample.gpus if g["index"] == gpu), None)
        if info is None:
            out.append(float("nan"))
        elif key == "fan":
            fans = info["fans"]
            out.append(max(f["speed_percent"] for f in fans) if fans else float("nan"))
        else:
            out.append(float(info[key]))
    return out


def write_png(incident: Incident, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = [s for s in incident.observer.samples if s.gpus]
    start = incident.started
    t = [s.wall - start for s in samples]
    fig, (ax_temp, ax_fan, ax_power, ax_alerts) = plt.subplots(
        4, 1, figsize=(11, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1.5, 1.5, 1]}
    )
    for gpu, color in ((0, "tab:red"), (1, "tab:blue")):
        ax_temp.plot(t, _series(samples, gpu, "temperature_c"), color=color, label=f"GPU {gpu}")
        ax_fan.plot(t, _series(samples, gpu, "fan"), color=color)
        ax_power.plot(t, _series(samples, gpu, "power_w"), color=color)
    ax_temp.axhline(incident.warning_c, color="orange", ls="--", label=f"warning {incident.warning_c:.0f} °C")
    ax_temp.axhline(
        incident.critical_c, color="darkred", ls="--", label=f"critical {incident.critical_c:.0f} °C"
    )
    ax_temp.set_ylabel("temperature (°C)")
    ax_fan.set_ylabel("fan (%)")
    ax_power.set_ylabel("power (W)")
    markers = {
        "fans boosted": "tab:green",
        "fan failure": "black",
        "workload killed": "darkred",
        "fans restored": "tab:purple",
        "hot ambient": "tab:orange",
    }
    for step in incident.steps:
        if step.name in markers:
            for ax in (ax_temp, ax_fan, ax_power):
                ax.axvline(step.wall - start, color=markers[step.name], ls=":", lw=1)
            ax_temp.annotate(
                step.name,
                (step.wall - start, ax_temp.get_ylim()[1]),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color=markers[step.name],
            )
    _alert_bands(ax_alerts, incident, start, t[-1] if t else 0.0)
    ax_alerts.set_xlabel("seconds since start")
    ax_temp.legend(loc="upper left", fontsize=8)
    ax_temp.set_title("gpuguard demo: GPU 0 overheats, fans boost, workload killed, restored")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _alert_bands(ax: Any, incident: Incident, start: float, end: float) -> None:
    """Firing intervals of each GPU alert, as Prometheus reported them."""
    open_since: dict[tuple[str, str], float] = {}
    bands: list[tuple[str, float, float]] = []
    for change in incident.observer.changes:
        if change.source != "prometheus" or change.alertname == "Watchdog":
            continue
        key = (change.alertname, change.gpu)
        if change.state == "firing":
            open_since.setdefault(key, change.wall)
        elif change.state == "resolved" and key in open_since:
            bands.append((f"{key[0]} gpu {key[1]}", open_since.pop(key), change.wall))
    bands += [(f"{k[0]} gpu {k[1]}", since, start + end) for k, since in open_since.items()]
    names = sorted({b[0] for b in bands})
    for row, name in enumerate(names):
        for label, begin, finish in bands:
            if label == name:
                ax.broken_barh(
                    [(begin - start, finish - begin)], (row - 0.4, 0.8), color="tab:red", alpha=0.6
                )
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_ylabel("alerts")


def write(incident: Incident, folder: Path, outcome: str) -> None:
    """Replace `folder` with this run's report.md and timeline.png."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_markdown(incident, folder / "report.md", outcome)
    write_png(incident, folder / "timeline.png")
