"""Row remapping (HBM and recent GDDR boards): `nvmlDeviceGetRemappedRows`, one call for all three."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE",
}


def collect(gpu: GpuReader, out: Output) -> None:
    if not any(out.wants(name) for name in FIELDS):
        return
    rows = gpu.read(pynvml.nvmlDeviceGetRemappedRows, gpu.handle)
    if rows is None:
        return
    correctable, uncorrectable, _pending, failure = rows
    out.add("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", correctable)
    out.add("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", uncorrectable)
    out.add("DCGM_FI_DEV_ROW_REMAP_FAILURE", failure)
