"""The collection loop: every interval, collect all GPUs in parallel and render one snapshot.

A scrape only ever reads `Engine.snapshot` (bytes, plain and gzipped, swapped atomically): it never
calls NVML and never waits for a collection. NVML errors that mean the driver went away
(UNINITIALIZED, a driver reload) make the loop re-initialise NVML with exponential backoff; until
then every known GPU is reported with `gpuguard_gpu_up 0`.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from dataclasses import dataclass

from gpuguard import nvml
from gpuguard.exporter.collectors.base import ErrorCounts, escape, format_value
from gpuguard.exporter.collectors.processes import Cadence
from gpuguard.exporter.collectors.xid import XidLog
from gpuguard.exporter.events import XidListener
from gpuguard.exporter.fields import EXPORTER_FAMILIES, GPU_DOWN_REASON, GPU_UP, Family, Selection
from gpuguard.exporter.topology import GpuUnit, LabelSettings, discover
from gpuguard.exporter.workers import GpuResult, GpuWorker

log = logging.getLogger("gpuguard.exporter")
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class Snapshot:
    body: bytes
    gzipped: bytes


class Engine:
    def __init__(self, selection: Selection, labels: LabelSettings, interval_s: float,
                 process_interval_s: float | None = None) -> None:
        self.selection = selection
        self.label_settings = labels
        self.interval_s = interval_s
        # Per-process lists on their own, slower cadence (collectors.processes); None: every cycle.
        self.process_interval_s = process_interval_s
        # A GPU that has not answered by this point of the cycle is reported down (timeout).
        self.deadline_s = max(0.05, interval_s * 0.8)
        self.errors = ErrorCounts()
        self.xid_log = XidLog()
        self.snapshot = Snapshot(b"", gzip.compress(b""))
        self.scrapes = 0  # incremented by the HTTP server
        self.ready = threading.Event()  # set after the first snapshot
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._units: list[GpuUnit] = []
        self._workers: list[GpuWorker] = []
        self._listener: XidListener | None = None
        self._known_labels: dict[str, str] = {}  # UUID -> labels, so a GPU stays visible while down
        self._last_ok: dict[str, float] = {}
        self._initialised = False
        self._backoff = BACKOFF_FIRST_S
        self._next_init = 0.0
        self._reinits = 0
        self._cycle = 0
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._teardown()
        if self._initialised:
            nvml.shutdown()

    # -- NVML session ---------------------------------------------------------------------------
    def _setup(self) -> None:
        nvml.init()
        try:
            units = discover(self.label_settings, self.errors)
        except Exception:
            nvml.shutdown()
            raise
        for position, unit in enumerate(units):
            unit.reader.field_ids = list(self.selection.field_ids)
            unit.reader.xid_log = self.xid_log
            unit.reader.process_cadence = self._process_cadence(position, len(units))
            self._known_labels[unit.gpu.uuid] = unit.labels
        self._units = units
        modules, wanted = self.selection.modules, self.selection.wanted
        self._workers = [GpuWorker(unit, modules, wanted, self._done) for unit in units]
        if self.selection.wanted & {"DCGM_FI_DEV_XID_ERRORS", "gpuguard_xid_errors_total"}:
            self._listener = XidListener(units, self.xid_log, self.errors)
        self._initialised = True
        self._backoff = BACKOFF_FIRST_S
        log.info("NVML ready: %d GPU(s), driver %s", len(units), nvml.driver_version())

    def _process_cadence(self, position: int, count: int) -> Cadence | None:
        if self.process_interval_s is None or self.process_interval_s <= self.interval_s:
            return None
        return Cadence(self.process_interval_s, self.interval_s / 2, phase=(position + 1) / count)

    def _teardown(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        for worker in self._workers:
            worker.stop()  # a worker stuck in a hanging call is abandoned (daemon thread)
        self._workers = []
        self._units = []

    def _ensure_nvml(self) -> None:
        if self._initialised or time.monotonic() < self._next_init:
            return
        try:
            self._setup()
        except Exception as error:  # NvmlUnavailable, or NVML failing half-way through discovery
            log.warning("NVML not available (%s); retrying in %.1fs", error, self._backoff)
            self._next_init = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)

    def _reinitialise(self) -> None:
        log.warning("NVML reports the driver gone; re-initialising")
        self._reinits += 1
        self._teardown()
        nvml.shutdown()
        self._initialised = False
        self._next_init = 0.0
        self._ensure_nvml()

    # -- the loop -------------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._ensure_nvml()
                results = self._collect_all() if self._initialised else {}
                driver_gone = any(r.reason == "driver" for r in results.values()) or (
                    self._listener is not None and self._listener.driver_gone)
                self._publish(results, time.monotonic() - started)
                if driver_gone:
                    self._reinitialise()
            except Exception:
                log.exception("collection cycle failed")
            self.ready.set()
            next_tick += self.interval_s
            now = time.monotonic()
            if next_tick < now:  # a cycle overran: skip the missed ticks rather than bunch up
                next_tick = now + self.interval_s
            self._stop.wait(next_tick - now)

    def _collect_all(self) -> dict[str, GpuResult]:
        self._cycle += 1
        cycle = self._cycle
        triggered = [worker for worker in self._workers if not worker.busy]
        for worker in triggered:
            worker.trigger(cycle)
        with self._done:
            self._done.wait_for(lambda: not any(w.busy for w in triggered), timeout=self.deadline_s)
        results = {}
        for worker in self._workers:
            result = worker.result
            uuid = worker.unit.gpu.uuid
            if worker.busy or result is None or result.cycle != cycle:
                results[uuid] = GpuResult(cycle, False, "timeout")
            else:
                results[uuid] = result
                if result.up:
                    self._last_ok[uuid] = result.finished
        return results

    # -- rendering ------------------------------------------------------------------------------
    def _publish(self, results: dict[str, GpuResult], duration_s: float) -> None:
        parts: list[str] = []
        ordered = [unit.gpu.uuid for unit in self._units] or list(self._known_labels)
        for family in self.selection.families:
            lines = [line for uuid in ordered if uuid in results and results[uuid].up
                     for output in results[uuid].lines for line in output.get(family.name, ())]
            if lines:
                parts.append(_header(family))
                parts.extend(lines)
        parts.append(_header(GPU_UP))
        down = []
        for uuid in ordered:
            labels = self._known_labels[uuid]
            result = results.get(uuid)
            up = result is not None and result.up
            parts.append(f"gpuguard_gpu_up{{{labels}}} {int(up)}\n")
            if not up:
                reason = result.reason if result else "driver"
                down.append(f'gpuguard_gpu_down_reason{{{labels},reason="{reason}"}} 1\n')
        if down:
            parts.append(_header(GPU_DOWN_REASON))
            parts.extend(down)
        parts.extend(self._self_metrics(duration_s, ordered))
        body = "".join(parts).encode()
        self.snapshot = Snapshot(body, gzip.compress(body, compresslevel=6, mtime=0))

    def _self_metrics(self, duration_s: float, ordered: list[str]) -> list[str]:
        duration, last, errors, scrapes, reinits = EXPORTER_FAMILIES
        parts = [_header(duration), f"{duration.name} {format_value(duration_s)}\n", _header(last)]
        parts += [f"{last.name}{{{self._known_labels[uuid]}}} {format_value(self._last_ok[uuid])}\n"
                  for uuid in ordered if uuid in self._last_ok]
        parts.append(_header(errors))
        parts += [f'{errors.name}{{call="{escape(call)}",code="{escape(code)}"}} {count}\n'
                  for (call, code), count in self.errors.snapshot()]
        parts += [_header(scrapes), f"{scrapes.name} {self.scrapes}\n"]
        parts += [_header(reinits), f"{reinits.name} {self._reinits}\n"]
        return parts


def _header(family: Family) -> str:
    help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {family.name} {help_text}\n# TYPE {family.name} {family.prom_type}\n"
