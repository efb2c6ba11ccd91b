"""Which series names exist, who supplies them, and how the CSV's rows map onto them."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import pynvml

from gpuguard.exporter.collectors import ALL
from gpuguard.exporter.counters import Counter, CountersError

# DCGM fields that are valid in dcgm-exporter's CSVs but that NVML cannot supply (DCGM-internal
# health, vGPU licensing, counters DCGM derives itself): accepted, logged once, left out.
KNOWN_UNSUPPLIED = frozenset({
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_L0",
    "DCGM_EXP_CLOCK_EVENTS_COUNT",
    "DCGM_EXP_XID_ERRORS_COUNT",
    "DCGM_EXP_GPU_HEALTH_STATUS",
    "DCGM_EXP_P2P_STATUS",
})


def _brand(handle: object) -> str:
    names = {value: name.removeprefix("NVML_BRAND_") for name, value in vars(pynvml).items()
             if name.startswith("NVML_BRAND_") and isinstance(value, int) and name != "NVML_BRAND_COUNT"}
    return names.get(pynvml.nvmlDeviceGetBrand(handle), "UNKNOWN")


def _inforom(handle: object, which: int) -> str:
    return pynvml.nvmlDeviceGetInforomVersion(handle, which)


# `label` rows: a DCGM field that becomes a label on every series, read once per GPU.
LABEL_FIELDS = {
    "DCGM_FI_DRIVER_VERSION": lambda handle: pynvml.nvmlSystemGetDriverVersion(),
    "DCGM_FI_NVML_VERSION": lambda handle: pynvml.nvmlSystemGetNVMLVersion(),
    "DCGM_FI_DEV_BRAND": _brand,
    "DCGM_FI_DEV_SERIAL": pynvml.nvmlDeviceGetSerial,
    "DCGM_FI_DEV_VBIOS_VERSION": pynvml.nvmlDeviceGetVbiosVersion,
    "DCGM_FI_DEV_OEM_INFOROM_VER": lambda h: _inforom(h, pynvml.NVML_INFOROM_OEM),
    "DCGM_FI_DEV_ECC_INFOROM_VER": lambda h: _inforom(h, pynvml.NVML_INFOROM_ECC),
    "DCGM_FI_DEV_POWER_INFOROM_VER": lambda h: _inforom(h, pynvml.NVML_INFOROM_POWER),
    "DCGM_FI_DEV_INFOROM_IMAGE_VER": pynvml.nvmlDeviceGetInforomImageVersion,
}


@dataclass(frozen=True)
class Family:
    name: str
    prom_type: str
    help: str


# gpuguard's own per-GPU series: always on, with the same GPU labels as the DCGM ones.
GPUGUARD_GPU_FAMILIES = (
    Family("gpuguard_fan_speed_percent", "gauge", "Fan speed, per fan (in %)."),
    Family("gpuguard_fan_target_percent", "gauge",
           "Fan speed the driver or a manual override asks for, per fan (in %)."),
    Family("gpuguard_fan_manual", "gauge",
           "1 while the fan is under manual control, 0 under the driver's automatic curve."),
    Family("gpuguard_xid_errors_total", "counter",
           "XID errors seen since the exporter started, per XID code."),
    Family("gpuguard_process_gpu_memory_bytes", "gauge", "GPU memory used by a process (in bytes)."),
)
GPU_UP = Family("gpuguard_gpu_up", "gauge",
                "1 while the GPU answers NVML within the collection deadline, else 0.")
GPU_DOWN_REASON = Family(
    "gpuguard_gpu_down_reason", "gauge",
    "1 with the reason while gpuguard_gpu_up is 0: lost (fell off the bus), timeout (a call hangs), "
    "driver (NVML re-initialising), error (another NVML error).",
)
EXPORTER_FAMILIES = (
    Family("gpuguard_exporter_collect_duration_seconds", "gauge",
           "Duration of the last collection cycle (in s)."),
    Family("gpuguard_exporter_last_collect_timestamp_seconds", "gauge",
           "Unix time of the last successful collection, per GPU."),
    Family("gpuguard_exporter_nvml_errors_total", "counter",
           "NVML calls that returned an error, by function and code."),
    Family("gpuguard_exporter_scrapes_total", "counter",
           "Scrapes of /metrics served, as of the last collection cycle."),
    Family("gpuguard_exporter_nvml_reinits_total", "counter",
           "Times NVML was re-initialised after a driver error."),
)


def supplier_index() -> dict[str, ModuleType]:
    return {name: module for module in ALL for name in module.FIELDS}


@dataclass(frozen=True)
class Selection:
    """What a counters CSV asks for, checked against what exists."""

    families: tuple[Family, ...]  # DCGM series in CSV order, then gpuguard's own
    label_fields: tuple[str, ...]  # `label` rows in CSV order
    modules: tuple[ModuleType, ...]  # collectors with at least one wanted series
    wanted: frozenset[str]
    field_ids: tuple[int, ...]  # for the one field-value batch per GPU per cycle
    unsupplied: tuple[str, ...]  # known DCGM fields we cannot supply


def select(counters: list[Counter]) -> Selection:
    """Raises CountersError (file and line) for a field name no collector or DCGM knows."""
    suppliers = supplier_index()
    families: list[Family] = []
    labels: list[str] = []
    unsupplied: list[str] = []
    for counter in counters:
        if counter.is_label:
            if counter.field not in LABEL_FIELDS:
                raise CountersError(f"{counter.source}: unknown label field {counter.field}")
            labels.append(counter.field)
        elif counter.field in suppliers:
            families.append(Family(counter.field, counter.prom_type, counter.help))
        elif counter.field in KNOWN_UNSUPPLIED or counter.field in LABEL_FIELDS:
            unsupplied.append(counter.field)
        else:
            raise CountersError(f"{counter.source}: unknown field {counter.field}")
    families += GPUGUARD_GPU_FAMILIES
    wanted = frozenset(family.name for family in families)
    modules = tuple(module for module in ALL if wanted & set(module.FIELDS))
    field_ids = tuple(
        fi for module in modules for name, fi in getattr(module, "FIELD_IDS", {}).items() if name in wanted
    )
    return Selection(tuple(families), tuple(labels), modules, wanted, field_ids, tuple(unsupplied))
