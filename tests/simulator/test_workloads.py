"""Done-means 3 and 5: two processes share one node; workloads come and go with their processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.simulator.pynvml_run import run_pynvml, run_pynvml_with_action
from tests.support.procs import wait_for

PROCESSES = """
def processes(i):
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    return [[p.pid, p.usedGpuMemory] for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)]
"""
POWER_AND_PROCESSES = """
pynvml.nvmlInit()
out([processes(0), pynvml.nvmlDeviceGetPowerUsage(pynvml.nvmlDeviceGetHandleByIndex(0))])
"""


def test_a_fan_set_in_one_process_is_read_by_another(sim_node) -> None:
    node = sim_node()
    run_pynvml(node.env, """
        pynvml.nvmlInit()
        pynvml.nvmlDeviceSetFanSpeed_v2(pynvml.nvmlDeviceGetHandleByIndex(1), 1, 85)
        out(True)
    """)
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(1)
        out([pynvml.nvmlDeviceGetTargetFanSpeed(h, 1), pynvml.nvmlDeviceGetFanControlPolicy_v2(h, 1),
             pynvml.nvmlDeviceGetTargetFanSpeed(h, 0) < 85])
    """)
    assert seen == [85, 1, True]  # NVML_FAN_POLICY_MANUAL
    setters = node.setters()
    assert [(s["call"], s["gpu"], s["args"], s["result"]) for s in setters] == [
        ("nvmlDeviceSetFanSpeed_v2", 1, {"fan": 1, "speed": 85}, "SUCCESS")
    ]
    assert setters[0]["pid"] != os.getpid()


def test_a_workload_started_in_one_process_is_listed_in_another(sim_node) -> None:
    node = sim_node()
    holder: dict[str, int] = {}

    def start() -> None:
        holder["pid"] = node.start_workload(0, watts=300.0, memory_mib=2048).pid

    seen = run_pynvml_with_action(node.env, PROCESSES + "pynvml.nvmlInit()\nbefore = processes(0)\n", start,
                                  "out([before, processes(0), processes(1)])")
    assert seen == [[], [[holder["pid"], 2048 * 2**20]], []]


def test_sigkill_removes_the_workload_and_its_power(sim_node) -> None:
    node = sim_node()
    workload = node.start_workload(0, memory_mib=4096)  # default watts: the power limit, 575 W
    loaded = run_pynvml(node.env, PROCESSES + POWER_AND_PROCESSES)
    assert loaded == [[[workload.pid, 4096 * 2**20]], 575000]
    os.kill(workload.pid, signal.SIGKILL)
    assert workload.process.wait(timeout=10) == 128 + signal.SIGKILL
    idle = run_pynvml(node.env, PROCESSES + POWER_AND_PROCESSES)
    assert idle == [[], 30000]  # the RTX 5090's idle draw
    exits = [e for e in node.events() if e["event"] == "workload_exit"]
    assert [(e["gpu"], e["pid"], e["returncode"]) for e in exits] == [(0, workload.pid, -signal.SIGKILL)]


def test_a_workload_whose_supervisor_is_killed_too_disappears(sim_node) -> None:
    node = sim_node()
    workload = node.start_workload(1, watts=200.0)
    workload.process.kill()  # the supervisor: its child dies with it (PR_SET_PDEATHSIG)
    workload.process.wait(timeout=10)
    wait_for(lambda: node.status()["gpus"][1]["processes"] == [], timeout=10, what="the orphan's load to go")
    assert node.status()["gpus"][1]["power_w"] == 35.0


def test_workload_cli_prints_the_pid_first_and_runs_the_command(sim_node) -> None:
    node = sim_node()
    result = subprocess.run(
        [sys.executable, "-m", "gpuguard.cli", "sim", "workload", "--gpu", "1", "--watts", "100", "--",
         sys.executable, "-c", "import os; print('child', os.getpid()); raise SystemExit(3)"],
        env=node.env, capture_output=True, text=True, timeout=30,
    )
    first, second = result.stdout.splitlines()
    assert second == f"child {first}"
    assert result.returncode == 3
    events = [e for e in node.events() if e["event"].startswith("workload")]
    pid = int(first)
    assert [(e["event"], e["pid"]) for e in events] == [("workload_start", pid), ("workload_exit", pid)]
    assert events[0]["watts"] == 100.0
    assert events[1]["returncode"] == 3
