"""The records of a remediation-latency run, and the latencies and stages they add up to.

Every number comes from a record something else wrote: the simulator's `events.jsonl` and
`setters.jsonl` (its own clock for the temperature, the workload's exit and every NVML setter call),
the exporter's `gpuguard_exporter_last_collect_timestamp_seconds` (when it read each GPU), Prometheus's
stored samples (scrape and rule-evaluation timestamps) and the receiver's audit log. All are wall
clock of one machine, so they subtract.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuguard.observe import prometheus_query

STAGES = ("collection", "scrape", "evaluation", "for", "alertmanager", "receiver")
POWER_LIMIT_SETTER = "nvmlDeviceSetPowerManagementLimit"  # `_v2` too: the fanless fallback of fan_boost
_GPU = re.compile(r'gpu="(\d+)"')


class JsonlTail:
    """A JSON-lines file read incrementally: only complete new lines are parsed on each update."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._offset = 0

    def update(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return self.records
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.strip().startswith("{"):
                self.records.append(json.loads(line))
        return self.records


@dataclass
class ExporterWatch:
    """Polls exporters' /metrics and keeps, per GPU, each distinct collection: (read at, °C).

    The exporter stamps each GPU's collection with the wall time its worker finished reading it;
    polling at well under the collection interval sees every collection of a 1 s exporter.
    """

    exporters: dict[str, tuple[str, float]]  # name -> (base URL, poll interval)
    gpus: dict[str, set[int]]  # name -> GPUs to keep
    collections: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(name,), name=f"watch-{name}", daemon=True)
            for name in self.exporters
        ]

    def start(self) -> ExporterWatch:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, name: str) -> None:
        url, interval = self.exporters[name]
        while not self._stop.wait(interval):
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=3) as response:
                    body = response.read().decode(errors="replace")
            except OSError:
                continue
            self._note(name, body)

    def _note(self, name: str, body: str) -> None:
        temps: dict[int, float] = {}
        stamps: dict[int, float] = {}
        for line in body.splitlines():
            if line.startswith("DCGM_FI_DEV_GPU_TEMP{"):
                target = temps
            elif line.startswith("gpuguard_exporter_last_collect_timestamp_seconds{"):
                target = stamps
            else:
                continue
            match = _GPU.search(line)
            if match and int(match.group(1)) in self.gpus[name]:
                target[int(match.group(1))] = float(line.rsplit(" ", 1)[1])
        for gpu, stamp in stamps.items():
            seen = self.collections.setdefault((name, gpu), [])
            if gpu in temps and (not seen or seen[-1][0] != stamp):
                seen.append((stamp, temps[gpu]))

    def first_read_at_or_above(self, name: str, gpu: int, celsius: float) -> float | None:
        for stamp, temp in self.collections.get((name, gpu), []):
            if temp >= celsius:
                return stamp
        return None


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def first_sample_at_or_above(prometheus: str, selector: str, celsius: float, since: float) -> float | None:
    """Timestamp of the first stored sample of `selector` at or above `celsius` after `since`."""
    found = []
    for series in prometheus_query(prometheus, f"{selector}[30m]"):
        found += [float(ts) for ts, value in series["values"] if float(value) >= celsius]
    found = [ts for ts in found if ts >= since]
    return min(found) if found else None


def alert_states(prometheus: str, alertname: str, gpu: int) -> dict[str, float]:
    """When the alert went pending and firing: timestamps of the rule evaluations that did it.

    Firing is the first stored `ALERTS{alertstate="firing"}` sample. Pending is its first
    `ALERTS{alertstate="pending"}` sample, but Prometheus 2.42 stored none in our runs when `for`
    equals the group's interval, so `ALERTS_FOR_STATE` (activeAt, whole seconds) stands in: a group's
    evaluations share one sub-second phase, which the firing sample gives.
    """
    selector = f'{{alertname="{alertname}", gpu="{gpu}"}}'
    first: dict[str, float] = {}
    for series in prometheus_query(prometheus, f"ALERTS{selector}[30m]"):
        state = series["metric"].get("alertstate", "")
        stamps = [float(ts) for ts, _ in series["values"]]
        if stamps:
            first[state] = min([*stamps, first.get(state, math.inf)])
    if "firing" in first:
        for series in prometheus_query(prometheus, f"ALERTS_FOR_STATE{selector}[30m]"):
            active = min(float(value) for _, value in series["values"])
            derived = math.floor(active) + first["firing"] % 1.0
            first["pending"] = min(first.get("pending", math.inf), derived)
    return first


