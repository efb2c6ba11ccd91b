"""GPU and memory temperature, the thermal margin, and the thresholds (C). Thresholds are read once
per NVML session; the margin moves with the temperature, so it is read every cycle."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

THRESHOLDS = {
    "DCGM_FI_DEV_SLOWDOWN_TEMP": pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
    "DCGM_FI_DEV_SHUTDOWN_TEMP": pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
    "DCGM_FI_DEV_GPU_MAX_OP_TEMP": pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX,
    "DCGM_FI_DEV_MEM_MAX_OP_TEMP": pynvml.NVML_TEMPERATURE_THRESHOLD_MEM_MAX,
}
# DCGM field 153: the margin to the nearest slowdown threshold (Ada, Hopper and later; older boards
# answer NOT_SUPPORTED, and then it is absent). It can go negative past the threshold.
MARGIN = "DCGM_FI_DEV_GPU_TEMP_LIMIT"
FIELDS = {"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", MARGIN, *THRESHOLDS}
# HBM memory temperature exists only as a field value; GDDR boards answer NOT_SUPPORTED.
FIELD_IDS = {"DCGM_FI_DEV_MEMORY_TEMP": pynvml.NVML_FI_DEV_MEMORY_TEMP}


def collect(gpu: GpuReader, out: Output) -> None:
    if out.wants("DCGM_FI_DEV_GPU_TEMP"):
        out.add("DCGM_FI_DEV_GPU_TEMP",
                gpu.read(pynvml.nvmlDeviceGetTemperature, gpu.handle, pynvml.NVML_TEMPERATURE_GPU))
    if out.wants(MARGIN):
        out.add(MARGIN, gpu.read(pynvml.nvmlDeviceGetMarginTemperature, gpu.handle))
    if out.wants("DCGM_FI_DEV_MEMORY_TEMP"):
        out.add("DCGM_FI_DEV_MEMORY_TEMP", gpu.field(pynvml.NVML_FI_DEV_MEMORY_TEMP))
    for name, threshold in THRESHOLDS.items():
        if out.wants(name):
            out.add(name, gpu.cached(name, pynvml.nvmlDeviceGetTemperatureThreshold, gpu.handle, threshold))
