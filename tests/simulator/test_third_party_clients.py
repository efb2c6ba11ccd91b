"""Issue 11: widely used third-party NVML clients from PyPI (gpustat, nvitop's CLI, py3nvml's py3smi) run
unchanged under `gpuguard sim exec` on each profile: exit 0, no traceback or NVML error, and what they
print matches the profile (GPU count, names, memory, bus ids, power limits, a running workload)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpuguard.simulator.profiles import load_profile

BIN = Path(sys.executable).parent
PROFILES = ["seed", "dgx-h100", "dgx-h100-mig"]
WORKLOAD_MIB = 2048


def sim_exec(profile: str, argv: list[str], tmp_path: Path) -> str:
    """Run a client on a fresh node of `profile` with one workload on the last GPU."""
    gpu = len(load_profile(profile).gpus) - 1
    inner = (f"{sys.executable} -m gpuguard.cli sim workload --gpu {gpu} --memory-mib {WORKLOAD_MIB} "
             f"--watts 200 > {tmp_path}/workload.pid & "
             f"until [ -s {tmp_path}/workload.pid ]; do sleep 0.05; done; exec \"$@\"")
    command = [sys.executable, "-m", "gpuguard.cli", "sim", "exec", "--profile", profile, "--",
               "sh", "-c", inner, "client", *argv]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "dumb",
                                 "COLUMNS": "160"})
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    for bad in ("Traceback", "NVMLError", "FunctionNotFound", "Segmentation"):
        assert bad not in text, text[-3000:]
    return result.stdout


def need(tool: str) -> Path:
    path = BIN / tool
    if not path.exists():
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return path


@pytest.mark.parametrize("profile", PROFILES)
def test_gpustat_json(profile: str, tmp_path: Path) -> None:
    need("gpustat")
    gpus = load_profile(profile).gpus
    report = json.loads(sim_exec(profile, ["gpustat", "--json"], tmp_path))
    assert [g["name"] for g in report["gpus"]] == [g["name"] for g in gpus]
    assert [g["uuid"] for g in report["gpus"]] == [g["uuid"] for g in gpus]
    for shown, gpu in zip(report["gpus"], gpus, strict=True):
        assert shown["memory.total"] == gpu["memory_total_mib"]
        assert shown["enforced.power.limit"] == gpu["default_limit_w"]
        assert (shown["fan.speed"] is None) == (gpu["fan_count"] == 0)
        # utilization is NOT_SUPPORTED on a MIG-enabled GPU, as on a real one
        assert (shown["utilization.gpu"] is None) == bool(gpu.get("mig_enabled"))
    assert [p["gpu_memory_usage"] for p in report["gpus"][-1]["processes"]] == [WORKLOAD_MIB]


@pytest.mark.parametrize("profile", PROFILES)
def test_nvitop_once(profile: str, tmp_path: Path) -> None:
    need("nvitop")
    gpus = load_profile(profile).gpus
    text = sim_exec(profile, ["nvitop", "-1"], tmp_path)
    for gpu in gpus:
        assert gpu["pci_bus_id"] in text
    assert f"{WORKLOAD_MIB}MiB" in text.replace(" ", "") or "2.00GiB" in text.replace(" ", "")


@pytest.mark.parametrize("profile", PROFILES)
def test_py3smi(profile: str, tmp_path: Path) -> None:
    need("py3smi")
    gpus = load_profile(profile).gpus
    text = sim_exec(profile, ["py3smi", "-f", "-w", "160"], tmp_path)
    for gpu in gpus:
        # py3smi reads the legacy 16-byte busId of the 52-byte struct: right only if _v2 writes that layout
        assert gpu["pci_bus_id"][4:].lower() in text.lower()
        assert f"{gpu['memory_total_mib']}MiB" in text.replace(" ", "")
