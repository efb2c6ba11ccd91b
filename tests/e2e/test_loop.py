"""The whole loop, for real: simulated seed node, exporter, receiver, Prometheus 2.42, Alertmanager 0.25.

Hot GPU -> metric -> rule -> Alertmanager -> receiver -> fan boost, kill -> cooling -> resolve ->
restore, with the shipped rules, routes and policy (only addresses, ports and paths overridden).
Each test judges the incident from the records of Prometheus, Alertmanager, the receiver's audit
log and the simulator's own setter and event logs.
"""

from __future__ import annotations

import shutil
import signal
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gpuguard import incident as scenario
from gpuguard.observe import get_json, prometheus_query

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
        reason="Debian's prometheus and prometheus-alertmanager are not installed (make tools)",
    ),
]

# Literal values of the shipped policy (DESIGN.md: GPUTemperatureCritical at the seed's 75 °C).
CRITICAL_C = 75
GPU0_UUID = "GPU-5a287ce5-4966-8c3b-9d21-5090a0000001"
GPU1_UUID = "GPU-5a287ce5-4966-8c3b-9d21-6000b0000002"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[scenario.Incident]:
    with scenario.running_stack(tmp_path, speed=2.0) as incident:
        yield incident


def decisions(incident: scenario.Incident, action: str, result: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in incident.audit()
        if r["event"] == "decision" and r["action"] == action and (result is None or r["result"] == result)
    ]


def alert_history(incident: scenario.Incident, alertname: str, gpu: str) -> list[float]:
    """The ALERTS{alertstate="firing"} samples Prometheus recorded for one alert of one GPU."""
    prometheus = incident.stack.services["prometheus"].url
    end = time.time()
    query = f'ALERTS{{alertname="{alertname}", gpu="{gpu}", alertstate="firing"}}'
    params = urllib.parse.urlencode({"query": query, "start": incident.started - 5, "end": end, "step": 1})
    body = get_json(f"{prometheus}/api/v1/query_range?{params}")
    values = [float(t) for series in body["data"]["result"] for t, _ in series["values"]]
    return sorted(values)


def test_demo_incident_in_order(stack: scenario.Incident) -> None:
    incident = stack
    scenario.run(incident)

    # Prometheus fired both temperature alerts for GPU 0 only, and they are resolved now.
    for alertname in ("GPUTemperatureHigh", "GPUTemperatureCritical"):
        assert alert_history(incident, alertname, "0"), f"{alertname} never fired for GPU 0"
        assert not alert_history(incident, alertname, "1"), f"{alertname} fired for GPU 1"
    prometheus = incident.stack.services["prometheus"].url
    assert not prometheus_query(prometheus, 'ALERTS{alertname=~"GPUTemperature(High|Critical)"}')

    # The receiver: fan boost before the kill, only GPU 0's workload killed, restore after resolve.
    boosts = decisions(incident, "fan_boost", "applied")
    kills = decisions(incident, "kill_workloads", "killed")
    restores = decisions(incident, "fan_restore", "restored")
    assert boosts and kills and restores
    assert boosts[0]["ts"] < kills[0]["ts"] < restores[0]["ts"]
    assert {k["uuid"] for k in boosts + kills + restores} == {GPU0_UUID}
    assert kills[0]["terminated"] + kills[0]["killed"] == [incident.workloads[0].pid]
    resolved = [r for r in incident.audit() if r.get("status") == "resolved" and r.get("uuid") == GPU0_UUID]
    assert resolved and resolved[0]["ts"] <= restores[0]["ts"]

    # The simulator's own records: the kill came after the critical crossing, fans restored on GPU 0,
    # GPU 1 never touched and still working.
    crossed = incident.first_at_or_above(0, CRITICAL_C)
    exited = incident.exit_of(incident.workloads[0])
    assert crossed and exited and exited["wall"] > crossed["wall"]
    assert incident.setters(0, ("nvmlDeviceSetDefaultFanSpeed_v2",))
    assert not [s for s in incident.node.setters() if s.get("gpu") == 1]
    assert incident.exit_of(incident.workloads[1]) is None
    assert incident.workloads[1].process.poll() is None
    gpu1 = incident.node.status()["gpus"][1]
    assert gpu1["uuid"] == GPU1_UUID and gpu1["processes"]
    assert [s.name for s in incident.steps] == [
        "pipeline ready",
        "hot ambient",
        "warning tier",
        "fans boosted",
        "fan failure",
        "critical limit",
        "workload killed",
        "cooled",
        "alerts resolved",
        "fans restored",
        "GPU 1 untouched",
    ]


def test_alertmanager_killed_mid_incident_failsafe_kills(stack: scenario.Incident) -> None:
    incident = stack
    scenario.wait_pipeline_ready(incident)
    scenario.heat_until_fan_boost(incident)
    incident.stack.stop("alertmanager", sig=signal.SIGKILL)
    silenced = time.time()
    incident.node.set(0, fan_failure=True)

    exited = incident.wait(
        lambda: incident.exit_of(incident.workloads[0]), 150, "failsafe kills GPU 0's workload"
    )
    engaged = [r for r in incident.audit() if r["event"] == "failsafe_engaged"]
    assert engaged and silenced < engaged[0]["ts"] <= exited["wall"]
    kills = [r for r in incident.audit() if r["event"] == "kill_started"]
    assert len(kills) == 1 and kills[0]["source"] == "failsafe" and kills[0]["uuid"] == GPU0_UUID
    assert kills[0]["pids"] == [incident.workloads[0].pid]
    assert incident.first_at_or_above(0, CRITICAL_C)["wall"] < exited["wall"]
    assert incident.workloads[1].process.poll() is None


def test_receiver_restarted_mid_incident_still_restores(stack: scenario.Incident) -> None:
    incident = stack
    scenario.wait_pipeline_ready(incident)
    scenario.heat_until_fan_boost(incident)
    booster = incident.setters(0, scenario.FAN_SETTERS)[0]["pid"]
    incident.stack.restart("receiver")
    restarted = time.time()
    # The boost holds the GPU below the critical limit once the room cools down again.
    incident.node.set(0, ambient=25.0)

    restored = incident.wait(
        lambda: incident.setters(0, ("nvmlDeviceSetDefaultFanSpeed_v2",), restarted), 240, "fans restored"
    )
    assert restored[0]["wall"] > restarted
    assert restored[0]["pid"] == incident.stack.services["receiver"].process.pid != booster
    assert any(r["event"] == "reconcile" for r in incident.audit())
    assert incident.exit_of(incident.workloads[0]) is None, "no kill was called for"
    fans = incident.node.status()["gpus"][0]["fans"]
    assert not any(f["manual"] for f in fans), fans


def test_two_alertmanagers_one_kill_sequence(tmp_path: Path) -> None:
    with scenario.running_stack(tmp_path, speed=2.0, alertmanagers=2) as incident:
        scenario.wait_pipeline_ready(incident)
        scenario.heat_until_fan_boost(incident)
        scenario.fail_fan_until_kill(incident)
        # Both Alertmanagers deliver the critical alert: the second delivery is refused as a duplicate.
        incident.wait(lambda: decisions(incident, "kill_workloads", "duplicate"), 60, "duplicate refused")
        kills = [r for r in incident.audit() if r["event"] == "kill_started"]
        assert len(kills) == 1, kills
        assert kills[0]["pids"] == [incident.workloads[0].pid]
        assert len(incident.events("workload_exit", 0)) == 1
        assert incident.workloads[1].process.poll() is None
