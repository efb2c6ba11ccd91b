"""Policy validation: the shipped policy loads; every kind of mistake is one clear line, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gpuguard.actions.policy import PolicyError, load_policy, parse_policy
from tests.actions.helpers import CONTRACT_POLICY, GPUGUARD, policy_with, write_policy

SHIPPED = Path(__file__).resolve().parents[2] / "actions" / "policy.yml"


def test_contract_example_is_valid() -> None:
    policy = parse_policy(CONTRACT_POLICY)
    assert policy.thresholds.warning_celsius == 70 and policy.thresholds.critical_celsius == 75
    assert policy.thresholds_for("NVIDIA H100 80GB HBM3").critical_celsius == 85
    assert [s.action for s in policy.actions["kill_workloads"]] == ["fan_boost", "kill_workloads"]
    assert policy.actions["kill_workloads"][1].grace_seconds == 5
    assert "/usr/bin/dcgm-exporter" in policy.protected_executables and policy.kills_per_minute == 20


def test_protected_executables_must_be_absolute(tmp_path: Path) -> None:
    for bad in ("dcgm-exporter", "/usr/bin/../tmp/x", "./dcgm-exporter"):
        policy = policy_with(protected={"executables": [bad]})
        with pytest.raises(PolicyError, match="absolute, normalised path"):
            parse_policy(policy)


def test_shipped_policy_is_valid() -> None:
    if not SHIPPED.exists():
        pytest.skip("actions/policy.yml is not rendered yet")
    policy = load_policy(SHIPPED)
    # the rules' thresholds (DESIGN.md: GPUTemperatureCritical is 75 °C)
    assert policy.thresholds.critical_celsius == 75
    assert set(policy.actions) == {"fan_boost", "power_cap", "kill_workloads"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"version": 2}, "version: must be 1"),
    ({"lease_seconds": 0}, "lease_seconds: must be > 0"),
    ({"lease_seconds": "5m"}, "lease_seconds: must be a number"),
    ({"heartbeat": {"timeout_seconds": -1}}, "heartbeat.timeout_seconds: must be > 0"),
    ({"failsafe": {"warning_celsius": 80, "critical_celsius": 75}}, "is below warning_celsius"),
    ({"failsafe": {"poll_interval_seconds": 5}}, "failsafe.poll_interval_seconds: must be > 0 and <= 1"),
    ({"actions": {"reboot": [{"action": "fan_boost"}]}}, "actions.reboot: unknown gpuguard_action"),
    ({"actions": {"fan_boost": []}}, "actions.fan_boost: must be a non-empty list"),
    ({"actions": {"fan_boost": [{"action": "explode"}]}}, "actions.fan_boost[0].action: must be one of"),
    ({"actions": {"fan_boost": [{"action": "fan_boost", "speed_percent": 150}]}},
     "actions.fan_boost[0].speed_percent: must be >= 0 and <= 100"),
    ({"actions": {"fan_boost": [{"action": "fan_boost", "no_fans": "panic"}]}}, "no_fans: must be power_cap"),
    ({"actions": {"power_cap": [{"action": "power_cap"}]}}, "needs exactly one of watts or fraction"),
    ({"actions": {"power_cap": [{"action": "power_cap", "fraction_of_default": 1.5}]}},
     "fraction_of_default: must be > 0 and <= 1"),
    ({"actions": {"kill_workloads": [{"action": "kill_workloads", "grace_seconds": "soon"}]}},
     "actions.kill_workloads[0].grace_seconds: must be a number"),
    ({"actions": {"kill_workloads": [{"action": "kill_workloads", "signal": 9}]}},
     "actions.kill_workloads[0].signal: unknown key"),
    ({"limits": {"kills_per_minute": -1}}, "limits.kills_per_minute: must be a whole number"),
    ({"protected": {"process_names": "Xorg"}}, "protected.process_names: must be a list"),
    ({"surprise": 1}, "surprise: unknown key"),
])
def test_invalid_policy_names_the_problem(changes: dict, message: str) -> None:
    with pytest.raises(PolicyError, match="^policy: ") as raised:
        parse_policy(policy_with(**changes))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_required_key() -> None:
    data = policy_with()
    del data["heartbeat"]
    with pytest.raises(PolicyError, match="heartbeat: is required"):
        parse_policy(data)


@pytest.mark.parametrize(("content", "message"), [
    ("version: 1\nactions: [unclosed\n", "invalid YAML at line"),
    ("- just\n- a list\n", "must be a mapping"),
    ("", "must be a mapping, got nothing"),
])
def test_cli_reports_bad_policy_file_in_one_line(tmp_path: Path, token_file: Path, content: str,
                                                 message: str) -> None:
    policy = tmp_path / "bad.yml"
    policy.write_text(content)
    result = subprocess.run([str(GPUGUARD), "actions", "--policy", str(policy), "--auth-token-file",
                             str(token_file), "--state-dir", str(tmp_path / "s"), "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_cli_reports_missing_policy_file(tmp_path: Path, token_file: Path) -> None:
    result = subprocess.run([str(GPUGUARD), "actions", "--policy", str(tmp_path / "absent.yml"),
                             "--auth-token-file", str(token_file), "--state-dir", str(tmp_path / "s")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot read policy file" in result.stderr


def test_write_policy_roundtrip(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "p.yml", CONTRACT_POLICY)
    assert load_policy(path).lease_seconds == 300
