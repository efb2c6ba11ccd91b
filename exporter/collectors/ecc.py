"""ECC error totals and retired pages, from the field-value batch (absent on boards without ECC)."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELD_IDS = {
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": pynvml.NVML_FI_DEV_ECC_SBE_VOL_TOTAL,
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": pynvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL,
    "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL": pynvml.NVML_FI_DEV_ECC_SBE_AGG_TOTAL,
    "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL": pynvml.NVML_FI_DEV_ECC_DBE_AGG_TOTAL,
    "DCGM_FI_DEV_RETIRED_SBE": pynvml.NVML_FI_DEV_RETIRED_SBE,
    "DCGM_FI_DEV_RETIRED_DBE": pynvml.NVML_FI_DEV_RETIRED_DBE,
    "DCGM_FI_DEV_RETIRED_PENDING": pynvml.NVML_FI_DEV_RETIRED_PENDING,
}
FIELDS = set(FIELD_IDS)


def collect(gpu: GpuReader, out: Output) -> None:
    for name, fi in FIELD_IDS.items():
        if out.wants(name):
            out.add(name, gpu.field(fi))
