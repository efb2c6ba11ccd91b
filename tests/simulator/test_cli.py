"""Every `gpuguard sim` verb and flag of DESIGN.md and docs/contracts.md, and its bad inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simulator.pynvml_run import run_pynvml

SIM = [sys.executable, "-m", "gpuguard.cli", "sim"]


def sim(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*SIM, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_status_json_has_the_contract_shape(sim_node) -> None:
    node = sim_node()
    result = sim("status", "--json", env=node.env)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["profile"], status["speed"], status["driver_version"]) == ("seed", 1, "575.64.03")
    assert isinstance(status["sim_time"], float) and isinstance(status["wall"], float)
    gpu = status["gpus"][0]
    for key in ("index", "name", "uuid", "pci_bus_id", "temperature_c", "memory_temperature_c",
                "ambient_c", "fan_failure", "fans", "power_w", "power_limit_w", "default_power_limit_w",
                "throttle_reasons", "lost", "processes"):
        assert key in gpu, key
    assert gpu["memory_temperature_c"] is None and gpu["ambient_c"] == 25.0 and gpu["fan_failure"] is False
    assert gpu["fans"][0] == {"speed_percent": 30, "target_percent": 30, "manual": False}
    assert (gpu["power_limit_w"], gpu["default_power_limit_w"]) == (575.0, 575.0)
    text = sim("status", "--state", str(node.state_dir), env={k: v for k, v in node.env.items()
                                                             if k != "GPUGUARD_SIM_STATE"})
    assert text.returncode == 0 and "NVIDIA GeForce RTX 5090" in text.stdout


def test_set_changes_the_scenario_and_is_an_event(sim_node) -> None:
    node = sim_node()
    assert sim("set", "--gpu", "1", "--ambient", "35", "--fan-failure", "on", env=node.env).returncode == 0
    gpu = node.status()["gpus"][1]
    assert (gpu["ambient_c"], gpu["fan_failure"]) == (35.0, True)
    sets = [e for e in node.events() if e["event"] == "set"]
    assert [(e["gpu"], e.get("ambient_c"), e.get("fan_failure")) for e in sets] == [
        (1, 35.0, None), (1, None, True)]


def test_fault_verb_and_its_records(sim_node) -> None:
    node = sim_node()
    assert sim("fault", "--gpu", "0", "--lost", "on", "--not-supported", "nvmlDeviceGetPowerUsage",
               "--xid", "48", env=node.env).returncode == 0
    gpu = node.status()["gpus"][0]
    assert gpu["lost"] is True and gpu["not_supported"] == ["nvmlDeviceGetPowerUsage"]
    faults = [(e["fault"], e["value"]) for e in node.events() if e["event"] == "fault"]
    assert faults == [("lost", True), ("not_supported", "nvmlDeviceGetPowerUsage"), ("xid", 48)]
    assert sim("fault", "--gpu", "0", "--clear", env=node.env).returncode == 0
    assert node.status()["gpus"][0]["lost"] is False
    assert sim("fault", "--driver-reload", env=node.env).returncode == 0
    assert node.status()["generation"] == 1


def test_setters_calls_and_events_verbs(sim_node) -> None:
    node = sim_node()
    run_pynvml(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        pynvml.nvmlDeviceSetPowerManagementLimit(h, 450000)
        pynvml.nvmlDeviceGetTemperature(h, 0); pynvml.nvmlDeviceGetTemperature(h, 0)
        out(True)
    """)
    setters = json.loads(sim("setters", "--json", env=node.env).stdout)
    assert [(s["call"], s["args"], s["result"]) for s in setters] == [
        ("nvmlDeviceSetPowerManagementLimit", {"limit_mw": 450000}, "SUCCESS")]
    assert node.status()["gpus"][0]["power_limit_w"] == 450.0
    calls = json.loads(sim("calls", "--json", env=node.env).stdout)
    assert calls["nvmlDeviceGetTemperature"] == 2 and calls["nvmlDeviceSetPowerManagementLimit"] == 1
    assert sim("events", "--json", env=node.env).returncode == 0


def test_node_verb_prints_its_environment_and_cleans_up(tmp_path: Path) -> None:
    process = subprocess.Popen([*SIM, "node", "--profile", "dgx-h100", "--speed", "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        state_line = process.stdout.readline().strip()
        library_line = process.stdout.readline().strip()
        assert state_line.startswith("GPUGUARD_SIM_STATE=") and library_line.startswith("LD_LIBRARY_PATH=")
        state_dir = Path(state_line.split("=", 1)[1])
        assert (Path(library_line.split("=", 1)[1]) / "libnvidia-ml.so.1").is_file()
        env = {**os.environ, "GPUGUARD_SIM_STATE": str(state_dir)}
        status = json.loads(sim("status", "--json", env=env).stdout)
        assert (status["profile"], status["speed"], len(status["gpus"])) == ("dgx-h100", 5, 8)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert not state_dir.exists()


def test_latency_profile_realistic_counts_and_answers(sim_node) -> None:
    node = sim_node(latency="realistic", latency_mode="busy")
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        out([pynvml.nvmlDeviceGetPcieThroughput(h, pynvml.NVML_PCIE_UTIL_RX_BYTES) > 0,
             pynvml.nvmlDeviceGetFanSpeed(h)])
    """)
    assert seen == [True, 30]
    assert node.calls()["nvmlDeviceGetPcieThroughput"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["exec", "--profile", "nope", "--", "true"], "unknown profile 'nope'"),
    (["exec", "--speed", "0", "--", "true"], "--speed must be a positive number"),
    (["exec", "--latency", "slow", "--", "true"], "invalid choice"),
    (["exec"], "exec needs a command"),
    (["status"], "no simulated node"),
])
def test_bad_input_is_one_line_and_nonzero(args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GPUGUARD_SIM_STATE"}
    result = sim(*args, env=env)
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_gpu_index_is_refused(sim_node) -> None:
    node = sim_node()
    for args in (["workload", "--gpu", "2"], ["set", "--gpu", "5", "--ambient", "30"], ["fault", "--gpu", "9",
                                                                                       "--lost", "on"]):
        result = sim(*args, env=node.env)
        assert result.returncode == 2 and "no GPU" in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_profile_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"driver_version": "1", "gpus": [}')
    result = sim("exec", "--profile", str(broken), "--", "true")
    assert result.returncode == 2 and "malformed profile" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
