"""DCGM_FI_DEV_GPU_TEMP_LIMIT (DCGM field 153): the thermal margin to the nearest slowdown threshold,
on every board that reports it, absent (never 0) where the board answers NOT_SUPPORTED."""

from __future__ import annotations

import pytest

from tests.exporter.conftest import require_simulator

MARGIN = "DCGM_FI_DEV_GPU_TEMP_LIMIT"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
STAMP = "gpuguard_exporter_last_collect_timestamp_seconds"


@pytest.fixture(autouse=True)
def _needs_simulator() -> None:
    require_simulator()


def node_env(node) -> dict[str, str]:
    return {**node.env, "NODE_NAME": "gpu-node-1"}


@pytest.mark.parametrize(("profile", "gpus"), [("seed", 2), ("dgx-h100", 8)])
def test_margin_on_every_board_with_type_and_help(sim_node, exporter, profile: str, gpus: int) -> None:
    node = sim_node(profile=profile)
    every = {str(i) for i in range(gpus)}
    with exporter(env=node_env(node)) as exp:
        m = exp.wait(lambda m: m.gpus(MARGIN) == every, what=f"{MARGIN} on every GPU")
        assert m.type[MARGIN] == "gauge"
        assert m.help[MARGIN] == "Thermal margin to the nearest slowdown threshold (in C)."
        for sample in m.named(MARGIN):
            # whole degrees, and an idle board sits well inside its limits
            assert sample.value == int(sample.value) and 0 < sample.value < 100, sample
            assert "GPU_I_ID" not in sample.label


def test_margin_shrinks_as_the_gpu_heats(sim_node, exporter) -> None:
    """The margin is read every cycle, not once: it falls degree for degree as the die warms, so
    temperature + margin (the threshold it is measured against) stays put."""
    node = sim_node(profile="seed", speed=20.0)
    with exporter(env=node_env(node), interval_ms=200) as exp:
        first = exp.wait(lambda m: m.value(MARGIN, gpu="0") is not None)
        t0, margin0 = first.value(TEMP, gpu="0"), first.value(MARGIN, gpu="0")
        node.start_workload(0)
        node.set(0, ambient=40.0)

        def warmer(m):
            # the same collection for both values: compare within one snapshot
            temp, margin = m.value(TEMP, gpu="0"), m.value(MARGIN, gpu="0")
            return temp is not None and margin is not None and temp >= t0 + 5

        later = exp.wait(warmer, timeout=60, what="GPU 0 five degrees warmer")
        t1, margin1 = later.value(TEMP, gpu="0"), later.value(MARGIN, gpu="0")
        assert margin1 < margin0
        assert t1 + margin1 == t0 + margin0


def unsupported_count(m) -> float | None:
    return m.value("gpuguard_exporter_nvml_errors_total", call="nvmlDeviceGetMarginTemperature",
                   code="NOT_SUPPORTED")


def test_margin_absent_where_not_supported(sim_node, exporter) -> None:
    node = sim_node(profile="seed")
    node.fault(0, not_supported=["nvmlDeviceGetMarginTemperature"])
    with exporter(env=node_env(node)) as exp:
        m = exp.wait(lambda m: unsupported_count(m) == 1, what="the NOT_SUPPORTED answer counted")
        stamp = m.value(STAMP, gpu="0")
        # a few more cycles: it stays absent (asked once), and the rest of GPU 0 is there
        m = exp.wait(lambda m: m.value(STAMP, gpu="0") > stamp + 0.5, what="later cycles")
        assert m.gpus(MARGIN) == {"1"}
        assert m.value(MARGIN, gpu="0") is None
        assert m.value(TEMP, gpu="0") is not None
        assert m.value("gpuguard_gpu_up", gpu="0") == 1
        assert unsupported_count(m) == 1
