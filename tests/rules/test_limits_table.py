"""The shared limits table (tests/rules/limits_table.yml) is what the rules are tested on (the
promtool tests in rules/tests/limits.yml are rendered from it) and what the receiver reads from the
rendered policy file: actions/policy.py's per-board limits give every row's limits and, for a level
held steady, its decision. The failsafe is to be tested on the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuguard.actions.policy import DECISIONS, LIMIT_SOURCES, load_policy
from tests.rules.shipped import POLICY, RULE_TESTS, load

TABLE = Path(__file__).with_name("limits_table.yml")
CASES = yaml.safe_load(TABLE.read_text(encoding="utf-8"))["cases"]


def sample(value: Any, at: int) -> Any:
    """The table's value at `at` seconds: a number is held, a list is one sample a second."""
    if isinstance(value, list):
        return value[min(at, len(value) - 1)]
    return value


def test_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case["limit_source"] in LIMIT_SOURCES, case["name"]
        assert case["warning_celsius"] <= case["critical_celsius"], case["name"]
        assert case["checks"], case["name"]
        for check in case["checks"]:
            assert check["decision"] in DECISIONS, case["name"]
            assert ("predicted_celsius" in check) == (check["decision"] == "cap"), case["name"]
    decisions = {check["decision"] for case in CASES for check in case["checks"]}
    assert decisions == set(DECISIONS), "the table shows every decision"
    assert {case["limit_source"] for case in CASES} == set(LIMIT_SOURCES), "and every source"


def test_promtool_tests_are_rendered_from_every_row() -> None:
    rendered = next(path for path in RULE_TESTS if path.name == "limits.yml")
    tests = load(rendered)["tests"]
    assert [t["name"] for t in tests] == [f"limits table: {case['name']}" for case in CASES]
    for test, case in zip(tests, CASES, strict=True):
        times = {check["eval_time"] for check in test["alert_rule_test"]}
        assert times == {f"{check['at']}s" for check in case["checks"]}, case["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_file_gives_each_rows_limits_and_decision(case: dict[str, Any]) -> None:
    limits = load_policy(POLICY).limits()
    for check in case["checks"]:
        at = check["at"]
        celsius = sample(case["temperature"], at)
        board = limits.for_board(
            case["model"], celsius, margin=sample(case.get("margin"), at),
            slowdown=case.get("slowdown"), max_operating=case.get("max_operating"),
        )
        assert (board.source, board.warning_celsius, board.critical_celsius) == (
            case["limit_source"], case["warning_celsius"], case["critical_celsius"]), case["name"]
        if not isinstance(case["temperature"], list):
            # A level held steady: the level alone decides (no trajectory, no spike filter).
            assert board.decide(celsius) == check["decision"], f"{case['name']} at {at} s"
