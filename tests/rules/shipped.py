"""The rendered policy files as the tests read them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "gpuguard.rules.yml"
RULE_TESTS = sorted((REPO / "rules" / "tests").glob("*.yml"))
ALERTMANAGER = REPO / "alertmanager" / "alertmanager.yml"
POLICY = REPO / "actions" / "policy.yml"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
SHARED = REPO.parent / "shared"

# DESIGN.md: the values of the label the receiver acts on.
REMEDIATION_ACTIONS = {"fan_boost", "power_cap", "kill_workloads"}
ACTIONS = REMEDIATION_ACTIONS | {"heartbeat"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def groups() -> list[dict[str, Any]]:
    return load(RULES)["groups"]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in groups() for rule in group["rules"] if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    return [rule for group in groups() for rule in group["rules"] if "record" in rule]


def group_of(alertname: str) -> dict[str, Any]:
    return next(g for g in groups() if any(r.get("alert") == alertname for r in g["rules"]))


def rule(alertname: str) -> dict[str, Any]:
    return next(r for r in alert_rules() if r["alert"] == alertname)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (`make tools`)")
    return path


def seconds(duration: str) -> float:
    """A Prometheus duration ("1m30s", "500ms", "2s") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, number = 0.0, ""
    i = 0
    while i < len(duration):
        c = duration[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = "ms" if duration.startswith("ms", i) else c
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"duration without a unit: {duration!r}")
    return total
