"""Running the real `gpuguard actions` process on a free loopback port, with its own policy file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.procs import free_port, stop, wait_for, wait_http_ok

GPUGUARD = Path(sys.executable).with_name("gpuguard")
TOKEN = "s3cret-token-for-tests"

# docs/contracts.md's example policy, as the receiver's schema defines it.
CONTRACT_POLICY: dict[str, Any] = {
    "version": 1,
    "host_label": "Hostname",
    "lease_seconds": 300,
    "heartbeat": {"alertname": "Watchdog", "timeout_seconds": 30},
    "failsafe": {
        "poll_interval_seconds": 0.5,
        "warning_celsius": 70,
        "critical_celsius": 75,
        "models": {"NVIDIA H100 80GB HBM3": {"warning_celsius": 80, "critical_celsius": 85}},
    },
    "actions": {
        "fan_boost": [{"action": "fan_boost", "speed_percent": 100, "no_fans": "power_cap"}],
        "power_cap": [{"action": "power_cap", "fraction_of_default": 0.7}],
        "kill_workloads": [
            {"action": "fan_boost", "speed_percent": 100, "no_fans": "power_cap"},
            {"action": "kill_workloads", "grace_seconds": 5},
        ],
    },
    "fallback_power_cap": {"fraction_of_default": 0.7},
    "protected": {
        "executables": ["/usr/bin/nvidia-persistenced", "/usr/bin/nv-hostengine", "/usr/bin/dcgm-exporter",
                        "/usr/bin/Xorg", "/usr/lib/xorg/Xorg"],
        "process_names": [],
        "users": [],
        "cgroups": [],
    },
    "limits": {"kills_per_minute": 20},
}


def policy_with(**changes: Any) -> dict[str, Any]:
    """The contract's policy with top-level keys replaced (nested dicts merged one level deep)."""
    policy = json.loads(json.dumps(CONTRACT_POLICY))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(policy.get(key), dict) and key != "actions":
            policy[key].update(value)
        else:
            policy[key] = value
    return policy


def write_policy(path: Path, policy: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def alert(status: str = "firing", action: str = "fan_boost", host: str = "node-a", uuid: str = "GPU-x",
          starts_at: str = "2026-11-30T01:00:00.123456789Z", fingerprint: str = "f00d", **labels: str
          ) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "GPUTemperatureHigh", "severity": "warning", "gpuguard_action": action,
                   "Hostname": host, "UUID": uuid, "gpu": "0", **labels},
        "annotations": {"summary": "hot"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="GPUTemperatureHigh"}',
        "truncatedAlerts": 0,
        "status": status or alerts[0]["status"] if alerts else "firing",
        "receiver": "gpuguard-actions",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def heartbeat() -> dict[str, Any]:
    return {"status": "firing", "labels": {"alertname": "Watchdog", "gpuguard_action": "heartbeat",
                                           "severity": "none"},
            "annotations": {}, "startsAt": "2026-11-30T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "beef"}


class Receiver:
    def __init__(self, process: subprocess.Popen, url: str, state_dir: Path, audit: Path, log: Path) -> None:
        self.process = process
        self.url = url
        self.state_dir = state_dir
        self.audit_path = audit
        self.log = log
        self.session = requests.Session()

    def post(self, body: Any, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body) if isinstance(body, dict | list) else body
        return self.session.post(f"{self.url}/alerts", data=data, headers=headers, timeout=10, **kwargs)

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]

    def decisions(self, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.audit() if e["event"] == "decision"
                and all(e.get(k) == v for k, v in match.items())]

    def wait_decisions(self, count: int = 1, timeout: float = 30.0, **match: Any) -> list[dict[str, Any]]:
        return wait_for(lambda: (d := self.decisions(**match)) and len(d) >= count and d, timeout=timeout,
                        what=f"{count} audit decision(s) matching {match}")

    def metrics(self) -> str:
        return requests.get(f"{self.url}/metrics", timeout=10).text

    def metric(self, series: str) -> float | None:
        for line in self.metrics().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return None


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def start_receiver(tmp_path: Path, token_file: Path) -> Iterator[Callable[..., Receiver]]:
    """A factory: start_receiver(policy=dict, env=dict, extra=[flags], node="node-a", state_dir=...)."""
    started: list[subprocess.Popen] = []
    counter = iter(range(1000))

    def start(policy: dict[str, Any] | None = None, env: dict[str, str] | None = None,
              extra: list[str] | None = None, node: str = "node-a", state_dir: Path | None = None,
              auth: list[str] | None = None) -> Receiver:
        n = next(counter)
        policy_file = write_policy(tmp_path / f"policy-{n}.yml", policy or CONTRACT_POLICY)
        state = state_dir or tmp_path / "state"
        audit = state / "audit.jsonl"
        port = free_port()
        log = tmp_path / f"receiver-{n}.log"
        args = [str(GPUGUARD), "actions", "--listen", f"127.0.0.1:{port}", "--policy", str(policy_file),
                "--state-dir", str(state), "--node-name", node,
                *(auth if auth is not None else ["--auth-token-file", str(token_file)]), *(extra or [])]
        with open(log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       env=env or dict(os.environ))
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/", timeout=30, process=process)  # /health is 503 without NVML
        return Receiver(process, url, state, audit, log)

    yield start
    for process in started:
        stop(process)


# --- the simulated node (docs/contracts.md: gpuguard.simulator.node.SimNode) ------------------------

READ_BACK = """
import json, pynvml
pynvml.nvmlInit()
out = []
for i in range(pynvml.nvmlDeviceGetCount()):
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    gpu = {"uuid": pynvml.nvmlDeviceGetUUID(h), "power_limit_mw": pynvml.nvmlDeviceGetPowerManagementLimit(h)}
    try:
        fans = pynvml.nvmlDeviceGetNumFans(h)
    except pynvml.NVMLError:
        fans = 0
    gpu["fan_targets"] = [pynvml.nvmlDeviceGetTargetFanSpeed(h, f) for f in range(fans)]
    policies = []
    for f in range(fans):
        try:
            policies.append(pynvml.nvmlDeviceGetFanControlPolicy_v2(h, f))
        except pynvml.NVMLError:
            policies.append(None)
    gpu["fan_policies"] = policies
    out.append(gpu)
print(json.dumps(out))
"""


def read_back(env: dict[str, str]) -> list[dict[str, Any]]:
    """What a second process, plain pynvml over the driver, reads: power limits and fan targets."""
    result = subprocess.run([sys.executable, "-c", READ_BACK], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory for simulated nodes: node(profile="seed", speed=1.0); torn down after the test."""
    try:
        from gpuguard.simulator.node import SimNode
    except ImportError as error:
        pytest.skip(f"the simulator's test API is not available yet ({error})")
    created = []
    counter = iter(range(1000))

    def make(profile: str = "seed", speed: float = 1.0, latency: str = "none") -> Any:
        handle = SimNode.create(profile=profile, state_dir=tmp_path / f"node-{next(counter)}", speed=speed,
                                latency=latency)
        created.append(handle)
        return handle.__enter__()

    yield make
    for handle in created:
        handle.__exit__(None, None, None)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exit_code(node: Any, pid: int) -> int | None:
    """The workload's return code as the simulator recorded it (negative: killed by that signal)."""
    for event in node.events():
        if event.get("event") == "workload_exit" and event.get("pid") == pid:
            return event.get("returncode")
    return None
