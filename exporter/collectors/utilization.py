"""GPU, memory-copy, encoder and decoder utilization (%). Absent on a MIG-enabled GPU, where NVML
has no whole-GPU utilization and any number would mislead."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL"}


def collect(gpu: GpuReader, out: Output) -> None:
    if gpu.mig_enabled:
        return
    if out.wants("DCGM_FI_DEV_GPU_UTIL") or out.wants("DCGM_FI_DEV_MEM_COPY_UTIL"):
        rates = gpu.read(pynvml.nvmlDeviceGetUtilizationRates, gpu.handle)
        if rates is not None:
            out.add("DCGM_FI_DEV_GPU_UTIL", rates.gpu)
            out.add("DCGM_FI_DEV_MEM_COPY_UTIL", rates.memory)
    if out.wants("DCGM_FI_DEV_ENC_UTIL"):
        encoder = gpu.read(pynvml.nvmlDeviceGetEncoderUtilization, gpu.handle)
        out.add("DCGM_FI_DEV_ENC_UTIL", None if encoder is None else encoder[0])
    if out.wants("DCGM_FI_DEV_DEC_UTIL"):
        decoder = gpu.read(pynvml.nvmlDeviceGetDecoderUtilization, gpu.handle)
        out.add("DCGM_FI_DEV_DEC_UTIL", None if decoder is None else decoder[0])
