"""Done-means 4: the seed profile's calibration, through pynvml under `gpuguard sim exec`, in simulated time.

One full workload on GPU 0 (the RTX 5090): at 25 °C ambient on automatic fans it settles below 75 °C;
at 35 °C ambient, or with a fan failure, it crosses 75 °C within two simulated minutes; with the fans
forced to 100 % it settles at least 5 °C cooler than on automatic fans.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SPEED = 100.0
SETTLE_SIM_S = 300.0  # ten thermal time constants

SCENARIO = """
import json, subprocess, sys, time
import pynvml
speed, settle, ambient, fan_failure, fans_full = json.loads(sys.argv[1])
def sim(*args):
    subprocess.run(["gpuguard", "sim", *args], check=True)
if ambient is not None:
    sim("set", "--gpu", "0", "--ambient", str(ambient))
if fan_failure:
    sim("set", "--gpu", "0", "--fan-failure", "on")
pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
if fans_full:
    for fan in range(pynvml.nvmlDeviceGetNumFans(h)):
        pynvml.nvmlDeviceSetFanSpeed_v2(h, fan, 100)
workload = subprocess.Popen(["gpuguard", "sim", "workload", "--gpu", "0"], stdout=subprocess.PIPE, text=True)
pid = int(workload.stdout.readline())
start = time.monotonic()
trace = []
while (elapsed := (time.monotonic() - start) * speed) < settle:
    trace.append([elapsed, pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)])
    time.sleep(0.02)
listed = [p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)]
workload.terminate()
workload.wait()
print(json.dumps({"trace": trace, "listed": listed == [pid]}))
"""


def run_scenario(ambient: float | None = None, fan_failure: bool = False, fans_full: bool = False) -> list:
    args = json.dumps([SPEED, SETTLE_SIM_S, ambient, fan_failure, fans_full])
    result = subprocess.run(
        [sys.executable, "-m", "gpuguard.cli", "sim", "exec", "--profile", "seed", "--speed", str(SPEED),
         "--", sys.executable, "-c", SCENARIO, args],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["listed"], "the workload was not listed as a compute process"
    return seen["trace"]


def settled(trace: list) -> float:
    """Mean temperature over the last simulated minute."""
    tail = [t for elapsed, t in trace if elapsed >= SETTLE_SIM_S - 60]
    return sum(tail) / len(tail)


def first_crossing(trace: list, celsius: int = 75) -> float | None:
    return next((elapsed for elapsed, t in trace if t >= celsius), None)


@pytest.fixture(scope="module")
def automatic() -> list:
    return run_scenario()


def test_25c_ambient_automatic_fans_settles_below_75(automatic: list) -> None:
    assert settled(automatic) < 75
    assert max(t for _, t in automatic) < 75
    assert settled(automatic) > 50  # it does heat up: a full 575 W load


@pytest.mark.parametrize("scenario", [{"ambient": 35.0}, {"fan_failure": True}],
                         ids=["35C-ambient", "fan-failure"])
def test_crosses_75_within_two_simulated_minutes(scenario: dict) -> None:
    crossing = first_crossing(run_scenario(**scenario))
    assert crossing is not None and crossing <= 120


def test_fans_forced_to_100_settle_at_least_5c_cooler(automatic: list) -> None:
    assert settled(run_scenario(fans_full=True)) <= settled(automatic) - 5
