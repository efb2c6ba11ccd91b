"""Inhibition in the shipped alertmanager/alertmanager.yml, proven on a real Alertmanager 0.25.

Alerts are posted through its v2 API as Prometheus would post them; which ones are inhibited is read
back from the same API. Labels are written out as the exporter and the rules produce them
(DESIGN.md: `Hostname`, `UUID`, `gpu`, and the scrape target's `instance`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.alertmanager import alert, run_alertmanager

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "alertmanager" / "alertmanager.yml"

pytestmark = pytest.mark.e2e


def gpu(host: str, index: int, uuid: str) -> dict[str, str]:
    return {"Hostname": host, "instance": f"{host}:9400", "gpu": str(index), "UUID": uuid,
            "modelName": "NVIDIA GeForce RTX 5090"}


GPU_A = gpu("node-1", 0, "GPU-aaaa")
GPU_B = gpu("node-1", 1, "GPU-bbbb")
LOST = gpu("node-2", 0, "GPU-cccc")
ELSEWHERE = gpu("node-3", 0, "GPU-dddd")


def test_critical_tier_mutes_the_warning_tier_of_the_same_gpu_only(tmp_path: Path) -> None:
    with run_alertmanager(tmp_path, SHIPPED) as am:
        am.post([
            alert("GPUTemperatureCritical", severity="critical", gpuguard_action="kill_workloads", **GPU_A),
            alert("GPUTemperatureHigh", severity="warning", gpuguard_action="fan_boost", **GPU_A),
            alert("GPUMemoryTemperatureHigh", severity="warning", gpuguard_action="fan_boost", **GPU_A),
            alert("GPUThermalThrottling", severity="warning", gpuguard_action="fan_boost", **GPU_A),
            # another fault of the same GPU, not a lower tier of the same one: stays
            alert("GPUFanFailure", severity="critical", gpuguard_action="power_cap", fan="0", **GPU_A),
            # the predictive power cap is no lower tier either: muting it would let its lease lapse
            # and hand a GPU at its limit its full power back
            alert("GPUTemperatureCriticalPredicted", severity="critical", gpuguard_action="power_cap",
                  limit_source="model", **GPU_A),
            # the warning tier of the neighbouring GPU: stays
            alert("GPUTemperatureHigh", severity="warning", gpuguard_action="fan_boost", **GPU_B),
            alert("Watchdog", severity="none", gpuguard_action="heartbeat"),
        ])
        am.wait_for_alerts(lambda alerts: len(alerts) == 8)
        critical = am.find("GPUTemperatureCritical", UUID="GPU-aaaa")
        assert critical is not None
        for name in ("GPUTemperatureHigh", "GPUMemoryTemperatureHigh", "GPUThermalThrottling"):
            assert am.inhibited_by(name, UUID="GPU-aaaa") == [critical["fingerprint"]], name
        assert am.inhibited_by("GPUTemperatureCritical", UUID="GPU-aaaa") == []
        assert am.inhibited_by("GPUFanFailure", UUID="GPU-aaaa") == []
        assert am.inhibited_by("GPUTemperatureCriticalPredicted", UUID="GPU-aaaa") == []
        assert am.inhibited_by("GPUTemperatureHigh", UUID="GPU-bbbb") == []
        assert am.inhibited_by("Watchdog") == []

        # The GPU cools below the critical limit: the warning tier speaks again.
        am.post([alert("GPUTemperatureCritical", ends_in=-1, severity="critical",
                       gpuguard_action="kill_workloads", **GPU_A)])
        am.wait_for_alerts(lambda alerts: not any(
            a["labels"]["alertname"] == "GPUTemperatureCritical" for a in alerts))
        assert am.inhibited_by("GPUTemperatureHigh", UUID="GPU-aaaa") == []


def test_memory_critical_mutes_the_warning_tier_too(tmp_path: Path) -> None:
    with run_alertmanager(tmp_path, SHIPPED) as am:
        am.post([
            alert("GPUMemoryTemperatureCritical", severity="critical", gpuguard_action="kill_workloads",
                  **GPU_A),
            alert("GPUMemoryTemperatureHigh", severity="warning", gpuguard_action="fan_boost", **GPU_A),
        ])
        am.wait_for_alerts(lambda alerts: len(alerts) == 2)
        source = am.find("GPUMemoryTemperatureCritical")
        assert source is not None
        assert am.inhibited_by("GPUMemoryTemperatureHigh") == [source["fingerprint"]]


def test_warning_tier_mutes_nothing(tmp_path: Path) -> None:
    with run_alertmanager(tmp_path, SHIPPED) as am:
        am.post([
            alert("GPUTemperatureHigh", severity="warning", gpuguard_action="fan_boost", **GPU_A),
            alert("GPUThermalThrottling", severity="warning", gpuguard_action="fan_boost", **GPU_A),
        ])
        am.wait_for_alerts(lambda alerts: len(alerts) == 2)
        assert am.inhibited_by("GPUTemperatureHigh") == []
        assert am.inhibited_by("GPUThermalThrottling") == []


def test_exporter_down_mutes_that_nodes_gpu_alerts_only(tmp_path: Path) -> None:
    with run_alertmanager(tmp_path, SHIPPED) as am:
        am.post([
            alert("GPUExporterDown", severity="critical", job="gpuguard", instance="node-2:9400"),
            alert("GPUFellOffTheBus", severity="critical", **LOST),
            alert("GPUMetricsAbsent", severity="critical", instance="node-2:9400"),
            alert("GPUFellOffTheBus", severity="critical", **ELSEWHERE),
            alert("GPUActionsReceiverDown", severity="critical", job="gpuguard-actions",
                  instance="node-2:9401"),
            alert("Watchdog", severity="none", gpuguard_action="heartbeat"),
        ])
        am.wait_for_alerts(lambda alerts: len(alerts) == 6)
        down = am.find("GPUExporterDown")
        assert down is not None
        assert am.inhibited_by("GPUFellOffTheBus", UUID="GPU-cccc") == [down["fingerprint"]]
        assert am.inhibited_by("GPUMetricsAbsent", instance="node-2:9400") == [down["fingerprint"]]
        assert am.inhibited_by("GPUFellOffTheBus", UUID="GPU-dddd") == []
        # The receiver is another target on that node: its own failure must still be heard.
        assert am.inhibited_by("GPUActionsReceiverDown") == []
        assert am.inhibited_by("GPUExporterDown") == []
        assert am.inhibited_by("Watchdog") == []
