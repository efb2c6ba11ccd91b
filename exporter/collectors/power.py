"""Power draw and limits (W, from NVML's mW) and total energy (mJ)."""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT",
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
}
FIELD_IDS = {
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT,  # mW, as the direct call
}


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else milliwatts / 1000.0


def collect(gpu: GpuReader, out: Output) -> None:
    if out.wants("DCGM_FI_DEV_POWER_USAGE"):
        out.add("DCGM_FI_DEV_POWER_USAGE", _watts(gpu.read(pynvml.nvmlDeviceGetPowerUsage, gpu.handle)))
    if out.wants("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"):
        out.add("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", gpu.field(
            pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
            lambda: gpu.read(pynvml.nvmlDeviceGetTotalEnergyConsumption, gpu.handle)))
    # Limits change when someone caps power (the action receiver does), so they are read every cycle.
    if out.wants("DCGM_FI_DEV_POWER_MGMT_LIMIT"):
        out.add("DCGM_FI_DEV_POWER_MGMT_LIMIT", _watts(gpu.field(
            pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT,
            lambda: gpu.read(pynvml.nvmlDeviceGetPowerManagementLimit, gpu.handle))))
    if out.wants("DCGM_FI_DEV_ENFORCED_POWER_LIMIT"):
        out.add("DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
                _watts(gpu.read(pynvml.nvmlDeviceGetEnforcedPowerLimit, gpu.handle)))
