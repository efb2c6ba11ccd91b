"""Done-means 1: unchanged pynvml under `gpuguard sim exec --profile seed` sees the seed node exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.simulator.pynvml_run import PRELUDE

GPUGUARD = [sys.executable, "-m", "gpuguard.cli"]

SEED_PROBE = """
pynvml.nvmlInit()
gpus = []
for i in range(pynvml.nvmlDeviceGetCount()):
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    T = pynvml
    gpus.append({
        "name": pynvml.nvmlDeviceGetName(h),
        "uuid": pynvml.nvmlDeviceGetUUID(h),
        "pci_bus_id": pynvml.nvmlDeviceGetPciInfo(h).busId,
        "minor": pynvml.nvmlDeviceGetMinorNumber(h),
        "index": pynvml.nvmlDeviceGetIndex(h),
        "memory_total_mib": pynvml.nvmlDeviceGetMemoryInfo(h).total // 2**20,
        "memory_v2_total_mib": pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2).total // 2**20,
        "power_limit_mw": pynvml.nvmlDeviceGetPowerManagementLimit(h),
        "default_limit_mw": pynvml.nvmlDeviceGetPowerManagementDefaultLimit(h),
        "enforced_limit_mw": pynvml.nvmlDeviceGetEnforcedPowerLimit(h),
        "fans": pynvml.nvmlDeviceGetNumFans(h),
        "fan_min_max": list(pynvml.nvmlDeviceGetMinMaxFanSpeed(h)),
        "shutdown": pynvml.nvmlDeviceGetTemperatureThreshold(h, T.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN),
        "slowdown": pynvml.nvmlDeviceGetTemperatureThreshold(h, T.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN),
        "gpu_max": pynvml.nvmlDeviceGetTemperatureThreshold(h, T.NVML_TEMPERATURE_THRESHOLD_GPU_MAX),
        "mem_max": err_name(pynvml.nvmlDeviceGetTemperatureThreshold, h,
                            T.NVML_TEMPERATURE_THRESHOLD_MEM_MAX),
        "by_uuid": pynvml.nvmlDeviceGetIndex(pynvml.nvmlDeviceGetHandleByUUID(pynvml.nvmlDeviceGetUUID(h))),
        "by_pci": pynvml.nvmlDeviceGetIndex(pynvml.nvmlDeviceGetHandleByPciBusId(
            pynvml.nvmlDeviceGetPciInfo(h).busId)),
        "temperature": pynvml.nvmlDeviceGetTemperature(h, T.NVML_TEMPERATURE_GPU),
        "processes": pynvml.nvmlDeviceGetComputeRunningProcesses(h),
        "mig": err_name(pynvml.nvmlDeviceGetMigMode, h),
    })
out({"driver": pynvml.nvmlSystemGetDriverVersion(), "cuda": pynvml.nvmlSystemGetCudaDriverVersion(),
     "gpus": gpus})
"""


def test_pynvml_sees_the_seed_node_exactly() -> None:
    script = PRELUDE + textwrap.dedent(SEED_PROBE)
    command = [*GPUGUARD, "sim", "exec", "--profile", "seed", "--", sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["driver"] == "575.64.03"
    assert seen["cuda"] == 12090  # CUDA 12.9
    rtx5090, pro6000 = seen["gpus"]
    assert rtx5090["name"] == "NVIDIA GeForce RTX 5090"
    assert pro6000["name"] == "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"
    # Memory totals as the real boards report them (nvidia-smi: 32607 MiB and 97887 MiB).
    assert (rtx5090["memory_total_mib"], pro6000["memory_total_mib"]) == (32607, 97887)
    assert (rtx5090["memory_v2_total_mib"], pro6000["memory_v2_total_mib"]) == (32607, 97887)
    for gpu, watts in ((rtx5090, 575), (pro6000, 600)):
        assert gpu["power_limit_mw"] == gpu["default_limit_mw"] == gpu["enforced_limit_mw"] == watts * 1000
        assert gpu["fans"] == 2
        assert gpu["fan_min_max"] == [30, 100]
        assert gpu["mem_max"] == "NVMLError_NotSupported"  # GDDR boards: no memory temperature
        assert gpu["mig"] == "NVMLError_NotSupported"
        assert 20 <= gpu["temperature"] <= 40  # idle at 25 °C ambient
        assert gpu["processes"] == []
    # Thresholds documented in simulator/README.md.
    assert (rtx5090["shutdown"], rtx5090["slowdown"], rtx5090["gpu_max"]) == (95, 90, 88)
    assert (pro6000["shutdown"], pro6000["slowdown"], pro6000["gpu_max"]) == (95, 92, 90)
    # Stable identities of the seed profile.
    assert rtx5090["uuid"] == "GPU-5a287ce5-4966-8c3b-9d21-5090a0000001"
    assert pro6000["uuid"] == "GPU-5a287ce5-4966-8c3b-9d21-6000b0000002"
    assert (rtx5090["pci_bus_id"], pro6000["pci_bus_id"]) == ("00000000:01:00.0", "00000000:41:00.0")
    assert [g["minor"] for g in seen["gpus"]] == [0, 1]
    assert [g["by_uuid"] for g in seen["gpus"]] == [0, 1]
    assert [g["by_pci"] for g in seen["gpus"]] == [0, 1]


def test_exec_passes_the_exit_status_back() -> None:
    result = subprocess.run([*GPUGUARD, "sim", "exec", "--", sys.executable, "-c", "raise SystemExit(7)"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 7


def test_without_a_node_nvml_init_fails_like_a_missing_driver(sim_node) -> None:
    env = dict(sim_node().env)
    env.pop("GPUGUARD_SIM_STATE")
    script = PRELUDE + "out(err_name(pynvml.nvmlInit))"
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=60)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == "NVMLError_DriverNotLoaded"
