"""NVLink counters, from the field-value batch (absent on boards without NVLink)."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELD_IDS = {
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": pynvml.NVML_FI_DEV_NVLINK_BANDWIDTH_C0_TOTAL,
    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL": pynvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL,
    "DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL": pynvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL,
    "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL": pynvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL,
    "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL": pynvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL,
}
FIELDS = set(FIELD_IDS)


def collect(gpu: GpuReader, out: Output) -> None:
    for name, fi in FIELD_IDS.items():
        if out.wants(name):
            out.add(name, gpu.field(fi))
