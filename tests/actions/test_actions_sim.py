"""The receiver acting on a simulated GPU node: real pynvml over the simulated driver, real workload
processes that really get killed, real HTTP. Values are the seed profile's (DESIGN.md): GPU 0 is an
RTX 5090 (575 W), GPU 1 an RTX PRO 6000 (600 W), both with fans."""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.actions.helpers import (
    CONTRACT_POLICY,
    alert,
    alive,
    exit_code,
    heartbeat,
    notification,
    policy_with,
    read_back,
    wait_for,
)

IGNORES_SIGTERM = [sys.executable, "-c",
                   "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)"]


def gpu_uuids(node: Any) -> list[str]:
    return [gpu["uuid"] for gpu in node.status()["gpus"]]


def test_fan_boost_then_restore(node, start_receiver) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    before = read_back(sim.env)[0]
    receiver = start_receiver(env=sim.env)
    firing = alert(uuid=uuid0, action="fan_boost")
    assert receiver.post(notification(firing)).status_code == 200
    receiver.wait_decisions(action="fan_boost", result="applied")
    boosted = read_back(sim.env)[0]
    assert boosted["fan_targets"] and all(target == 100 for target in boosted["fan_targets"])
    assert all(fan["manual"] for fan in sim.status()["gpus"][0]["fans"])
    assert receiver.metric('gpuguard_actions_overrides_active{action="fan_boost"}') == 1.0

    assert receiver.post(notification({**firing, "status": "resolved"})).status_code == 200
    receiver.wait_decisions(action="fan_restore", result="restored")
    assert not any(fan["manual"] for fan in sim.status()["gpus"][0]["fans"])
    assert read_back(sim.env)[0]["fan_policies"] == before["fan_policies"]
    calls = [s["call"] for s in sim.setters()]
    assert calls.count("nvmlDeviceSetFanSpeed_v2") == len(boosted["fan_targets"])
    assert calls.count("nvmlDeviceSetDefaultFanSpeed_v2") == len(boosted["fan_targets"])
    assert receiver.metric('gpuguard_actions_overrides_active{action="fan_boost"}') == 0.0


def test_power_cap_then_restore(node, start_receiver) -> None:
    sim = node()
    uuid0, uuid1 = gpu_uuids(sim)
    policy = policy_with(actions={**CONTRACT_POLICY["actions"],
                                  "power_cap": [{"action": "power_cap", "watts": 450}]})
    receiver = start_receiver(policy=policy, env=sim.env)
    firing = alert(uuid=uuid0, action="power_cap")
    assert receiver.post(notification(firing)).status_code == 200
    receiver.wait_decisions(action="power_cap", result="applied")
    capped = read_back(sim.env)
    assert capped[0]["power_limit_mw"] == 450_000
    assert capped[1]["power_limit_mw"] == 600_000  # the other GPU is untouched

    assert receiver.post(notification({**firing, "status": "resolved"})).status_code == 200
    receiver.wait_decisions(action="power_restore", result="restored")
    assert read_back(sim.env)[0]["power_limit_mw"] == 575_000


