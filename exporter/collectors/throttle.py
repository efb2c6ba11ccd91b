"""Clock throttle (event) reasons bitmask and performance state."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_PSTATE"}


def collect(gpu: GpuReader, out: Output) -> None:
    if out.wants("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"):
        reasons = gpu.read(pynvml.nvmlDeviceGetCurrentClocksEventReasons, gpu.handle)
        if reasons is None and "nvmlDeviceGetCurrentClocksEventReasons" in gpu.unsupported:
            # Drivers before 535 only know the older name for the same bitmask.
            reasons = gpu.read(pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, gpu.handle)
        out.add("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", reasons)
    if out.wants("DCGM_FI_DEV_PSTATE"):
        pstate = gpu.read(pynvml.nvmlDeviceGetPerformanceState, gpu.handle)
        out.add("DCGM_FI_DEV_PSTATE", None if pstate == pynvml.NVML_PSTATE_UNKNOWN else pstate)
