"""A recycled PID is never signalled: the kill path holds a pidfd, and a pidfd outlives its number.

Reuse is forced for real: inside a fresh PID namespace (`unshare --pid --fork --mount-proc`, as root)
nothing else creates processes, so writing `ns_last_pid` makes the next fork take the victim's number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

SCENARIO = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    from gpuguard.actions import kill

    def spawn(*args):
        return subprocess.Popen(args)

    def pid_exists(pid):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    # 1. The workload the receiver decided to kill: it ignores SIGTERM.
    victim = spawn(sys.executable, "-c",
                   "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)")
    pid = victim.pid
    target = kill.open_target(pid)
    assert target is not None

    # 2. It exits on its own (and is reaped) before the receiver's SIGKILL...
    victim.kill(); victim.wait()

    # 3. ...and an innocent process is given the very same PID.
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    innocent = spawn("sleep", "600")
    reused = innocent.pid == pid

    # 4. The kill sequence runs on the pidfd it opened in step 1.
    outcome = kill.terminate([target], grace_seconds=0.2, kill_wait_seconds=0.5)
    kill.close([target])
    innocent_alive = innocent.poll() is None and pid_exists(pid)

    # 5. Control: a pidfd opened on the innocent does reach it (the mechanism is not simply inert).
    fresh = kill.open_target(innocent.pid)
    control = kill.terminate([fresh], grace_seconds=5.0)
    kill.close([fresh])
    innocent.wait(5)
    print(json.dumps({"pid": pid, "reused": reused, "innocent_alive_after": innocent_alive,
                      "outcome": outcome.__dict__, "control": control.__dict__,
                      "innocent_rc": innocent.returncode}))
""")


def test_recycled_pid_is_never_signalled() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private PID namespace")
    result = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", SCENARIO],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 and "unshare failed" in result.stderr:
        pytest.skip(f"PID namespaces unavailable here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["reused"], f"the PID was not recycled: {report}"
    assert report["innocent_alive_after"] is True
    # the pidfd's process was already gone: nothing was terminated or killed through it
    assert report["outcome"] == {"terminated": [report["pid"]], "killed": [], "survivors": []}
    assert report["control"]["terminated"] == [report["pid"]]
    assert report["innocent_rc"] == -15  # SIGTERM, sent through the fresh pidfd
