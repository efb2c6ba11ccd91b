"""Time spent throttled, per cause (ns), `nvmlDeviceGetViolationStatus` as DCGM reads it."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {
    "DCGM_FI_DEV_POWER_VIOLATION": pynvml.NVML_PERF_POLICY_POWER,
    "DCGM_FI_DEV_THERMAL_VIOLATION": pynvml.NVML_PERF_POLICY_THERMAL,
    "DCGM_FI_DEV_SYNC_BOOST_VIOLATION": pynvml.NVML_PERF_POLICY_SYNC_BOOST,
    "DCGM_FI_DEV_BOARD_LIMIT_VIOLATION": pynvml.NVML_PERF_POLICY_BOARD_LIMIT,
    "DCGM_FI_DEV_LOW_UTIL_VIOLATION": pynvml.NVML_PERF_POLICY_LOW_UTILIZATION,
    "DCGM_FI_DEV_RELIABILITY_VIOLATION": pynvml.NVML_PERF_POLICY_RELIABILITY,
}


def collect(gpu: GpuReader, out: Output) -> None:
    for name, policy in FIELDS.items():
        if out.wants(name):
            status = gpu.read(pynvml.nvmlDeviceGetViolationStatus, gpu.handle, policy, key=name)
            out.add(name, None if status is None else status.violationTime)
