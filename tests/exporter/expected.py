"""Facts about the compatibility target, written down literally (DESIGN.md and dcgm-exporter's CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "dcgm-exporter"

# DESIGN.md label order: gpu, UUID, pci_bus_id, device, modelName, [GPU_I_PROFILE, GPU_I_ID],
# host label, DCGM_FI_DRIVER_VERSION, then further labels sorted by name.
GPU_LABELS = ["gpu", "UUID", "pci_bus_id", "device", "modelName"]
MIG_LABELS = ["GPU_I_PROFILE", "GPU_I_ID"]
TAIL_LABELS = ["Hostname", "DCGM_FI_DRIVER_VERSION"]
DRIVER_VERSION = "575.64.03"

# The rows DESIGN.md adds under DCGM names, with the types and help texts of our default CSV.
THERMAL = {
    "DCGM_FI_DEV_FAN_SPEED": ("gauge", "Fan speed (in %)."),
    "DCGM_FI_DEV_SLOWDOWN_TEMP": ("gauge", "Slowdown temperature threshold (in C)."),
    "DCGM_FI_DEV_SHUTDOWN_TEMP": ("gauge", "Shutdown temperature threshold (in C)."),
    "DCGM_FI_DEV_GPU_MAX_OP_TEMP": ("gauge", "Maximum GPU operating temperature (in C)."),
    "DCGM_FI_DEV_MEM_MAX_OP_TEMP": ("gauge", "Maximum memory operating temperature (in C)."),
    "DCGM_FI_DEV_GPU_TEMP_LIMIT": ("gauge", "Thermal margin to the nearest slowdown threshold (in C)."),
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": ("gauge", "Power management limit (in W)."),
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": ("gauge", "Power limit the driver enforces (in W)."),
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": ("gauge", "Current clock throttle reasons (bitmask)."),
    "DCGM_FI_DEV_THERMAL_VIOLATION": ("counter", "Throttling duration due to thermal constraints (in ns)."),
    "DCGM_FI_DEV_POWER_VIOLATION": ("counter", "Throttling duration due to power constraints (in ns)."),
    "DCGM_FI_DEV_FB_TOTAL": ("gauge", "Framebuffer memory total (in MiB)."),
    "DCGM_FI_DEV_PSTATE": ("gauge", "Performance state (P-State) 0-15; 0 is the highest."),
}

# DESIGN.md's gpuguard_ series with the same GPU labels: type and extra labels (sorted by name).
GPUGUARD = {
    "gpuguard_fan_speed_percent": ("gauge", ["fan"]),
    "gpuguard_fan_target_percent": ("gauge", ["fan"]),
    "gpuguard_fan_manual": ("gauge", ["fan"]),
    "gpuguard_xid_errors_total": ("counter", ["xid"]),
    "gpuguard_process_gpu_memory_bytes": ("gauge", ["pid", "process"]),
    "gpuguard_gpu_up": ("gauge", []),
}
EXPORTER_SELF = {
    "gpuguard_exporter_collect_duration_seconds": "gauge",
    "gpuguard_exporter_last_collect_timestamp_seconds": "gauge",
    "gpuguard_exporter_nvml_errors_total": "counter",
}

# Series every simulated GPU supplies (the simulator models these NVML calls for every board).
ALWAYS = [
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_SLOWDOWN_TEMP",
    "DCGM_FI_DEV_SHUTDOWN_TEMP", "DCGM_FI_DEV_POWER_MGMT_LIMIT", "DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_THERMAL_VIOLATION", "DCGM_FI_DEV_POWER_VIOLATION",
    "DCGM_FI_DEV_PSTATE", "gpuguard_gpu_up",
]
WHOLE_GPU_ONLY = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL"]  # absent on a MIG-enabled GPU
MEMORY = ["DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_TOTAL"]

# Profiles (DESIGN.md)
SEED_MODELS = {"0": "NVIDIA GeForce RTX 5090", "1": "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"}
SEED_POWER_LIMIT_W = {"0": 575.0, "1": 600.0}
H100 = "NVIDIA H100 80GB HBM3"
H100_POWER_LIMIT_W = 700.0


def dcgm_default_rows() -> dict[str, tuple[str, str]]:
    """name -> (type, help) of every active row of dcgm-exporter's default CSV (the reference data)."""
    path = COMPAT / "etc" / "default-counters.csv"
    if not path.exists():
        pytest.skip(f"{path} absent (the shared compat folder beside the repo)")
    rows = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, prom_type, help_text = (cell.strip() for cell in line.split(",", 2))
        if prom_type != "label":
            rows[name] = (prom_type, help_text)
    return rows
