"""Workloads on MIG instances (`sim workload --gpu-instance GI`) as real NVML reports them: the GPU's
own handle lists every process with its gpuInstanceId/computeInstanceId, a MIG device handle lists
only its instance's processes; a process off MIG reports 0xFFFFFFFF (nvml.h)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.simulator.pynvml_run import run_pynvml

NO_INSTANCE = 0xFFFFFFFF
MIB = 2**20

# Every process-list variant pynvml wraps that carries instance ids, from the GPU handle and from each
# MIG device handle (dgx-h100-mig: GPU 0 = GI 1, 2; GPU 1 = GI 1, 5, 13; CI 0 each).
LISTS = """
def ids(call, handle):
    return sorted([p.pid, p.gpuInstanceId, p.computeInstanceId, p.usedGpuMemory // 2**20]
                  for p in call(handle))

def detail(handle):
    procs = pynvml.nvmlDeviceGetRunningProcessDetailList(handle, pynvml.nvmlProcessDetailList_v1,
                                                         pynvml.NVML_PROCESS_MODE_COMPUTE)
    return sorted([p.pid, p.gpuInstanceId, p.computeInstanceId, p.usedGpuMemory // 2**20] for p in procs)

def views(index):
    h = pynvml.nvmlDeviceGetHandleByIndex(index)
    view = {"v3": ids(pynvml.nvmlDeviceGetComputeRunningProcesses_v3, h),
            "v2": ids(pynvml.nvmlDeviceGetComputeRunningProcesses_v2, h),
            "detail": detail(h), "mig": {}}
    if pynvml.nvmlDeviceGetMigMode(h)[0]:
        for m in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(h)):
            try:
                mh = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, m)
            except pynvml.NVMLError_NotFound:
                break
            view["mig"][pynvml.nvmlDeviceGetGpuInstanceId(mh)] = {
                "v3": ids(pynvml.nvmlDeviceGetComputeRunningProcesses_v3, mh),
                "v2": ids(pynvml.nvmlDeviceGetComputeRunningProcesses_v2, mh),
                "detail": detail(mh),
                "used_mib": pynvml.nvmlDeviceGetMemoryInfo(mh).used // 2**20}
    return view
"""


def sim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpuguard.cli", "sim", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_instance_ids_from_the_gpu_handle_and_from_the_mig_handles(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    a = node.start_workload(0, watts=100.0, memory_mib=1000, gpu_instance=1).pid
    b = node.start_workload(0, watts=100.0, memory_mib=2000, gpu_instance=2).pid
    c = node.start_workload(1, watts=100.0, memory_mib=3000, gpu_instance=13).pid
    d = node.start_workload(2, watts=100.0, memory_mib=4000).pid  # GPU 2 is not in MIG mode
    seen = run_pynvml(node.env, LISTS + "pynvml.nvmlInit()\nout([views(0), views(1), views(2)])\n")
    gpu0, gpu1, gpu2 = seen

    every = sorted([[a, 1, 0, 1000], [b, 2, 0, 2000]])
    assert gpu0["v3"] == gpu0["v2"] == gpu0["detail"] == every
    gi1, gi2 = [[a, 1, 0, 1000]], [[b, 2, 0, 2000]]
    assert gpu0["mig"] == {"1": {"v3": gi1, "v2": gi1, "detail": gi1, "used_mib": 1000},
                           "2": {"v3": gi2, "v2": gi2, "detail": gi2, "used_mib": 2000}}
    assert gpu1["v3"] == gpu1["v2"] == gpu1["detail"] == [[c, 13, 0, 3000]]
    assert {gi: view["v3"] for gi, view in gpu1["mig"].items()} == {"1": [], "5": [],
                                                                    "13": [[c, 13, 0, 3000]]}
    assert [gpu1["mig"][gi]["used_mib"] for gi in ("1", "5", "13")] == [0, 0, 3000]
    # Off MIG nothing changes: no instance, as before.
    assert gpu2 == {"v3": [[d, NO_INSTANCE, NO_INSTANCE, 4000]], "v2": [[d, NO_INSTANCE, NO_INSTANCE, 4000]],
                    "detail": [[d, NO_INSTANCE, NO_INSTANCE, 4000]], "mig": {}}


def test_a_workload_without_an_instance_on_a_mig_gpu_is_on_no_mig_handle(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    pid = node.start_workload(0, memory_mib=1000).pid
    gpu0 = run_pynvml(node.env, LISTS + "pynvml.nvmlInit()\nout(views(0))\n")
    assert gpu0["v3"] == [[pid, NO_INSTANCE, NO_INSTANCE, 1000]]
    assert {gi: view["v3"] for gi, view in gpu0["mig"].items()} == {"1": [], "2": []}


def test_status_and_events_name_the_instance(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    placed = node.start_workload(1, watts=50.0, memory_mib=512, gpu_instance=5).pid
    unplaced = node.start_workload(2, watts=50.0, memory_mib=512).pid
    gpus = node.status()["gpus"]
    assert gpus[1]["processes"] == [{"pid": placed, "watts": 50.0, "memory_mib": 512,
                                     "gpu_instance_id": 5, "compute_instance_id": 0}]
    assert gpus[2]["processes"] == [{"pid": unplaced, "watts": 50.0, "memory_mib": 512,
                                     "gpu_instance_id": None, "compute_instance_id": None}]
    starts = {e["pid"]: e for e in node.events() if e["event"] == "workload_start"}
    assert (starts[placed]["gpu_instance_id"], starts[placed]["compute_instance_id"]) == (5, 0)
    assert "gpu_instance_id" not in starts[unplaced]
    text = sim("status", env=node.env)
    assert f"{placed} (50 W, 512 MiB, GI 5)" in text.stdout


@pytest.mark.parametrize(("profile", "gpu", "instance", "message"), [
    ("dgx-h100-mig", "0", "5", "gpuguard sim workload: --gpu-instance 5: GPU 0 has no such MIG GPU instance "
                               "(it has 1, 2)"),
    ("dgx-h100-mig", "1", "2", "gpuguard sim workload: --gpu-instance 2: GPU 1 has no such MIG GPU instance "
                               "(it has 1, 5, 13)"),
    ("dgx-h100-mig", "2", "1", "gpuguard sim workload: --gpu-instance 1: GPU 2 is not in MIG mode "
                               "(it has no GPU instances)"),
    ("seed", "0", "1", "gpuguard sim workload: --gpu-instance 1: GPU 0 is not in MIG mode "
                       "(it has no GPU instances)"),
])
def test_an_instance_the_gpu_does_not_have_is_refused(sim_node, profile: str, gpu: str, instance: str,
                                                      message: str) -> None:
    node = sim_node(profile)
    result = sim("workload", "--gpu", gpu, "--gpu-instance", instance, env=node.env)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")
    assert all(not g["processes"] for g in node.status()["gpus"])


def test_a_non_numeric_instance_is_one_line(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    result = sim("workload", "--gpu", "0", "--gpu-instance", "one", env=node.env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--gpu-instance" in result.stderr and "Traceback" not in result.stderr
