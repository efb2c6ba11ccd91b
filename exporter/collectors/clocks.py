"""SM and memory clocks (MHz), `nvmlDeviceGetClockInfo`."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_SM_CLOCK": pynvml.NVML_CLOCK_SM, "DCGM_FI_DEV_MEM_CLOCK": pynvml.NVML_CLOCK_MEM}


def collect(gpu: GpuReader, out: Output) -> None:
    for name, clock in FIELDS.items():
        if out.wants(name):
            out.add(name, gpu.read(pynvml.nvmlDeviceGetClockInfo, gpu.handle, clock, key=name))
