"""Watching an incident from the outside: the node's own records, Prometheus, Alertmanager, the audit log.

The demo and the end-to-end tests judge the loop only by what these record: the simulator's event and
setter logs (its own timestamps), Prometheus's and Alertmanager's alert APIs, and the receiver's audit
log. Nothing here talks to the exporter or the receiver's internals.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def prometheus_query(base: str, query: str) -> list[dict[str, Any]]:
    """An instant query's result vector (empty when Prometheus answers nothing)."""
    body = get_json(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': query})}")
    return list(body.get("data", {}).get("result", []))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.strip().startswith("{")]


@dataclass
class Sample:
    """One look at the node and the pipeline."""

    wall: float
    gpus: list[dict[str, Any]]
    prometheus_alerts: list[tuple[str, str, str]]  # (alertname, gpu, state)
    alertmanager_alerts: list[tuple[str, str, str]]  # (alertname, gpu, state)


@dataclass
class AlertChange:
    wall: float
    source: str  # "prometheus" or "alertmanager"
    alertname: str
    gpu: str
    state: str  # "pending", "firing", "active", "suppressed", "resolved"


@dataclass
class Observer:
    """Samples `status()` and the alert APIs in the background until stopped."""

    status: Callable[[], dict[str, Any]]
    prometheus: str | None = None
    alertmanagers: list[str] = field(default_factory=list)
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    changes: list[AlertChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str, str], str] = {}

    def start(self) -> Observer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def latest(self) -> Sample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def _prometheus_alerts(self) -> list[tuple[str, str, str]]:
        if not self.prometheus:
            return []
        try:
            alerts = get_json(f"{self.prometheus}/api/v1/alerts")["data"]["alerts"]
        except (OSError, ValueError, KeyError):
            return []
        return sorted(
            (a["labels"].get("alertname", ""), a["labels"].get("gpu", ""), a.get("state", "")) for a in alerts
        )

    def _alertmanager_alerts(self) -> list[tuple[str, str, str]]:
        found: set[tuple[str, str, str]] = set()
        for base in self.alertmanagers:
            try:
                alerts = get_json(f"{base}/api/v2/alerts")
            except (OSError, ValueError):
                continue
            for alert in alerts:
                labels = alert.get("labels", {})
                found.add((labels.get("alertname", ""), labels.get("gpu", ""), alert["status"]["state"]))
        return sorted(found)

    def _note_changes(self, wall: float, source: str, current: list[tuple[str, str, str]]) -> None:
        seen = {(source, name, gpu): state for name, gpu, state in current}
        for key, state in seen.items():
            if self._last.get(key) != state:
                self.changes.append(AlertChange(wall, source, key[1], key[2], state))
        for key in [k for k in self._last if k[0] == source and k not in seen]:
            self.changes.append(AlertChange(wall, source, key[1], key[2], "resolved"))
            del self._last[key]
        self._last.update(seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            wall = time.time()
            try:
                gpus = self.status()["gpus"]
            except Exception:  # the node may be tearing down; the next look decides
                gpus = []
            prom, am = self._prometheus_alerts(), self._alertmanager_alerts()
            with self._lock:
                self.samples.append(Sample(wall, gpus, prom, am))
                self._note_changes(wall, "prometheus", prom)
                self._note_changes(wall, "alertmanager", am)
            self._stop.wait(self.interval)


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    step: str,
    interval: float = 0.2,
    on_tick: Callable[[], None] | None = None,
) -> Any:
    """Poll `condition` until truthy; raise StepFailed naming `step` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if on_tick is not None:
            on_tick()
        if time.monotonic() > deadline:
            raise StepFailed(step, f"not seen within {timeout:.0f} s")
        time.sleep(interval)


class StepFailed(Exception):
    """A step of the incident did not happen (or not in order)."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"step '{step}' did not happen: {detail}")
        self.step = step
        self.detail = detail
