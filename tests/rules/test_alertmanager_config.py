"""The shipped Alertmanager config with amtool: valid, and every alert of the rule file routed to the
receivers DESIGN.md asks for: remediation alerts to the gpuguard receiver *and* to people, the
Watchdog to the receiver only, everything else to people."""

from __future__ import annotations

import subprocess

import pytest

from tests.rules.shipped import ALERTMANAGER, REMEDIATION_ACTIONS, alert_rules, load, tool

ACTIONS_RECEIVER = "gpuguard-actions"
PEOPLE = "people"
# The labels a GPU's series carry (DESIGN.md label order), which the alerts keep.
GPU_LABELS = {"Hostname": "node-1", "UUID": "GPU-aaaa", "gpu": "0", "instance": "node-1:9400",
              "modelName": "NVIDIA GeForce RTX 5090"}
ALERTS = alert_rules()


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("amtool"), *args], capture_output=True, text=True, timeout=60)


def test_check_config() -> None:
    result = amtool("check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def expected_receivers(alert: dict) -> str:
    if alert["alert"] == "Watchdog":
        return ACTIONS_RECEIVER
    if alert["labels"].get("gpuguard_action") in REMEDIATION_ACTIONS:
        return f"{ACTIONS_RECEIVER},{PEOPLE}"
    return PEOPLE


@pytest.mark.parametrize("alert", ALERTS, ids=[a["alert"] for a in ALERTS])
def test_routes(alert: dict) -> None:
    labels = {"alertname": alert["alert"], **alert["labels"]}
    if alert["alert"] != "Watchdog":
        labels |= GPU_LABELS
    expected = expected_receivers(alert)
    result = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER}",
                    f"--verify.receivers={expected}", *(f"{k}={v}" for k, v in labels.items()))
    assert result.returncode == 0, f"{alert['alert']}: {result.stdout}{result.stderr}"
    assert result.stdout.strip() == expected


def test_remediation_alerts_are_the_ones_design_names() -> None:
    actions = {a["alert"]: a["labels"].get("gpuguard_action") for a in alert_rules()}
    assert actions["GPUTemperatureHigh"] == "fan_boost"
    assert actions["GPUTemperatureCritical"] == "kill_workloads"
    assert actions["GPUTemperatureCriticalPredicted"] == "power_cap"  # issue 12: act before the limit
    assert actions["Watchdog"] == "heartbeat"


def test_receiver_webhook_is_authenticated_per_alertmanager_0_25() -> None:
    receivers = {r["name"]: r for r in load(ALERTMANAGER)["receivers"]}
    (webhook,) = receivers[ACTIONS_RECEIVER]["webhook_configs"]
    assert webhook["url"] == "http://127.0.0.1:9401/alerts"  # DESIGN.md: receiver port 9401, POST /alerts
    assert webhook["send_resolved"] is True  # the receiver restores on resolve
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert webhook["http_config"]["authorization"]["credentials_file"].startswith("/")
    assert "url_file" not in webhook  # Alertmanager 0.25 has none
    assert receivers[PEOPLE].keys() == {"name"}  # a placeholder to wire up


def test_remediation_is_grouped_per_gpu() -> None:
    routes = load(ALERTMANAGER)["route"]["routes"]
    remediation = next(r for r in routes if any("gpuguard_action" in m for m in r.get("matchers", [])))
    assert set(remediation["group_by"]) == {"Hostname", "UUID"}
    assert remediation["continue"] is True
    assert routes[-1] == {"receiver": PEOPLE}, "an explicit catch-all after `continue: true`"
