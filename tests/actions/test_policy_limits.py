"""The policy file's per-board temperature limits (`temperature_limits`, docs/contracts.md): parsed
and validated with one-line errors, resolved per board in the rules' order, and a file without them
(the older schema) keeps working from the failsafe's own keys."""

from __future__ import annotations

from typing import Any

import pytest

from gpuguard.actions.policy import PolicyError, parse_policy
from tests.actions.helpers import policy_with

RTX_5090 = "NVIDIA GeForce RTX 5090"
LIMITS: dict[str, Any] = {
    "models": {RTX_5090: {"warning_celsius": 70, "critical_celsius": 75}},
    "margin": {"warning_celsius": 10, "critical_celsius": 3},
    "board_threshold": {"warning_below_celsius": 10, "critical_below_celsius": 3},
    "default": {"warning_celsius": 70, "critical_celsius": 75},
}


def limits_with(**changes: Any) -> dict[str, Any]:
    return {**LIMITS, **changes}


def test_each_source_in_order() -> None:
    limits = parse_policy(policy_with(temperature_limits=LIMITS)).limits()

    def board(model: str = "NVIDIA H200", celsius: float = 82, **reported: float | None) -> tuple:
        b = limits.for_board(model, celsius, **reported)
        return b.source, b.warning_celsius, b.critical_celsius

    # a named model wins over whatever the board reports
    assert board(RTX_5090, 76, margin=14, slowdown=90) == ("model", 70, 75)
    # the margin: the limit is where the margin would be 10 / 3 °C
    assert board(margin=5, slowdown=95) == ("margin", 77, 84)
    assert board(margin=-2) == ("margin", 70, 77)  # past the threshold: still a margin
    # no margin: the lower of slowdown and max operating, minus 10 / 3 °C; a tie names the slowdown
    assert board(slowdown=96, max_operating=90) == ("max_operating", 80, 87)
    assert board(slowdown=88, max_operating=90) == ("slowdown", 78, 85)
    assert board(slowdown=90, max_operating=90) == ("slowdown", 80, 87)
    assert board(max_operating=90) == ("max_operating", 80, 87)
    # nothing reported, or only sentinels: the default
    assert board() == ("default", 70, 75)
    assert board(margin=2147483647, slowdown=0, max_operating=4294967295) == ("default", 70, 75)


def test_decisions_from_a_level() -> None:
    limits = parse_policy(policy_with(temperature_limits=LIMITS)).limits()
    board = limits.for_board("NVIDIA H200", 82, margin=5)
    assert [board.decide(c) for c in (76, 77, 83, 84, 90)] == ["nothing", "warn", "warn", "kill", "kill"]


def test_a_file_without_temperature_limits_keeps_the_failsafe_keys() -> None:
    policy = parse_policy(policy_with())
    assert policy.temperature_limits is None
    limits = policy.limits()
    h100 = limits.for_board("NVIDIA H100 80GB HBM3", 82, margin=5)
    assert (h100.source, h100.warning_celsius, h100.critical_celsius) == ("model", 80, 85)
    other = limits.for_board("NVIDIA H200", 82, margin=5, slowdown=90)  # no margin rule in the old schema
    assert (other.source, other.warning_celsius, other.critical_celsius) == ("default", 70, 75)
    assert policy.thresholds_for("NVIDIA H100 80GB HBM3").critical_celsius == 85  # the old reader stays


def test_the_new_keys_leave_the_failsafe_keys_alone() -> None:
    policy = parse_policy(policy_with(temperature_limits=LIMITS))
    assert policy.thresholds.critical_celsius == 75
    assert policy.thresholds_for("NVIDIA H100 80GB HBM3").critical_celsius == 85
    assert policy.limits().models[RTX_5090].critical_celsius == 75


@pytest.mark.parametrize(("limits", "message"), [
    (limits_with(margin={"warning_celsius": 3, "critical_celsius": 10}),
     "temperature_limits.margin: warning_celsius (3) is below critical_celsius (10)"),
    (limits_with(margin={"warning_celsius": 10}), "temperature_limits.margin.critical_celsius: is required"),
    (limits_with(margin={"warning_celsius": "ten", "critical_celsius": 3}),
     "temperature_limits.margin.warning_celsius: must be a number"),
    (limits_with(board_threshold={"warning_below_celsius": 1, "critical_below_celsius": 3}),
     "temperature_limits.board_threshold: warning_below_celsius (1) is below critical_below_celsius (3)"),
    (limits_with(board_threshold={"warning_below_celsius": 10, "critical_below_celsius": -1}),
     "temperature_limits.board_threshold.critical_below_celsius: must be >= 0"),
    ({k: v for k, v in LIMITS.items() if k != "default"}, "temperature_limits.default: is required"),
    (limits_with(default={"warning_celsius": 80, "critical_celsius": 75}),
     "temperature_limits.default: critical_celsius (75) is below warning_celsius (80)"),
    (limits_with(models={RTX_5090: {"critical_celsius": 75}}),
     f"temperature_limits.models.{RTX_5090}.warning_celsius: is required"),
    (limits_with(models={RTX_5090: {"warning_celsius": 70, "critical_celsius": 75, "margin": 3}}),
     f"temperature_limits.models.{RTX_5090}.margin: unknown key"),
    (limits_with(order=["model"]), "temperature_limits.order: unknown key"),
    ("75", "temperature_limits: must be a mapping"),
])
def test_invalid_limits_name_the_problem(limits: Any, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(policy_with(temperature_limits=limits))
    assert str(raised.value).startswith(f"policy: {message}"), str(raised.value)
    assert "\n" not in str(raised.value)
