"""PCIe replay counter. Never the PCIe throughput sample: NVML blocks ~20 ms in it."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_PCIE_REPLAY_COUNTER"}
FIELD_IDS = {"DCGM_FI_DEV_PCIE_REPLAY_COUNTER": pynvml.NVML_FI_DEV_PCIE_REPLAY_COUNTER}


def collect(gpu: GpuReader, out: Output) -> None:
    if out.wants("DCGM_FI_DEV_PCIE_REPLAY_COUNTER"):
        out.add("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", gpu.field(
            pynvml.NVML_FI_DEV_PCIE_REPLAY_COUNTER,
            lambda: gpu.read(pynvml.nvmlDeviceGetPcieReplayCounter, gpu.handle)))
