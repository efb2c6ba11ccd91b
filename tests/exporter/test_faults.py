"""Faults: a lost or hanging GPU does not stall the others; the exporter survives a driver reload."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from tests.exporter.conftest import require_simulator
from tests.support.procs import http_get

EXPORTER_SOURCES = Path(__file__).resolve().parents[2] / "exporter"
STAMP = "gpuguard_exporter_last_collect_timestamp_seconds"


def test_exporter_never_imports_the_simulator_nor_reads_its_state() -> None:
    files = sorted(EXPORTER_SOURCES.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert "simulator" not in name, f"{path}: imports {name}"
        assert "GPUGUARD_SIM" not in source, f"{path} reads the simulator's environment"
        assert "simulator" not in source.replace("simulated", ""), f"{path} mentions the simulator"


@pytest.fixture(autouse=True)
def _needs_simulator(request: pytest.FixtureRequest) -> None:
    if request.node.name != "test_exporter_never_imports_the_simulator_nor_reads_its_state":
        require_simulator()


def fresh(m, gpu: str, after: float) -> bool:
    stamp = m.value(STAMP, gpu=gpu)
    return stamp is not None and stamp > after


def test_lost_gpu_goes_absent_and_others_stay(sim_node, exporter) -> None:
    node = sim_node(profile="dgx-h100")
    with exporter(env=node.env) as exp:
        exp.wait(lambda m: m.gpus("DCGM_FI_DEV_GPU_TEMP") == {str(i) for i in range(8)})
        node.fault(5, lost=True)
        m = exp.wait(lambda m: m.value("gpuguard_gpu_up", gpu="5") == 0, what="GPU 5 down")
        assert m.value("gpuguard_gpu_down_reason", gpu="5", reason="lost") == 1
        assert m.gpus("DCGM_FI_DEV_GPU_TEMP") == {str(i) for i in range(8)} - {"5"}
        assert all(s.label["gpu"] != "5" for s in m.samples if s.name.startswith("DCGM_"))
        assert any(s.label["code"] == "GPU_IS_LOST" for s in m.named("gpuguard_exporter_nvml_errors_total"))
        now = time.time()
        exp.wait(lambda m: all(fresh(m, str(g), now) for g in range(8) if g != 5), what="others fresh")
        node.fault(5, lost=False)
        exp.wait(lambda m: m.value("gpuguard_gpu_up", gpu="5") == 1 and "5" in m.gpus("DCGM_FI_DEV_GPU_TEMP"),
                 what="GPU 5 back")


def test_hanging_gpu_does_not_stall_the_others(sim_node, exporter) -> None:
    node = sim_node(profile="dgx-h100")
    with exporter(env=node.env, interval_ms=200) as exp:
        exp.wait(lambda m: m.gpus("DCGM_FI_DEV_GPU_TEMP") == {str(i) for i in range(8)})
        node.fault(2, hang_ms=3_000)  # every call to GPU 2 takes 3 s
        m = exp.wait(lambda m: m.value("gpuguard_gpu_up", gpu="2") == 0, what="GPU 2 reported hanging")
        assert m.value("gpuguard_gpu_down_reason", gpu="2", reason="timeout") == 1
        assert "2" not in m.gpus("DCGM_FI_DEV_GPU_TEMP")
        # the other seven keep being collected, cycle after cycle, and scrapes answer at once
        for _ in range(3):
            now = time.time()
            m = exp.wait(lambda m, since=now: all(fresh(m, str(g), since) for g in range(8) if g != 2),
                         timeout=5, what="the other GPUs collected again")
            assert m.gpus("DCGM_FI_DEV_GPU_TEMP") == {str(i) for i in range(8)} - {"2"}
            status, _ = http_get(f"{exp.url}/metrics", timeout=1)
            assert status == 200
        node.fault(2, hang_ms=0)
        exp.wait(lambda m: m.value("gpuguard_gpu_up", gpu="2") == 1 and "2" in m.gpus("DCGM_FI_DEV_GPU_TEMP"),
                 timeout=30, what="GPU 2 back after the hang")


def test_driver_reload_reinitialises(sim_node, exporter) -> None:
    node = sim_node(profile="seed")
    with exporter(env=node.env, interval_ms=200) as exp:
        exp.wait(lambda m: m.gpus("DCGM_FI_DEV_GPU_TEMP") == {"0", "1"})
        node.driver_reload()
        m = exp.wait(lambda m: (m.value("gpuguard_exporter_nvml_reinits_total") or 0) >= 1, what="a re-init")
        now = time.time()
        m = exp.wait(lambda m: fresh(m, "0", now) and fresh(m, "1", now)
                     and m.gpus("DCGM_FI_DEV_GPU_TEMP") == {"0", "1"}, what="collection after the reload")
        assert {s.value for s in m.named("gpuguard_gpu_up")} == {1}
        # XID events are registered again on the new NVML session
        node.fault(1, xid=43)
        exp.wait(lambda m: m.value("DCGM_FI_DEV_XID_ERRORS", gpu="1") == 43, what="XID after the reload")
