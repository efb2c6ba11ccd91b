"""One worker thread per GPU, so that a GPU whose NVML calls hang stalls only itself.

The coordinator triggers every idle worker at the start of a cycle and waits for them until the
cycle's deadline. A worker still inside a hanging call is not triggered again; its GPU is reported
down (`timeout`) until the call returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType

from gpuguard.exporter.collectors.base import DriverGone, GpuLost, Output
from gpuguard.exporter.topology import GpuUnit

log = logging.getLogger("gpuguard.exporter")


@dataclass
class GpuResult:
    cycle: int
    up: bool
    reason: str = ""  # why not up: lost, error, driver
    finished: float = 0.0  # time.time() when the collection ended
    lines: list[dict[str, list[str]]] = field(default_factory=list)  # GPU, then each MIG instance


def collect_unit(unit: GpuUnit, modules: tuple[ModuleType, ...], wanted: frozenset[str]) -> list[Output]:
    reader = unit.reader
    reader.fetch_field_values()
    gpu_out = Output(unit.labels, wanted)
    outputs = [gpu_out]
    for module in modules:
        module.collect(reader, gpu_out)
    for instance in unit.instances:
        out = Output(instance.labels, wanted)
        for module in modules:
            per_instance = getattr(module, "collect_instance", None)
            if per_instance is not None:
                per_instance(reader, instance.handle, instance.gi_id, out)
        outputs.append(out)
    return outputs


class GpuWorker:
    def __init__(self, unit: GpuUnit, modules: tuple[ModuleType, ...], wanted: frozenset[str],
                 done: threading.Condition) -> None:
        self.unit = unit
        self.modules = modules
        self.wanted = wanted
        self.done = done
        self.busy = False
        self.cycle = -1
        self.result: GpuResult | None = None
        self._go = threading.Event()
        self._stopped = False
        self.thread = threading.Thread(target=self._loop, name=f"gpu{unit.gpu.index}", daemon=True)
        self.thread.start()

    def trigger(self, cycle: int) -> None:
        self.busy = True
        self.cycle = cycle
        self._go.set()

    def stop(self) -> None:
        self._stopped = True
        self._go.set()

    def _loop(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            if self._stopped:
                return
            cycle = self.cycle
            try:
                outputs = collect_unit(self.unit, self.modules, self.wanted)
                result = GpuResult(cycle, True, finished=time.time(), lines=[out.lines for out in outputs])
            except GpuLost:
                result = GpuResult(cycle, False, "lost")
            except DriverGone:
                result = GpuResult(cycle, False, "driver")
            except Exception:  # a bug or an odd driver answer must not kill the worker
                log.exception("GPU %d: collection failed", self.unit.gpu.index)
                result = GpuResult(cycle, False, "error")
            with self.done:
                self.result = result
                self.busy = False
                self.done.notify_all()
