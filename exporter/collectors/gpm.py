"""DCGM's profiling rows from NVML GPM (GPU Performance Monitoring, Hopper and newer).

GPM metrics are the difference between two samples: each cycle takes one sample per GPU (or per MIG
GPU instance) and reports the metrics between it and the previous cycle's. Percentages become
ratios and MiB/s become bytes/s, as DCGM reports them. Where `nvmlGpmQueryDeviceSupport` says no,
the rows are absent.
"""

from __future__ import annotations

from typing import Any

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

MIB = 1024 * 1024
# DCGM name -> (GPM metric id, factor from NVML's unit to DCGM's)
METRICS = {
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": (pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL, 0.01),
    "DCGM_FI_PROF_SM_ACTIVE": (pynvml.NVML_GPM_METRIC_SM_UTIL, 0.01),
    "DCGM_FI_PROF_SM_OCCUPANCY": (pynvml.NVML_GPM_METRIC_SM_OCCUPANCY, 0.01),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": (pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL, 0.01),
    "DCGM_FI_PROF_DRAM_ACTIVE": (pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL, 0.01),
    "DCGM_FI_PROF_PIPE_FP64_ACTIVE": (pynvml.NVML_GPM_METRIC_FP64_UTIL, 0.01),
    "DCGM_FI_PROF_PIPE_FP32_ACTIVE": (pynvml.NVML_GPM_METRIC_FP32_UTIL, 0.01),
    "DCGM_FI_PROF_PIPE_FP16_ACTIVE": (pynvml.NVML_GPM_METRIC_FP16_UTIL, 0.01),
    "DCGM_FI_PROF_PCIE_TX_BYTES": (pynvml.NVML_GPM_METRIC_PCIE_TX_PER_SEC, MIB),
    "DCGM_FI_PROF_PCIE_RX_BYTES": (pynvml.NVML_GPM_METRIC_PCIE_RX_PER_SEC, MIB),
}
FIELDS = set(METRICS)


def _supported(gpu: GpuReader) -> bool:
    support = gpu.cached("gpm_support", pynvml.nvmlGpmQueryDeviceSupport, gpu.handle)
    return bool(support is not None and support.isSupportedDevice)


def _sample(gpu: GpuReader, key: str, gi_id: int | None) -> tuple[Any, Any] | None:
    """(previous, current) samples for this GPU or instance; None on the first cycle or an error."""
    slots = gpu.cache.get(key)
    if slots is None:
        first = gpu.read(pynvml.nvmlGpmSampleAlloc, key="gpm_alloc")
        second = gpu.read(pynvml.nvmlGpmSampleAlloc, key="gpm_alloc")
        if first is None or second is None:
            return None
        slots = gpu.cache[key] = {"previous": first, "current": second, "primed": False}
    slots["previous"], slots["current"] = slots["current"], slots["previous"]
    if gi_id is None:
        taken = gpu.read(pynvml.nvmlGpmSampleGet, gpu.handle, slots["current"])
    else:
        taken = gpu.read(pynvml.nvmlGpmMigSampleGet, gpu.handle, gi_id, slots["current"])
    if taken is None:
        slots["primed"] = False
        return None
    primed, slots["primed"] = slots["primed"], True
    return (slots["previous"], slots["current"]) if primed else None


def _emit(gpu: GpuReader, out: Output, gi_id: int | None) -> None:
    wanted = [(name, *METRICS[name]) for name in METRICS if out.wants(name)]
    if not wanted or not _supported(gpu):
        return
    samples = _sample(gpu, "gpm" if gi_id is None else f"gpm:gi{gi_id}", gi_id)
    if samples is None:
        return
    request = pynvml.c_nvmlGpmMetricsGet_t()
    request.version = pynvml.NVML_GPM_METRICS_GET_VERSION
    request.numMetrics = len(wanted)
    request.sample1, request.sample2 = samples
    for slot, (_name, metric_id, _factor) in enumerate(wanted):
        request.metrics[slot].metricId = metric_id
    if gpu.read(pynvml.nvmlGpmMetricsGet, request) is None:
        return
    for slot, (name, _metric_id, factor) in enumerate(wanted):
        metric = request.metrics[slot]
        if metric.nvmlReturn == pynvml.NVML_SUCCESS:
            out.add(name, metric.value * factor)


def collect(gpu: GpuReader, out: Output) -> None:
    if not gpu.mig_enabled:
        _emit(gpu, out, None)


def collect_instance(gpu: GpuReader, instance_handle: Any, gi_id: int, out: Output) -> None:
    _emit(gpu, out, gi_id)
