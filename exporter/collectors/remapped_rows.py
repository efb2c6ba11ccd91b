"""Row remapping (HBM and recent GDDR boards): the field-value batch, else `nvmlDeviceGetRemappedRows`."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELD_IDS = {
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": pynvml.NVML_FI_DEV_REMAPPED_COR,
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": pynvml.NVML_FI_DEV_REMAPPED_UNC,
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": pynvml.NVML_FI_DEV_REMAPPED_FAILURE,
}
FIELDS = set(FIELD_IDS)


def collect(gpu: GpuReader, out: Output) -> None:
    if not any(out.wants(name) for name in FIELDS):
        return
    if all(fi in gpu.field_values for fi in FIELD_IDS.values()):  # from the batch: no extra call
        for name, fi in FIELD_IDS.items():
            out.add(name, gpu.field(fi))
        return
    rows = gpu.read(pynvml.nvmlDeviceGetRemappedRows, gpu.handle)
    if rows is None:
        return
    correctable, uncorrectable, _pending, failure = rows
    out.add("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", correctable)
    out.add("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", uncorrectable)
    out.add("DCGM_FI_DEV_ROW_REMAP_FAILURE", failure)
