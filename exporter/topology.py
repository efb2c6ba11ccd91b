"""The node as NVML shows it once per NVML session: GPUs, MIG GPU instances, and their labels.

Label order is interface (DESIGN.md): `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, then
`GPU_I_PROFILE`, `GPU_I_ID` for a MIG instance, then the host label, then the CSV's `label` rows
(`DCGM_FI_DRIVER_VERSION`), then any further labels sorted by name.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import pynvml

from gpuguard import nvml
from gpuguard.exporter.collectors.base import ErrorCounts, GpuReader, escape, text
from gpuguard.exporter.fields import LABEL_FIELDS
from gpuguard.nvml import Gpu

log = logging.getLogger("gpuguard.exporter")


@dataclass
class MigInstance:
    handle: Any
    gi_id: int
    profile: str
    labels: str


@dataclass
class GpuUnit:
    """One physical GPU, its reader, its rendered labels and its MIG instances."""

    gpu: Gpu
    reader: GpuReader
    labels: str
    instances: list[MigInstance] = field(default_factory=list)


@dataclass(frozen=True)
class LabelSettings:
    host_label: str | None  # "Hostname", "hostname", or None for no host label
    hostname: str
    label_fields: tuple[str, ...]


def render_labels(pairs: list[tuple[str, str]]) -> str:
    return ",".join(f'{key}="{escape(value)}"' for key, value in pairs)


def _label_values(handle: Any, settings: LabelSettings, errors: ErrorCounts) -> list[tuple[str, str]]:
    values = []
    for name in settings.label_fields:
        try:
            values.append((name, text(LABEL_FIELDS[name](handle))))
        except pynvml.NVMLError as error:
            errors.add(name, nvml.error_name(error))
            log.info("label %s not available on this GPU (%s); left out", name, nvml.error_name(error))
    return values


def _profile_name(parent: Any, mig: Any, gi_id: int) -> str:
    """`1g.10gb`, as dcgm-exporter's GPU_I_PROFILE. NVML names a MIG device `<model> MIG 1g.10gb`;
    older drivers are asked for the GPU instance's profile, then for the device's attributes."""
    with contextlib.suppress(pynvml.NVMLError):
        name = text(pynvml.nvmlDeviceGetName(mig))
        if " MIG " in name:
            return name.rsplit(" MIG ", 1)[1]
    with contextlib.suppress(pynvml.NVMLError):
        instance = pynvml.nvmlDeviceGetGpuInstanceById(parent, gi_id)
        profile_id = pynvml.nvmlGpuInstanceGetInfo(instance).profileId
        for profile in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
            try:
                info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(parent, profile)
            except pynvml.NVMLError:
                continue
            if info.id == profile_id:
                name = text(info.name).removeprefix("MIG ")
                return name or f"{info.sliceCount}g.{round(info.memorySizeMB / 1024)}gb"
    with contextlib.suppress(pynvml.NVMLError):
        attributes = pynvml.nvmlDeviceGetAttributes(mig)
        return f"{attributes.gpuInstanceSliceCount}g.{round(attributes.memorySizeMB / 1024)}gb"
    log.warning("GPU instance %d: NVML names no profile; GPU_I_PROFILE=unknown", gi_id)
    return "unknown"


def _mig_enabled(handle: Any) -> bool:
    try:
        return pynvml.nvmlDeviceGetMigMode(handle)[0] == pynvml.NVML_DEVICE_MIG_ENABLE
    except pynvml.NVMLError:
        return False  # GeForce and pre-Ampere boards: NOT_SUPPORTED


def _instances(gpu: Gpu, base: list[tuple[str, str]], tail: list[tuple[str, str]]) -> list[MigInstance]:
    instances = []
    for index in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(gpu.handle)):
        try:
            mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, index)
        except pynvml.NVMLError:
            continue  # an empty slot
        gi_id = pynvml.nvmlDeviceGetGpuInstanceId(mig)
        profile = _profile_name(gpu.handle, mig, gi_id)
        labels = render_labels([*base, ("GPU_I_PROFILE", profile), ("GPU_I_ID", str(gi_id)), *tail])
        instances.append(MigInstance(mig, gi_id, profile, labels))
    return sorted(instances, key=lambda instance: instance.gi_id)


def discover(settings: LabelSettings, errors: ErrorCounts) -> list[GpuUnit]:
    """Every GPU (and MIG instance) of the node. NVML must be initialised."""
    units = []
    for gpu in nvml.list_gpus():
        base = [("gpu", str(gpu.index)), ("UUID", gpu.uuid), ("pci_bus_id", gpu.pci_bus_id),
                ("device", gpu.device), ("modelName", gpu.name)]
        tail = [(settings.host_label, settings.hostname)] if settings.host_label else []
        tail += _label_values(gpu.handle, settings, errors)
        mig = _mig_enabled(gpu.handle)
        unit = GpuUnit(gpu, GpuReader(gpu, errors, mig), render_labels([*base, *tail]))
        if mig:
            unit.instances = _instances(gpu, base, tail)
        units.append(unit)
    return units
