"""The receiver cannot be silently disabled (issue 14): /health and gpuguard_actions_health_ok tell
when a loop, NVML or the disk fails; a full disk never stops a kill; failed kills are retried."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.actions.helpers import (
    CONTRACT_POLICY,
    alert,
    alive,
    notification,
    policy_with,
    wait_for,
)

KILL_FAST = policy_with(actions={**CONTRACT_POLICY["actions"],
                                 "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]})


def uuid_of(sim, index: int) -> str:
    return sim.status()["gpus"][index]["uuid"]


def health(receiver) -> tuple[int, str]:
    answer = requests.get(f"{receiver.url}/health", timeout=5)
    return answer.status_code, answer.text


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {error}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write until the file system is full; returns the filler, whose removal frees the space."""
    filler = directory / "filler"
    with open(filler, "wb") as out:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
                out.flush()
    with contextlib.suppress(OSError), open(filler, "ab") as out:  # the last partial block
        while True:
            out.write(b"\0")
            out.flush()
    return filler


def test_healthy_on_a_simulated_node(node, start_receiver) -> None:
    receiver = start_receiver(env=node().env)
    assert health(receiver) == (200, "OK")
    for check in ("decisions", "failsafe", "nvml", "state", "audit"):
        assert receiver.metric(f'gpuguard_actions_health_ok{{check="{check}"}}') == 1.0, check


