"""Time spent throttled, per cause (ns), `nvmlDeviceGetViolationStatus` as DCGM reads it."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

# The two a thermal policy reads come in the field-value batch (same counters, in ns).
FIELD_IDS = {
    "DCGM_FI_DEV_POWER_VIOLATION": pynvml.NVML_FI_DEV_PERF_POLICY_POWER,
    "DCGM_FI_DEV_THERMAL_VIOLATION": pynvml.NVML_FI_DEV_PERF_POLICY_THERMAL,
}
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

            def direct(name: str = name, policy: int = policy) -> int | None:
                status = gpu.read(pynvml.nvmlDeviceGetViolationStatus, gpu.handle, policy, key=name)
                return None if status is None else status.violationTime

            fi = FIELD_IDS.get(name)
            out.add(name, direct() if fi is None else gpu.field(fi, direct))
