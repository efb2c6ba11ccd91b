"""promtool: the rule file and the Prometheus config are valid, the unit tests pass, they cover every
alert both firing and not firing, and they fail when a threshold moves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.rules.shipped import PROMETHEUS, REPO, RULE_TESTS, RULES, alert_rules, load, tool


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_check_rules_is_clean() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "lint" not in (result.stdout + result.stderr).lower()


def test_check_config_with_its_rule_file() -> None:
    result = promtool("check", "config", str(PROMETHEUS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool tests rendered in rules/tests/"
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_cover_every_alert_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts no test sees firing"
    # The Watchdog is never silent; every other alert needs a case below its threshold or resolved.
    assert names - silent == {"Watchdog"}, "alerts no test sees silent"


@pytest.mark.parametrize(("overrides", "broken"), [
    # the seed's line: 75 °C on the RTX 5090
    ({"temperatureLimits": {"models": {"NVIDIA GeForce RTX 5090": {"criticalCelsius": 76}}}}, "thermal.yml"),
    ({"temperatureLimits": {"models": {"NVIDIA GeForce RTX 5090": {"criticalCelsius": 76}}}}, "limits.yml"),
    # critical at <= 3 °C of margin, the 75 °C default
    ({"temperatureLimits": {"margin": {"criticalCelsius": 2}}}, "limits.yml"),
    ({"temperatureLimits": {"default": {"criticalCelsius": 76}}}, "limits.yml"),
])
def test_unit_tests_fail_when_a_critical_limit_moves(tmp_path: Path, overrides: dict, broken: str) -> None:
    """The tests state the limits themselves: rendering others must break them."""
    render = subprocess.run(
        [sys.executable, "-m", "gpuguard.render", "--out", str(tmp_path),
         "--overrides", json.dumps(overrides)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert render.returncode == 0, render.stderr
    result = promtool("test", "rules", str(tmp_path / "rules" / "tests" / broken))
    assert result.returncode != 0
    assert "GPUTemperatureCritical" in result.stdout + result.stderr


def test_fast_job_keeps_only_thermal_series_and_normal_job_the_rest() -> None:
    import re

    jobs = {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    fast, normal = jobs["gpuguard-thermal"], jobs["gpuguard"]

    def kept(job: dict, name: str) -> bool:
        keep = True
        for relabel in job.get("metric_relabel_configs", []):
            assert relabel["source_labels"] == ["__name__"]
            matched = re.fullmatch(relabel["regex"], name) is not None
            keep = keep and (matched if relabel["action"] == "keep" else not matched)
        return keep

    for thermal in ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP_LIMIT",
                    "gpuguard_fan_speed_percent",
                    "gpuguard_fan_target_percent", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"):
        assert kept(fast, thermal) and not kept(normal, thermal), thermal
    for other in ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_SLOWDOWN_TEMP",
                  "gpuguard_gpu_up", "gpuguard_xid_errors_total", "DCGM_FI_DEV_GPU_TEMP_X"):
        assert kept(normal, other) and not kept(fast, other), other
    assert jobs["gpuguard-actions"]["static_configs"][0]["targets"] == ["127.0.0.1:9401"]
    exporter = ["127.0.0.1:9400"]
    assert fast["static_configs"][0]["targets"] == normal["static_configs"][0]["targets"] == exporter
