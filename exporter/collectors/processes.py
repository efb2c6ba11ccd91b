"""GPU memory per process: `gpuguard_process_gpu_memory_bytes{pid,process}`.

Built afresh every cycle from NVML's process lists, so the series of an exited process goes away
with the next cycle. The process name is the kernel's (`/proc/PID/comm`), as `ps` shows it.
"""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"gpuguard_process_gpu_memory_bytes"}


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""  # another PID namespace, or already gone


def collect(gpu: GpuReader, out: Output) -> None:
    if not out.wants("gpuguard_process_gpu_memory_bytes"):
        return
    memory: dict[int, int] = {}
    for lister in (pynvml.nvmlDeviceGetComputeRunningProcesses, pynvml.nvmlDeviceGetGraphicsRunningProcesses):
        for process in gpu.read(lister, gpu.handle) or ():
            if process.usedGpuMemory is not None:
                memory[process.pid] = max(memory.get(process.pid, 0), process.usedGpuMemory)
    names: dict[int, str] = gpu.cache.setdefault("process_names", {})
    for pid in list(names):
        if pid not in memory:
            del names[pid]  # PIDs are reused: forget names of processes that left
    for pid, used in sorted(memory.items()):
        if pid not in names:
            names[pid] = process_name(pid)
        out.add("gpuguard_process_gpu_memory_bytes", used, (("pid", str(pid)), ("process", names[pid])))