def test_full_disk_never_stops_a_kill_and_health_reports_it(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    workload = sim.start_workload(0, watts=300.0)
    with small_tmpfs(tmp_path / "disk") as disk:
        receiver = start_receiver(policy=KILL_FAST, env=sim.env, state_dir=disk / "state")
        filler = fill(disk)
        critical = alert(uuid=uuid_of(sim, 0), action="kill_workloads", alertname="GPUTemperatureCritical")
        assert receiver.post(notification(critical)).status_code == 200
        # The audit log cannot record it, so the kill is seen where it happens: the process ends.
        wait_for(lambda: not alive(workload.pid), timeout=20, what="the workload killed on a full disk")
        wait_for(lambda: health(receiver)[0] == 503, timeout=10, what="/health to report the disk")
        status, text = health(receiver)
        assert "state: state file" in text or "audit: audit log" in text, text
        assert "No space left on device" in text, text
        assert receiver.metric('gpuguard_actions_health_ok{check="decisions"}') == 1.0
        assert receiver.metric('gpuguard_actions_health_ok{check="failsafe"}') == 1.0
        # Each decision is in the audit log where a line still fitted, else on stderr.
        recorded = receiver.log.read_text() + receiver.audit_path.read_text()
        assert '"action":"kill_workloads","result":"killed"' in recorded

        # Space back: the pending save is retried by the failsafe's tick, the next record clears audit.
        filler.unlink()
        assert receiver.post(notification(critical)).status_code == 200
        wait_for(lambda: health(receiver) == (200, "OK"), timeout=15, what="/health to recover")
        assert receiver.process.poll() is None


def test_failed_kill_is_retried_on_the_next_repeat(node, start_receiver) -> None:
    """A kill that could not run (NVML failing the process list) is not "done": the repeat kills."""
    sim = node()
    workload = sim.start_workload(0, watts=300.0)
    receiver = start_receiver(policy=KILL_FAST, env=sim.env)
    critical = alert(uuid=uuid_of(sim, 0), action="kill_workloads", alertname="GPUTemperatureCritical")
    sim.fault(0, lost=True)
    assert receiver.post(notification(critical)).status_code == 200
    receiver.wait_decisions(action="kill_workloads", result="failed")
    assert alive(workload.pid)
    sim.fault(0, clear=True)
    assert receiver.post(notification(critical)).status_code == 200  # Alertmanager's repeat
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert done["terminated"] == [workload.pid]
    assert not receiver.decisions(action="kill_workloads", result="duplicate")


def test_repeat_kills_a_workload_restarted_on_the_hot_gpu(node, start_receiver) -> None:
    sim = node()
    first = sim.start_workload(0, watts=300.0)
    receiver = start_receiver(policy=KILL_FAST, env=sim.env)
    critical = alert(uuid=uuid_of(sim, 0), action="kill_workloads", alertname="GPUTemperatureCritical")
    assert receiver.post(notification(critical)).status_code == 200
    receiver.wait_decisions(action="kill_workloads", result="killed")
    wait_for(lambda: not alive(first.pid), what="the first workload's end")
    second = sim.start_workload(0, watts=300.0)  # the job's controller restarts it on the same GPU
    assert receiver.post(notification(critical)).status_code == 200
    kills = receiver.wait_decisions(2, action="kill_workloads", result="killed")
    assert kills[1]["terminated"] == [second.pid]
    # With nothing left on the GPU a further repeat is a duplicate, not another sequence.
    assert receiver.post(notification(critical)).status_code == 200
    receiver.wait_decisions(action="kill_workloads", result="duplicate")
    assert len(receiver.decisions(action="kill_workloads", result="killed")) == 2


def test_driver_reload_then_kill_and_cap(node, start_receiver) -> None:
    """After a driver reload NVML answers UNINITIALIZED to the old session: the receiver reopens it."""
    sim = node()
    policy = policy_with(actions={**CONTRACT_POLICY["actions"],
                                  "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}],
                                  "power_cap": [{"action": "power_cap", "fraction_of_default": 0.7}]})
    receiver = start_receiver(policy=policy, env=sim.env)
    sim.driver_reload()
    workload = sim.start_workload(0, watts=300.0)
    uuid0 = uuid_of(sim, 0)
    cap = alert(uuid=uuid0, action="power_cap", alertname="GPUTemperatureCriticalPredicted", fingerprint="c1")
    critical = alert(uuid=uuid0, action="kill_workloads", alertname="GPUTemperatureCritical")
    assert receiver.post(notification(cap, critical)).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert done["terminated"] == [workload.pid]
    receiver.wait_decisions(action="power_cap", result="applied")
    assert sim.status()["gpus"][0]["power_limit_w"] == 575.0 * 0.7
    assert not receiver.decisions(result="failed")
    assert health(receiver) == (200, "OK")


def test_failsafe_applies_the_boards_own_margin(node, start_receiver) -> None:
    """Issue 16: the failsafe takes the per-board limits the rules use, from what the board reports
    through NVML. The simulated H100 idles at 29 °C with 60 °C of margin; a policy whose margin tier
    calls that critical (and whose default never would) kills through the margin alone."""
    sim = node(profile="dgx-h100")
    policy = policy_with(
        heartbeat={"alertname": "Watchdog", "timeout_seconds": 1},
        failsafe={**CONTRACT_POLICY["failsafe"], "grace_seconds": 1},
        temperature_limits={"models": {},
                            "margin": {"warning_celsius": 65, "critical_celsius": 62},
                            "board_threshold": {"warning_below_celsius": 10, "critical_below_celsius": 3},
                            "default": {"warning_celsius": 120, "critical_celsius": 125}})
    receiver = start_receiver(policy=policy, env=sim.env)
    workload = sim.start_workload(0, watts=100.0)
    done = receiver.wait_decisions(action="kill_workloads", result="killed", timeout=20)[0]
    assert done["terminated"] == [workload.pid]
    assert done["limit_source"] == "margin" and done["source"] == "failsafe"
    assert abs(done["critical_celsius"] - (done["celsius"] + 60 - 62)) <= 1  # read a moment apart


def test_truncated_state_after_a_cap_restores_the_driver_defaults(node, start_receiver,
                                                                  tmp_path: Path) -> None:
    """A state file cut short (a crash on a full disk) loses what was saved: the next start sets it
    aside, says so, and puts the capped GPU back to its default limit and its fans on automatic."""
    sim = node()
    policy = policy_with(actions={**CONTRACT_POLICY["actions"],
                                  "power_cap": [{"action": "fan_boost", "speed_percent": 100},
                                                {"action": "power_cap", "fraction_of_default": 0.7}]})
    state_dir = tmp_path / "state"
    first = start_receiver(policy=policy, env=sim.env, state_dir=state_dir)
    cap = alert(uuid=uuid_of(sim, 0), action="power_cap", alertname="GPUTemperatureCriticalPredicted")
    assert first.post(notification(cap)).status_code == 200
    first.wait_decisions(action="power_cap", result="applied")
    first.wait_decisions(action="fan_boost", result="applied")
    first.process.kill()
    first.process.wait()
    saved = (state_dir / "state.json").read_bytes()
    (state_dir / "state.json").write_bytes(saved[: len(saved) // 2])
    assert sim.status()["gpus"][0]["power_limit_w"] == 575.0 * 0.7

    second = start_receiver(policy=policy, env=sim.env, state_dir=state_dir)
    second.wait_decisions(action="power_restore", result="restored")
    [aside] = [e for e in second.audit() if e["event"] == "state_set_aside"]
    assert "is unreadable" in aside["detail"] and "set aside as state.json.corrupt-" in aside["detail"]
    gpu0 = sim.status()["gpus"][0]
    assert gpu0["power_limit_w"] == 575.0
    wait_for(lambda: not any(fan["manual"] for fan in sim.status()["gpus"][0]["fans"]),
             what="GPU 0's fans back on automatic")
    assert list(state_dir.glob("state.json.corrupt-*"))
    assert health(second) == (200, "OK")


def test_a_heartbeat_saved_before_a_clock_step_does_not_hold_the_failsafe_off(node, start_receiver,
                                                                             tmp_path: Path) -> None:
    sim = node()
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    future = {"version": 1, "overrides": {}, "kills": {}, "last_heartbeat": 4_000_000_000.0}
    (state_dir / "state.json").write_text(json.dumps(future))
    policy = policy_with(heartbeat={"alertname": "Watchdog", "timeout_seconds": 1})
    receiver = start_receiver(policy=policy, env=sim.env, state_dir=state_dir)
    wait_for(lambda: [e for e in receiver.audit() if e["event"] == "failsafe_engaged"], timeout=15,
             what="the failsafe to engage one heartbeat timeout after start")
