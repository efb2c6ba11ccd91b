"""GPU memory per process: `gpuguard_process_gpu_memory_bytes{pid,process}`.

NVML's process lists are the dearest calls the exporter makes (milliseconds each under the driver's
lock, two per GPU: compute and graphics), so they are read on their own, slower cadence
(`--process-interval`) and the last lists are re-rendered in the cycles between. The series of an
exited process therefore goes away at the next read of its GPU's lists: within one process interval.
The GPUs' reads are spread across the interval, so that no cycle pays for all of them at once. The
process name is the kernel's (`/proc/PID/comm`), as `ps` shows it.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"gpuguard_process_gpu_memory_bytes"}
FIRST_CAPACITY = 32  # processes per list before the buffer grows
ProcessList = Callable[[Any, dict[str, Any]], list[tuple[int, int | None]]]


def _lister(name: str) -> ProcessList:
    """`name`'s v3 symbol, called once into a buffer kept from the last read. pynvml's wrapper asks
    for the count first, with a second call (as dear as the first) whenever a process runs."""
    symbol = f"{name}_v3"

    def lister(handle: Any, buffers: dict[str, Any]) -> list[tuple[int, int | None]]:
        function = pynvml._nvmlGetFunctionPointer(symbol)  # cached by pynvml
        buffer = buffers.get(symbol) or (pynvml.c_nvmlProcessInfo_v3_t * FIRST_CAPACITY)()
        for _attempt in range(3):  # processes may start between a too-small answer and the retry
            count = ctypes.c_uint(len(buffer))
            status = function(handle, ctypes.byref(count), buffer)
            if status != pynvml.NVML_ERROR_INSUFFICIENT_SIZE:
                break
            buffer = (pynvml.c_nvmlProcessInfo_v3_t * (count.value * 2 + 5))()
        buffers[symbol] = buffer
        if status != pynvml.NVML_SUCCESS:
            raise pynvml.NVMLError(status)
        return [(info.pid, None if info.usedGpuMemory == NOT_AVAILABLE else info.usedGpuMemory)
                for info in buffer[:count.value]]

    lister.__name__ = name  # the `call` label of gpuguard_exporter_nvml_errors_total
    return lister


NOT_AVAILABLE = pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value  # Windows WDDM: memory unknown
LISTERS = (_lister("nvmlDeviceGetComputeRunningProcesses"), _lister("nvmlDeviceGetGraphicsRunningProcesses"))


@dataclass
class Cadence:
    """When one GPU's process lists are due. The first read is at once; the second comes after
    `phase` of an interval (each GPU its own phase), then one every interval. A read goes to the
    collection cycle nearest its due time (`slack_s`: half a collection interval), so the reads
    keep to the interval instead of slipping a cycle each time."""

    interval_s: float
    slack_s: float
    phase: float = 1.0  # in (0, 1]
    next_due: float | None = None  # time.monotonic(); None: never read yet

    def due(self, now: float) -> bool:
        if self.next_due is None:
            self.next_due = now + self.interval_s * self.phase
            return True
        if now < self.next_due - self.slack_s:
            return False
        self.next_due += self.interval_s
        if self.next_due < now:  # cycles were missed (a hanging GPU): start again from now
            self.next_due = now + self.interval_s
        return True


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""  # another PID namespace, or already gone


def _read_lists(gpu: GpuReader) -> dict[int, int]:
    memory: dict[int, int] = {}
    buffers = gpu.cache.setdefault("process_buffers", {})
    for lister in LISTERS:
        for pid, used in gpu.read(lister, gpu.handle, buffers) or ():
            if used is not None:
                memory[pid] = max(memory.get(pid, 0), used)
    names: dict[int, str] = gpu.cache.setdefault("process_names", {})
    for pid in list(names):
        if pid not in memory:
            del names[pid]  # PIDs are reused: forget names of processes that left
    for pid in memory:
        if pid not in names:
            names[pid] = process_name(pid)
    return memory


def collect(gpu: GpuReader, out: Output) -> None:
    if not out.wants("gpuguard_process_gpu_memory_bytes"):
        return
    cadence: Cadence | None = gpu.process_cadence
    due = cadence is None or cadence.due(time.monotonic())
    memory: dict[int, int] | None = gpu.cache.get("process_memory")
    if due or memory is None:
        memory = gpu.cache["process_memory"] = _read_lists(gpu)
    names: dict[int, str] = gpu.cache["process_names"]
    for pid, used in sorted(memory.items()):
        out.add("gpuguard_process_gpu_memory_bytes", used, (("pid", str(pid)), ("process", names[pid])))