def test_kill_spares_protected_and_other_gpu(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    guarded = tmp_path / "guarded-job"
    shutil.copy(shutil.which("sleep"), guarded)
    stubborn = sim.start_workload(0, watts=200.0, cmd=IGNORES_SIGTERM)
    polite = sim.start_workload(0, watts=200.0)
    protected = sim.start_workload(0, watts=50.0, cmd=[str(guarded), "600"])
    elsewhere = sim.start_workload(1, watts=300.0)
    policy = policy_with(
        actions={**CONTRACT_POLICY["actions"],
                 "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]},
        protected={"executables": [str(guarded)]})
    receiver = start_receiver(policy=policy, env=sim.env)
    assert receiver.post(notification(alert(uuid=uuid0, action="kill_workloads"))).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert sorted(done["terminated"]) == [polite.pid]
    assert done["killed"] == [stubborn.pid] and done["survivors"] == []
    wait_for(lambda: exit_code(sim, stubborn.pid) is not None, what="the stubborn workload's exit record")
    assert exit_code(sim, stubborn.pid) == -9
    assert exit_code(sim, polite.pid) == -15
    assert alive(protected.pid) and alive(elsewhere.pid)
    refused = receiver.decisions(result="protected")
    assert [d["pid"] for d in refused] == [protected.pid]


def test_ten_concurrent_duplicates_one_kill_sequence(node, start_receiver) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    stubborn = sim.start_workload(0, watts=300.0, cmd=IGNORES_SIGTERM)
    policy = policy_with(actions={**CONTRACT_POLICY["actions"], "kill_workloads": [
        {"action": "fan_boost", "speed_percent": 100, "no_fans": "power_cap"},
        {"action": "kill_workloads", "grace_seconds": 3}]})
    receiver = start_receiver(policy=policy, env=sim.env)
    body = notification(alert(uuid=uuid0, action="kill_workloads", fingerprint="crit-0"))
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: receiver.post(body).status_code, range(10)))
    still_alive = alive(stubborn.pid)
    assert answers == [200] * 10
    assert still_alive, "the work must not run while Alertmanager waits"
    receiver.wait_decisions(action="kill_workloads", result="killed")
    assert exit_code(sim, stubborn.pid) == -9
    starts = [e for e in receiver.audit() if e["event"] == "kill_started"]
    assert len(starts) == 1 and starts[0]["pids"] == [stubborn.pid]
    assert len(receiver.decisions(action="kill_workloads", result="duplicate")) == 9
    assert len(receiver.decisions(action="fan_boost", result="applied")) == 1
    assert len(receiver.decisions(action="fan_boost", result="duplicate")) == 9
    fans = len(sim.status()["gpus"][0]["fans"])
    assert [s["call"] for s in sim.setters()].count("nvmlDeviceSetFanSpeed_v2") == fans
    assert receiver.metric('gpuguard_actions_total{action="kill_workloads",result="duplicate"}') == 9.0


