"""Framebuffer free, used, reserved and total (MiB, from NVML's bytes).

On a MIG-enabled GPU these are reported per GPU instance (the MIG device's own memory), as
dcgm-exporter does, and not for the whole GPU, so that a sum over series does not count twice.
"""

from __future__ import annotations

from typing import Any

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_FB_TOTAL"}
MIB = 1024 * 1024


def _memory_info(handle: Any) -> Any:
    return pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)


def _memory_info_v1(handle: Any) -> Any:
    return pynvml.nvmlDeviceGetMemoryInfo(handle)


def _emit(gpu: GpuReader, handle: Any, out: Output, key: str) -> None:
    info = gpu.read(_memory_info, handle, key=f"{key}:v2")
    if info is None and f"{key}:v2" in gpu.unsupported:
        info = gpu.read(_memory_info_v1, handle, key=f"{key}:v1")
    if info is None:
        return
    out.add("DCGM_FI_DEV_FB_TOTAL", info.total // MIB)
    out.add("DCGM_FI_DEV_FB_FREE", info.free // MIB)
    out.add("DCGM_FI_DEV_FB_USED", info.used // MIB)
    if hasattr(info, "reserved"):
        out.add("DCGM_FI_DEV_FB_RESERVED", info.reserved // MIB)


def collect(gpu: GpuReader, out: Output) -> None:
    if not gpu.mig_enabled:
        _emit(gpu, gpu.handle, out, "memory")


def collect_instance(gpu: GpuReader, instance_handle: Any, gi_id: int, out: Output) -> None:
    _emit(gpu, instance_handle, out, f"memory:gi{gi_id}")
