"""What /health and `gpuguard_actions_health_ok` report: the receiver's loops are alive and beating,
NVML answers, and its records can be written.

A receiver that answers 200 while nothing acts is the worst failure it can have, so each long-lived
loop beats here; one that has not beaten within its allowance (dead, or stuck behind a call that never
returns) makes /health answer 503 naming it. Faults (a state file that cannot be saved, an audit log
that cannot be written, NVML down) are reported by whoever meets them and cleared when they pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import Gauge

CHECKS = ("decisions", "failsafe", "nvml", "state", "audit")


class Health:
    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._lock = threading.Lock()
        self._beats: dict[str, tuple[float, float, threading.Thread | None]] = {}
        self._faults: dict[str, str] = {}
        self._probes: dict[str, Callable[[], str | None]] = {}
        for check in CHECKS:
            gauge.labels(check).set(1)

    def watch(self, loop: str, allowance_s: float, thread: threading.Thread | None = None) -> None:
        """`loop` must beat at least every `allowance_s` seconds (and `thread` stay alive)."""
        with self._lock:
            self._beats[loop] = (time.monotonic(), allowance_s, thread)

    def beat(self, loop: str) -> None:
        with self._lock:
            _, allowance, thread = self._beats.get(loop, (0.0, 30.0, None))
            self._beats[loop] = (time.monotonic(), allowance, thread)

    def probe(self, check: str, function: Callable[[], str | None]) -> None:
        """`function` returns what is wrong with `check` now, or None; asked on every report."""
        self._probes[check] = function

    def fault(self, check: str, detail: str) -> None:
        with self._lock:
            self._faults[check] = detail

    def clear(self, check: str) -> None:
        with self._lock:
            self._faults.pop(check, None)

    def problems(self) -> dict[str, str]:
        """Every check that is failing now, with why; also sets the gauge."""
        now = time.monotonic()
        found: dict[str, str] = {}
        with self._lock:
            for loop, (last, allowance, thread) in self._beats.items():
                if thread is not None and not thread.is_alive():
                    found[loop] = "thread is dead"
                elif now - last > allowance:
                    found[loop] = f"no progress for {now - last:.0f} s (allowed {allowance:g} s)"
            found.update(self._faults)
        for check, function in self._probes.items():
            try:
                detail = function()
            except Exception as error:  # a probe must not break the report
                detail = f"check failed: {type(error).__name__}: {error}"
            if detail:
                found.setdefault(check, detail)
        for check in set(CHECKS) | set(found):
            self._gauge.labels(check).set(0 if check in found else 1)
        return found