@dataclass
class Outcome:
    """One incident on one GPU, from the records."""

    config: str  # "shipped", "typical" or "failsafe"
    gpu: int
    pid: int
    heated: float
    crossed: float | None = None  # first sample at or above the critical limit (simulator)
    exited: float | None = None  # the workload's exit (simulator)
    warned: float | None = None  # first sample at or above the warning limit (simulator)
    hbm_warned: float | None = None  # HBM temperature first at or above its warning limit (derived)
    capped: float | None = None  # first successful power-limit setter call on this GPU (simulator)
    cap_alert: str | None = None  # the alert whose decision capped it
    killer: str | None = None  # the alert (or "failsafe") that started the kill
    peak: int | None = None
    heating_rate: float | None = None  # °C/s over the last degree before the critical limit
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def kill(self) -> float | None:
        return self.exited - self.crossed if self.exited and self.crossed else None

    @property
    def boost(self) -> float | None:
        return self.capped - self.warned if self.capped and self.warned else None

    @property
    def tier(self) -> float | None:
        """From the first warning-tier condition (die or HBM) to the cap."""
        starts = [t for t in (self.warned, self.hbm_warned) if t]
        return self.capped - min(starts) if self.capped and starts else None


def simulator_facts(
    outcome: Outcome,
    events: list[dict[str, Any]],
    setters: list[dict[str, Any]],
    warning: float,
    critical: float,
    hbm_warning_die: float,
) -> None:
    """Fill in what the simulator recorded: crossings, exit, peak, heating rate and the first cap."""
    ups = [e for e in events if e["event"] == "temperature_up" and e.get("gpu") == outcome.gpu]
    during = [e for e in ups if e["wall"] >= outcome.heated]

    def first(celsius: float) -> float | None:
        hits = [e["wall"] for e in during if e["celsius"] >= celsius]
        return min(hits) if hits else None

    outcome.crossed, outcome.warned = first(critical), first(warning)
    outcome.hbm_warned = first(hbm_warning_die)
    below = first(critical - 1)
    if outcome.crossed and below and outcome.crossed > below:
        outcome.heating_rate = 1.0 / (outcome.crossed - below)
    outcome.peak = max((e["celsius"] for e in ups), default=None)
    exits = [e["wall"] for e in events if e["event"] == "workload_exit" and e.get("pid") == outcome.pid]
    outcome.exited = min(exits) if exits else None
    caps = [
        s["wall"]
        for s in setters
        if s.get("gpu") == outcome.gpu
        and s["call"].startswith(POWER_LIMIT_SETTER)
        and s["result"] == "SUCCESS"
        and s["wall"] >= outcome.heated
    ]
    outcome.capped = min(caps) if caps else None


def audit_facts(outcome: Outcome, audit: list[dict[str, Any]]) -> float | None:
    """Which alert capped and which killed the GPU; returns when the killer's first record was written."""
    mine = [r for r in audit if r.get("gpu") == str(outcome.gpu) and r["ts"] >= outcome.heated]
    caps = [r for r in mine if r["event"] == "decision" and r.get("action") in ("fan_boost", "power_cap")
            and r.get("result") == "applied"]
    if caps:
        outcome.cap_alert = caps[0].get("alertname") or caps[0].get("source")
    kills = [r for r in mine if r["event"] == "kill_started" and outcome.pid in r.get("pids", [])]
    if not kills:
        return None
    outcome.killer = kills[0].get("alertname") or kills[0].get("source")
    if kills[0].get("source") == "failsafe":
        return kills[0]["ts"]
    # The receiver writes no arrival record for an alert: its first record of the killing alert (a
    # decision on the fan step or the kill itself) is the earliest trace of the notification.
    firsts = [r["ts"] for r in mine if r.get("alertname") == outcome.killer]
    return min(firsts)


def pipeline_stages(
    outcome: Outcome,
    watch: ExporterWatch,
    exporter: str,
    prometheus: str,
    noticed: float | None,
    critical: float,
) -> None:
    """Split the kill latency at each hand-over; stages left out where a record is missing."""
    if not (outcome.crossed and outcome.exited and noticed and outcome.killer):
        return
    read = watch.first_read_at_or_above(exporter, outcome.gpu, critical)
    scraped = first_sample_at_or_above(
        prometheus, f'DCGM_FI_DEV_GPU_TEMP{{job="gpuguard-thermal", gpu="{outcome.gpu}"}}', critical,
        outcome.heated,
    )
    states = alert_states(prometheus, outcome.killer, outcome.gpu)
    marks = [outcome.crossed, read, scraped, states.get("pending"), states.get("firing"), noticed,
             outcome.exited]
    for stage, (start, end) in zip(STAGES, itertools.pairwise(marks), strict=True):
        if start is not None and end is not None:
            outcome.stages[stage] = end - start
