"""Node profiles: data files in simulator/profiles/*.json, checked and expanded to one dict per GPU.

A profile names its boards once (`boards`) and lists its GPUs (`gpus`: a board plus what differs per
GPU: UUID, PCI bus id, serial, minor number), or generates them (`generate`: count and stable
prefixes). `extends` starts from another profile; `gpu_overrides` changes single GPUs (MIG).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuguard.simulator.native import SimError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

STRING_KEYS = {"name", "uuid", "serial", "pci_bus_id", "vbios",
               # exports (issue 11): optional, "" means the board does not report it
               "board_part_number", "inforom_image"}
NUMBER_KEYS = {
    "pci_device_id", "pci_subsystem_id", "minor_number", "brand", "architecture", "cc_major", "cc_minor",
    "memory_total_mib", "memory_reserved_mib", "memory_is_hbm", "fan_count", "fan_min_percent",
    "fan_max_percent", "fan_curve_low_c", "fan_curve_high_c", "idle_w", "default_limit_w", "min_limit_w",
    "max_limit_w", "heat_capacity_j_per_k", "conductance_base_w_per_k", "conductance_fan_w_per_k",
    "threshold_shutdown", "threshold_slowdown", "threshold_gpu_max", "threshold_memory_max",
    "threshold_acoustic_min", "threshold_acoustic_curr", "threshold_acoustic_max", "clock_graphics_max",
    "clock_sm_max", "clock_mem_max", "clock_video_max", "clock_graphics_idle", "clock_mem_idle", "pcie_gen",
    "pcie_width", "gpm_supported", "mig_capable", "mig_enabled",
    # exports (issue 11): optional, 0 means the board does not report it
    "nvlink_count", "num_gpu_cores", "memory_bus_width", "threshold_gps_curr",
}
EXPORT_KEYS = {"board_part_number", "inforom_image", "nvlink_count", "num_gpu_cores",
               "memory_bus_width", "threshold_gps_curr"}
MIG_KEYS = {"profile", "profile_id", "slices", "gpu_instance_id", "compute_instance_id", "memory_mib", "uuid"}
REQUIRED_KEYS = ((STRING_KEYS - {"serial", "vbios"}) | (NUMBER_KEYS - {"mig_enabled"})) - EXPORT_KEYS
TOP_KEYS = {"description", "driver_version", "nvml_version", "cuda_driver_version", "ambient_c", "boards",
            "gpus", "generate", "extends", "gpu_overrides"}
MAX_GPUS = 64
MAX_MIG = 7
PCI_BUS_ID = re.compile(r"^[0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.0$")


@dataclass
class Profile:
    name: str
    description: str
    driver_version: str
    nvml_version: str
    cuda_driver_version: int
    ambient_c: float
    gpus: list[dict[str, Any]] = field(default_factory=list)


def profile_names() -> list[str]:
    return sorted(path.stem for path in PROFILE_DIR.glob("*.json"))


def _read(name: str) -> tuple[str, dict[str, Any]]:
    path = Path(name) if name.endswith(".json") else PROFILE_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(profile_names())
        raise SimError(f"unknown profile {name!r} (known: {known})")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SimError(f"malformed profile {path}: {error}") from None
    if not isinstance(data, dict):
        raise SimError(f"malformed profile {path}: not a JSON object")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise SimError(f"malformed profile {path}: unknown keys {sorted(unknown)}")
    return path.stem, data


def _merged(name: str, depth: int = 0) -> dict[str, Any]:
    if depth > 4:
        raise SimError(f"profile {name!r}: `extends` chain too deep")
    stem, data = _read(name)
    if "extends" in data:
        base = _merged(data["extends"], depth + 1)
        overrides = {k: v for k, v in data.items() if k != "extends"}
        if "generate" in overrides:
            base.pop("gpus", None)
        base.update(overrides)
        data = base
    data["name"] = stem if depth == 0 else data.get("name", stem)
    return data


def _expand(data: dict[str, Any]) -> list[dict[str, Any]]:
    boards = data.get("boards", {})
    if "generate" in data:
        spec = data["generate"]
        count = int(spec["count"])
        entries = [
            {
                "board": spec["board"],
                "uuid": f"{spec['uuid_prefix']}{index:012x}",
                "serial": f"{spec['serial_prefix']}{index:03d}",
                # 8 GPUs per PCIe segment, as a large chassis enumerates them.
                "pci_bus_id": f"{index // 8:08X}:{0x18 + (index % 8) * 0x10:02X}:00.0",
                "minor_number": index,
            }
            for index in range(count)
        ]
    else:
        entries = data.get("gpus", [])
    gpus = []
    for index, entry in enumerate(entries):
        board = boards.get(entry.get("board"))
        if board is None:
            raise SimError(f"profile {data['name']}: GPU {index} names unknown board {entry.get('board')!r}")
        gpu = {**board, **{k: v for k, v in entry.items() if k != "board"}}
        gpu.update(data.get("gpu_overrides", {}).get(str(index), {}))
        gpus.append(gpu)
    return gpus


def _check_gpu(profile: str, index: int, gpu: dict[str, Any]) -> None:
    where = f"profile {profile}: GPU {index}"
    unknown = set(gpu) - STRING_KEYS - NUMBER_KEYS - {"mig"}
    if unknown:
        raise SimError(f"{where}: unknown keys {sorted(unknown)}")
    missing = REQUIRED_KEYS - set(gpu)
    if missing:
        raise SimError(f"{where}: missing keys {sorted(missing)}")
    for key in STRING_KEYS & set(gpu):
        if not isinstance(gpu[key], str):
            raise SimError(f"{where}: {key} must be a string")
    for key in NUMBER_KEYS & set(gpu):
        if not isinstance(gpu[key], int | float) or isinstance(gpu[key], bool) or gpu[key] < 0:
            raise SimError(f"{where}: {key} must be a non-negative number")
    if not PCI_BUS_ID.match(gpu["pci_bus_id"]):
        raise SimError(f"{where}: pci_bus_id {gpu['pci_bus_id']!r} is not DDDDDDDD:BB:DD.0")
    if not gpu["uuid"].startswith("GPU-"):
        raise SimError(f"{where}: uuid must start with GPU-")
    if not gpu["min_limit_w"] <= gpu["default_limit_w"] <= gpu["max_limit_w"]:
        raise SimError(f"{where}: power limits must satisfy min <= default <= max")
    mig = gpu.get("mig", [])
    if not isinstance(mig, list) or len(mig) > MAX_MIG:
        raise SimError(f"{where}: mig must be a list of at most {MAX_MIG} instances")
    for instance in mig:
        if not isinstance(instance, dict) or set(instance) != MIG_KEYS:
            raise SimError(f"{where}: each MIG instance needs exactly {sorted(MIG_KEYS)}")


def load_profile(name: str) -> Profile:
    """The named profile (or a path to a .json file), checked; SimError with one line when it is not."""
    data = _merged(name)
    try:
        gpus = _expand(data)
        profile = Profile(
            name=data["name"],
            description=str(data.get("description", "")),
            driver_version=str(data["driver_version"]),
            nvml_version=str(data["nvml_version"]),
            cuda_driver_version=int(data["cuda_driver_version"]),
            ambient_c=float(data.get("ambient_c", 25.0)),
            gpus=gpus,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SimError(f"malformed profile {data.get('name', name)}: missing or bad {error}") from None
    if not 1 <= len(gpus) <= MAX_GPUS:
        raise SimError(f"profile {profile.name}: needs 1 to {MAX_GPUS} GPUs, has {len(gpus)}")
    for index, gpu in enumerate(gpus):
        _check_gpu(profile.name, index, gpu)
    return profile
