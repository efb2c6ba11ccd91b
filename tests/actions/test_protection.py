"""Protected processes are matched on what their owner cannot set (issue 14 item 4): the real
executable (/proc/PID/exe) and, for the deprecated `process_names`, only files no user but root
could have placed. `exec -a dcgm-exporter job` and a renamed comm are jobs, and are killed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.actions.helpers import CONTRACT_POLICY, alert, alive, notification, policy_with, wait_for

KILL = {**CONTRACT_POLICY["actions"], "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]}
SLEEP = shutil.which("sleep") or "/bin/sleep"
RENAMES_ITS_COMM = [sys.executable, "-c",
                    "import time\nopen('/proc/self/comm', 'w').write('dcgm-exporter')\ntime.sleep(600)"]


def spoofers(sim, tmp_path: Path) -> dict[str, int]:
    copy = tmp_path / "dcgm-exporter"  # a user's own copy, named like the protected exporter
    shutil.copy(SLEEP, copy)
    return {
        "exec -a": sim.start_workload(0, watts=100.0,
                                      cmd=["bash", "-c", f"exec -a dcgm-exporter {SLEEP} 600"]).pid,
        "comm": sim.start_workload(0, watts=100.0, cmd=RENAMES_ITS_COMM).pid,
        "copy in /tmp": sim.start_workload(0, watts=100.0, cmd=[str(copy), "600"]).pid,
    }


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_spoofed_names_are_killed_by_an_alert(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    pids = spoofers(sim, tmp_path)
    wait_for(lambda: comm(pids["comm"]) == "dcgm-exporter", what="the workload renaming itself")
    # A root-owned binary in a root-only folder stands in for a genuine protected daemon.
    trusted = Path(shutil.which("tail") or "/usr/bin/tail").resolve()
    genuine = sim.start_workload(0, watts=50.0, cmd=[str(trusted), "-f", "/dev/null"]).pid
    policy = policy_with(actions=KILL, protected={
        "executables": ["/usr/bin/dcgm-exporter", str(trusted)],
        "process_names": ["dcgm-exporter", "python3"]})
    receiver = start_receiver(policy=policy, env=sim.env)
    uuid0 = sim.status()["gpus"][0]["uuid"]
    assert receiver.post(notification(alert(uuid=uuid0, action="kill_workloads"))).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert sorted(done["terminated"] + done["killed"]) == sorted(pids.values())
    assert not any(alive(pid) for pid in pids.values())
    # The real executable is what protects: the genuine one is spared.
    assert alive(genuine)
    [refused] = receiver.decisions(result="protected")
    assert refused["pid"] == genuine and refused["reason"] == f"executable {trusted}"


def test_spoofed_names_are_killed_by_the_failsafe(node, start_receiver, tmp_path: Path) -> None:
    sim = node()
    policy = policy_with(
        actions=KILL, heartbeat={"alertname": "Watchdog", "timeout_seconds": 1},
        failsafe={**CONTRACT_POLICY["failsafe"], "critical_celsius": 20, "warning_celsius": 15,
                  "grace_seconds": 1},
        protected={"executables": ["/usr/bin/dcgm-exporter"], "process_names": ["dcgm-exporter"]})
    receiver = start_receiver(policy=policy, env=sim.env)
    pids = spoofers(sim, tmp_path)
    for pid in pids.values():
        wait_for(lambda p=pid: not alive(p), timeout=30, what=f"the failsafe killing spoofer {pid}")
    assert not receiver.decisions(result="protected")
