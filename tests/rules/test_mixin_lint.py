"""The monitoring-mixin style, enforced on our own rules (as node-mixin and kubernetes-mixin lint theirs):
CamelCase names with a GPU prefix, a severity, a static summary ending with a period, a templated
description, a runbook URL, level:metric:operations recording rules, and the receiver's labels on
every alert it acts on (DESIGN.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.rules.shipped import ACTIONS, REMEDIATION_ACTIONS, alert_rules, group_of, recording_rules, rule

SEVERITIES = {"critical", "warning", "info"}
ALERTS = alert_rules()


def ids(rules: list[dict]) -> list[str]:
    return [r.get("alert") or r.get("record") for r in rules]


@pytest.mark.parametrize("alert", ALERTS, ids=ids(ALERTS))
def test_alert_style(alert: dict) -> None:
    name = alert["alert"]
    labels, annotations = alert["labels"], alert["annotations"]
    if name == "Watchdog":
        assert labels == {"severity": "none", "gpuguard_action": "heartbeat"}
    else:
        assert re.fullmatch(r"GPU(?:[A-Z][a-z0-9]*)+", name), f"{name}: CamelCase with a GPU prefix"
        assert labels["severity"] in SEVERITIES
    assert set(annotations) == {"summary", "description", "runbook_url"}
    summary = annotations["summary"]
    assert "{{" not in summary and "$labels" not in summary, f"{name}: summary must be static"
    assert summary.endswith("."), f"{name}: summary must end with a period"
    assert summary[0].isupper()
    if name != "Watchdog":  # the heartbeat has no labels worth templating
        assert "{{ $labels." in annotations["description"], f"{name}: description must be templated"
    assert re.fullmatch(r"https://\S+#" + name.lower(), annotations["runbook_url"])
    assert set(labels) <= {"severity", "gpuguard_action"}, f"{name}: unexpected static labels"


@pytest.mark.parametrize("alert", ALERTS, ids=ids(ALERTS))
def test_remediation_alerts_keep_the_gpu_labels(alert: dict) -> None:
    """An alert the receiver acts on must keep UUID, gpu and Hostname (and GPU_I_ID): no aggregation
    or one-to-one `on (...)` may drop them."""
    action = alert["labels"].get("gpuguard_action")
    if action is None:
        return
    assert action in ACTIONS
    if action == "heartbeat":
        assert alert["alert"] == "Watchdog"
        return
    assert action in REMEDIATION_ACTIONS
    expr = alert["expr"]
    for clause in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
        kept = {label.strip() for label in clause.split(",")}
        assert {"UUID", "gpu", "Hostname"} <= kept, f"{alert['alert']}: `{clause}` drops GPU labels"
    assert not re.search(r"\b(sum|avg|min|max|count|group|topk|bottomk)\s*\(", expr) or " by " in expr


def test_design_names_and_actions() -> None:
    # DESIGN.md fixes these two.
    assert rule("GPUTemperatureHigh")["labels"] == {"severity": "warning", "gpuguard_action": "fan_boost"}
    assert rule("GPUTemperatureCritical")["labels"] == {
        "severity": "critical", "gpuguard_action": "kill_workloads"}
    names = [a["alert"] for a in ALERTS]
    assert len(names) == len(set(names)), "one rule per alert name (per-model limits live in one expr)"


def test_thermal_rules_run_fast_with_hysteresis() -> None:
    thermal = group_of("GPUTemperatureCritical")
    assert thermal is group_of("GPUTemperatureHigh") or thermal == group_of("GPUTemperatureHigh")
    assert rule("GPUTemperatureHigh").get("keep_firing_for"), "the warning tier needs hysteresis"
    assert "keep_firing_for" not in rule("GPUTemperatureCritical")


@pytest.mark.parametrize("record", recording_rules(), ids=ids(recording_rules()))
def test_recording_rule_names(record: dict) -> None:
    assert re.fullmatch(r"[a-zA-Z_]+:[a-zA-Z0-9_]+:[a-z0-9_]+", record["record"]), record["record"]


def test_recording_rules_are_used() -> None:
    exprs = " ".join(a["expr"] for a in ALERTS)
    for record in recording_rules():
        assert record["record"] in exprs, f"{record['record']} feeds no alert"


def test_every_alert_has_a_runbook_section() -> None:
    runbooks = (Path(__file__).resolve().parents[2] / "rules" / "runbooks.md").read_text()
    sections = {line[3:].strip().lower() for line in runbooks.splitlines() if line.startswith("## ")}
    for alert in ALERTS:
        url = alert["annotations"]["runbook_url"]
        assert url.split("#")[0].endswith("/rules/runbooks.md")
        assert url.split("#")[1] in sections, f"{alert['alert']}: no section in rules/runbooks.md"