def test_restart_mid_incident_then_resolve_restores(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    state = tmp_path / "receiver-state"
    first = start_receiver(env=sim.env, state_dir=state)
    firing = alert(uuid=uuid0, action="fan_boost")
    assert first.post(notification(firing)).status_code == 200
    first.wait_decisions(action="fan_boost", result="applied")
    first.process.terminate()
    assert first.process.wait(10) == 0
    assert all(fan["manual"] for fan in sim.status()["gpus"][0]["fans"])  # left in force across restart

    second = start_receiver(env=sim.env, state_dir=state)
    assert second.post(notification({**firing, "status": "resolved"})).status_code == 200
    second.wait_decisions(action="fan_restore", result="restored")
    assert not any(fan["manual"] for fan in sim.status()["gpus"][0]["fans"])


def test_lost_resolve_is_restored_at_lease_end(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    state = tmp_path / "receiver-state"
    policy = policy_with(lease_seconds=3, actions={**CONTRACT_POLICY["actions"],
                                                   "power_cap": [{"action": "power_cap", "watts": 450}]})
    first = start_receiver(policy=policy, env=sim.env, state_dir=state)
    assert first.post(notification(alert(uuid=uuid0, action="power_cap"))).status_code == 200
    first.wait_decisions(action="power_cap", result="applied")
    first.process.terminate()
    first.process.wait(10)
    assert read_back(sim.env)[0]["power_limit_mw"] == 450_000

    second = start_receiver(policy=policy, env=sim.env, state_dir=state)  # the resolve never comes
    restored = second.wait_decisions(action="power_restore", result="restored", timeout=30)[0]
    assert restored["reason"] == "lease_expired"
    assert read_back(sim.env)[0]["power_limit_mw"] == 575_000


def test_failsafe_engages_kills_and_stands_down(node, start_receiver) -> None:
    sim = node(speed=20.0)
    uuid0, uuid1 = gpu_uuids(sim)
    hot = sim.start_workload(0, watts=575.0)
    cool = sim.start_workload(1, watts=100.0)
    policy = policy_with(heartbeat={"timeout_seconds": 2},
                         failsafe={"poll_interval_seconds": 0.2, "grace_seconds": 1})
    receiver = start_receiver(policy=policy, env=sim.env)
    assert receiver.post(notification(heartbeat())).status_code == 200
    wait_for(lambda: receiver.metric("gpuguard_actions_failsafe_active") == 1.0, timeout=30,
             what="the failsafe to engage after the heartbeat stops")
    sim.set(0, ambient=60.0, fan_failure=True)
    done = receiver.wait_decisions(action="kill_workloads", result="killed", timeout=120)[0]
    assert done["source"] == "failsafe" and done["uuid"] == uuid0
    assert done["terminated"] + done["killed"] == [hot.pid]
    assert alive(cool.pid)
    celsius = [e for e in sim.events() if e.get("event") == "temperature_up" and e.get("gpu") == 0]
    assert max(e["celsius"] for e in celsius) >= 75

    assert receiver.post(notification(heartbeat())).status_code == 200
    wait_for(lambda: receiver.metric("gpuguard_actions_failsafe_active") == 0.0, timeout=30,
             what="the failsafe to stand down")
    assert any(e["event"] == "failsafe_stood_down" for e in receiver.audit())
    receiver.wait_decisions(action="fan_restore", result="restored")


def test_dry_run_changes_nothing(node, start_receiver) -> None:
    sim = node()
    uuid0, uuid1 = gpu_uuids(sim)
    workload = sim.start_workload(0, watts=300.0)
    before = read_back(sim.env)
    setters_before = sim.setters()
    receiver = start_receiver(env=sim.env, extra=["--dry-run"])
    incident = [alert(uuid=uuid0, action="fan_boost", fingerprint="w"),
                alert(uuid=uuid0, action="power_cap", fingerprint="p"),
                alert(uuid=uuid0, action="kill_workloads", fingerprint="k")]
    assert receiver.post(notification(*incident)).status_code == 200
    receiver.wait_decisions(action="kill_workloads", result="dry_run")
    receiver.wait_decisions(action="power_cap", result="dry_run")
    resolved = [{**a, "status": "resolved"} for a in incident]
    assert receiver.post(notification(*resolved)).status_code == 200
    receiver.wait_decisions(action="fan_restore", result="dry_run")
    receiver.wait_decisions(action="power_restore", result="dry_run")
    would_kill = receiver.decisions(action="kill_workloads", result="dry_run")[0]
    assert would_kill["pids"] == [workload.pid]
    assert sim.setters() == setters_before
    assert read_back(sim.env) == before
    assert alive(workload.pid)
    assert not (receiver.state_dir / "state.json").exists()
    assert os.path.exists(receiver.audit_path)


def test_fanless_gpu_falls_back_to_power_cap(node, start_receiver) -> None:
    sim = node(profile="dgx-h100")
    uuid0 = gpu_uuids(sim)[0]
    receiver = start_receiver(env=sim.env)
    firing = alert(uuid=uuid0, action="fan_boost")
    assert receiver.post(notification(firing)).status_code == 200
    refused = receiver.wait_decisions(action="fan_boost", result="not_supported")[0]
    assert refused["fallback"] == "power_cap"
    receiver.wait_decisions(action="power_cap", result="applied")
    assert read_back(sim.env)[0]["power_limit_mw"] == 490_000  # 0.7 of the H100's 700 W
    assert receiver.post(notification({**firing, "status": "resolved"})).status_code == 200
    receiver.wait_decisions(action="power_restore", result="restored")
    assert read_back(sim.env)[0]["power_limit_mw"] == 700_000


def test_kills_per_minute_cap(node, start_receiver) -> None:
    sim = node()
    uuid0 = gpu_uuids(sim)[0]
    workloads = [sim.start_workload(0, watts=100.0) for _ in range(3)]
    policy = policy_with(limits={"kills_per_minute": 2}, actions={
        **CONTRACT_POLICY["actions"], "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]})
    receiver = start_receiver(policy=policy, env=sim.env)
    assert receiver.post(notification(alert(uuid=uuid0, action="kill_workloads"))).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    limited = receiver.decisions(action="kill_workloads", result="rate_limited")
    assert len(done["terminated"]) == 2 and len(limited) == 1
    assert sum(alive(w.pid) for w in workloads) == 1
