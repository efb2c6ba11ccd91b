"""The export table (issue 11): for every symbol in both real drivers' lists
(../shared/compat/nvml/), what the simulated driver does on each profile, or why it is not exported.

Behaviour comes from running the guard-byte harness (src/guard_harness.c) on a fresh node of each
profile, so the table is what the code does, not what someone wrote down. Regenerate after changing
an entry point: `python -m gpuguard.simulator.exports` (tests/simulator/test_exports.py fails when the
committed simulator/exports.csv is stale).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

from gpuguard.simulator.native import driver_dir
from gpuguard.simulator.node import SimNode
from gpuguard.simulator.profiles import load_profile, profile_names

HERE = Path(__file__).resolve().parent
TABLE = HERE / "exports.csv"
SYMBOL_LISTS = [HERE.parent.parent / "shared" / "compat" / "nvml" / name
                for name in ("h100_590_symbols.txt", "rtx2080_610_symbols.txt")]

# Why a symbol both real drivers export is not exported here: first matching prefix or substring wins.
REASONS: list[tuple[str, str]] = [
    ("nvmlInternalGetExportTable", "private CUDA-runtime interface, not a documented NVML call"),
    ("Vgpu", "vGPU manager API: simulated nodes are bare metal (nvmlDeviceGetVirtualizationMode says NONE)"),
    ("GridLicensable", "vGPU licensing: bare metal (virtualization mode NONE)"),
    ("Pgpu", "vGPU manager API: bare metal"),
    ("nvmlUnit", "S-class unit API: nvmlUnitGetCount reports 0 units, so no client reaches these"),
    ("ConfCompute", "confidential computing is off on every simulated board"
                    " (nvmlDeviceGetConfComputeMemSizeInfo says NOT_SUPPORTED)"),
    ("GpuInstance", "MIG instance management: the profile's fixed layout is exposed through MIG device"
                    " handles (nvmlDeviceGetMigDeviceHandleByIndex); creating/listing instances is not"
                    " simulated"),
    ("ComputeInstance", "MIG instance management: see GpuInstance"),
    ("nvmlSystemEventSet", "system-level GPU add/remove events: not simulated"),
    ("nvmlSystemRegisterEvents", "system-level GPU add/remove events: not simulated"),
    ("Nvlink", "NVLink bandwidth modes: not simulated (links always run at full bandwidth)"),
    ("NvLinkUtilization", "NVLink utilization counters (deprecated, Pascal-era): not simulated"),
    ("nvmlDeviceSet", "control call, not a monitoring read (the receiver's fan and power-limit setters are"
                      " implemented)"),
    ("nvmlSystemSet", "control call, not a monitoring read"),
    ("nvmlGpmSet", "control call, not a monitoring read"),
    ("nvmlDeviceClear", "control call, not a monitoring read"),
    ("nvmlDeviceReset", "control call, not a monitoring read"),
    ("nvmlDeviceModify", "administrative call (drain state), not a monitoring read"),
    ("nvmlDeviceRemove", "administrative call (hot removal), not a monitoring read"),
    ("nvmlDeviceDiscover", "administrative call (hot plug), not a monitoring read"),
    ("nvmlDeviceCreate", "control call, not a monitoring read"),
    ("Destroy", "control call, not a monitoring read"),
    ("nvmlDeviceFreeze", "control call, not a monitoring read"),
    ("nvmlDeviceValidateInforom", "administrative call, not a monitoring read"),
    ("PowerSmoothing", "control call, not a monitoring read"),
    ("WorkloadPowerProfile", "power-profile control (Blackwell data centre), not simulated"),
    ("PRM", "raw register access, not a monitoring read"),
    ("nvmlDeviceSetRusd", "control call, not a monitoring read"),
]
NOT_YET = "monitoring getter not yet simulated: a client gets FunctionNotFound (follow-up to issue 11)"


def both_lists() -> list[str]:
    sets = [set(path.read_text().split()) for path in SYMBOL_LISTS]
    return sorted(sets[0] & sets[1])


def exported(library: Path | None = None) -> set[str]:
    library = library or driver_dir() / "libnvidia-ml.so.1"
    out = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()[-1].startswith("nvml")}


def reason(symbol: str) -> str:
    return next((why for key, why in REASONS if key in symbol), NOT_YET)


def run_harness(profile: str, harness: Path | None = None, env_extra: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The guard-byte harness on a fresh node of `profile`, with a workload on the last GPU and, where
    a GPU is in MIG mode, one on its first instance (so process lists have rows to write)."""
    harness = harness or driver_dir() / "guard_harness"
    gpus = load_profile(profile).gpus
    with tempfile.TemporaryDirectory(prefix="gpuguard-exports-") as tmp:
        node = SimNode.create(profile=profile, state_dir=Path(tmp) / "node")
        try:
            node.start_workload(gpu=len(gpus) - 1, memory_mib=512)
            mig = next((i for i, gpu in enumerate(gpus) if gpu.get("mig_enabled")), None)
            if mig is not None:
                instance = gpus[mig]["mig"][0]["gpu_instance_id"]
                node.start_workload(gpu=mig, memory_mib=256, gpu_instance=instance)
            env = {**node.env, **(env_extra or {})}
            return subprocess.run([str(harness)], env=env, capture_output=True, text=True, timeout=timeout)
        finally:
            node.close()


def behaviours(stdout: str) -> dict[str, str]:
    """function -> the distinct answers of every call, on GPU handles then MIG handles."""
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"gpu": [], "mig": []})
    for line in stdout.splitlines():
        if not line.startswith("CALL "):
            continue
        _, function, handle, _code, text = line.split(" ", 4)
        kind = "mig" if "/mig" in handle else "gpu"
        if text not in seen[function][kind]:
            seen[function][kind].append(text)
    return {f: " | ".join(v["gpu"]) + (f" (MIG: {' | '.join(v['mig'])})" if v["mig"] else "")
            for f, v in seen.items()}


def build_table(profiles: list[str] | None = None) -> str:
    profiles = profiles or [p for p in profile_names() if p != "scale-64"]
    per_profile = {}
    for profile in profiles:
        result = run_harness(profile)
        if result.returncode != 0:
            tail = result.stdout[-2000:] + result.stderr[-2000:]
            raise RuntimeError(f"guard harness failed on {profile}:\n{tail}")
        per_profile[profile] = behaviours(result.stdout)
    ours = exported()
    symbols = sorted(set(both_lists()) | ours)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["function", "status", *profiles, "reason"])
    for symbol in symbols:
        if symbol in ours:
            writer.writerow([symbol, "implemented", *(per_profile[p].get(symbol, "") for p in profiles), ""])
        else:
            writer.writerow([symbol, "not exported", *("" for _ in profiles), reason(symbol)])
    return buffer.getvalue()


def main() -> None:
    TABLE.write_text(build_table())
    print(f"wrote {os.path.relpath(TABLE)}")


if __name__ == "__main__":
    main()
