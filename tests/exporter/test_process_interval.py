"""`--process-interval`: NVML's process lists are read on their own, slower cadence; the process
series stay present between reads and still go away once the process has exited."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.exporter.conftest import require_simulator
from tests.support.procs import wait_for

COMPUTE_LIST = "nvmlDeviceGetComputeRunningProcesses_v3"
GRAPHICS_LIST = "nvmlDeviceGetGraphicsRunningProcesses_v3"
TEMPERATURE = "nvmlDeviceGetTemperature"  # read once per GPU per collection cycle
SEED_GPUS = 2
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _needs_simulator() -> None:
    require_simulator()


def calls_over_cycles(node, exp, cycles: int, check) -> tuple[float, float]:
    """(process-list reads, collection cycles) per GPU while the exporter runs `cycles` cycles;
    `check(exposition)` runs on every scrape in between."""
    before = node.calls()

    def enough() -> bool:
        check(exp.metrics())
        return (node.calls().get(TEMPERATURE, 0) - before.get(TEMPERATURE, 0)) >= cycles * SEED_GPUS

    wait_for(enough, timeout=60, interval=0.1, what=f"{cycles} collection cycles")
    after = node.calls()
    delta = {name: after.get(name, 0) - before.get(name, 0)
             for name in (COMPUTE_LIST, GRAPHICS_LIST, TEMPERATURE)}
    # Both lists are read together, one call each, even while a process runs (no count-first call);
    # a window may cut between the two calls of one read, hence one per GPU of slack.
    assert delta[COMPUTE_LIST] == pytest.approx(delta[GRAPHICS_LIST], abs=SEED_GPUS), delta
    return delta[COMPUTE_LIST] / SEED_GPUS, delta[TEMPERATURE] / SEED_GPUS


def test_lists_read_at_the_process_interval_and_series_follow_processes(sim_node, exporter) -> None:
    node = sim_node(profile="seed")
    with exporter(env=node.env, interval_ms=100, args=["--process-interval", "1000"]) as exp:
        workload = node.start_workload(1, memory_mib=1024)
        pid = str(workload.pid)
        exp.wait(lambda m: m.named("gpuguard_process_gpu_memory_bytes", pid=pid), what="process series")

        def still_there(m) -> None:  # re-rendered in the cycles between reads, never dropped
            (sample,) = m.named("gpuguard_process_gpu_memory_bytes", pid=pid)
            assert sample.label["gpu"] == "1" and sample.value == 1024 * MIB

        reads, cycles = calls_over_cycles(node, exp, 40, still_there)
        # 40 cycles of 100 ms hold about 4 reads at 1000 ms; every cycle would be 40.
        assert 2 <= reads <= cycles / 4 + 1, (reads, cycles)

        workload.process.send_signal(signal.SIGKILL)
        workload.process.wait(timeout=10)
        exp.wait(lambda m: not m.named("gpuguard_process_gpu_memory_bytes", pid=pid), timeout=15,
                 what="series of the exited process to go")


def test_at_or_below_the_collect_interval_lists_are_read_every_cycle(sim_node, exporter) -> None:
    node = sim_node(profile="seed")
    with exporter(env=node.env, interval_ms=100, args=["--process-interval", "100"]) as exp:
        exp.wait(lambda m: m.named("gpuguard_gpu_up"), what="first collection")
        reads, cycles = calls_over_cycles(node, exp, 20, lambda m: None)
        assert reads >= cycles - 1, (reads, cycles)


# Run under the simulated driver (LD_LIBRARY_PATH is read when the process starts, so in a child):
# a buffer too small for the list grows and the call is repeated; the grown buffer is kept.
GROWTH_CHECK = """
import json, sys, pynvml
from gpuguard.exporter.collectors.processes import LISTERS
pynvml.nvmlInit()
handle = pynvml.nvmlDeviceGetHandleByIndex(1)
buffers = {"nvmlDeviceGetComputeRunningProcesses_v3": (pynvml.c_nvmlProcessInfo_v3_t * 1)()}
first = LISTERS[0](handle, buffers)
second = LISTERS[0](handle, buffers)
print(json.dumps({"first": first, "second": second,
                  "capacity": len(buffers["nvmlDeviceGetComputeRunningProcesses_v3"])}))
"""


def test_a_list_longer_than_the_buffer_grows_it(sim_node) -> None:
    node = sim_node(profile="seed")
    expected = {(node.start_workload(1, memory_mib=mib).pid, mib * MIB) for mib in (512, 768)}
    before = node.calls().get(COMPUTE_LIST, 0)
    result = subprocess.run([sys.executable, "-c", GROWTH_CHECK], env=node.env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {tuple(row) for row in answer["first"]} == expected
    assert {tuple(row) for row in answer["second"]} == expected
    assert answer["capacity"] >= 2
    # too small, then grown (2 calls); then the kept buffer: one call
    assert node.calls().get(COMPUTE_LIST, 0) - before == 3
