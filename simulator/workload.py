"""`gpuguard sim workload`: run a real process that NVML lists as a compute process on one GPU.

The reported process is always our child, so its exit is known exactly: we wait for it and record
`workload_exit` with its return code at that instant. If this supervisor itself dies, the child gets
SIGKILL (PR_SET_PDEATHSIG) and the driver's liveness check at access time removes the load.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from gpuguard.simulator.native import NodeHandle, SimError

PR_SET_PDEATHSIG = 1
# The built-in workload: a process that does nothing until it is killed.
IDLE_LOOP = [sys.executable, "-c", "import signal\nwhile True:\n    signal.pause()"]


def _die_with_parent(parent: int) -> None:
    """In the child before exec: die with the supervisor (survives exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _gated(argv: list[str], gate: int) -> list[str]:
    """CMD behind a shell shim (same PID, `exec`) that waits until the supervisor has registered it and
    printed its PID, so that the PID is the first line of stdout even if CMD writes at once."""
    script = f'read -r _ <&{gate}; exec {gate}<&-; exec "$@"'
    return ["/bin/sh", "-c", script, "gpuguard-sim-workload", *argv]


def check_gpu_instance(gpu_status: dict[str, Any], gpu_instance: int) -> None:
    """Refuse a GPU instance the GPU does not have, naming the ones it has."""
    instances = sorted({m["gpu_instance_id"] for m in gpu_status["mig"]})
    if not instances:
        raise SimError(f"--gpu-instance {gpu_instance}: GPU {gpu_status['index']} is not in MIG mode "
                       "(it has no GPU instances)")
    if gpu_instance not in instances:
        raise SimError(f"--gpu-instance {gpu_instance}: GPU {gpu_status['index']} has no such MIG GPU "
                       f"instance (it has {', '.join(map(str, instances))})")


def run_workload(node: NodeHandle, gpu: int, watts: float | None, memory_mib: int,
                 command: Sequence[str], gpu_instance: int | None = None) -> int:
    status = node.status()
    gpus = status["gpus"]
    if not 0 <= gpu < len(gpus):
        raise SimError(f"no GPU {gpu} on this node (it has {len(gpus)}: 0..{len(gpus) - 1})")
    if gpu_instance is not None:
        check_gpu_instance(gpus[gpu], gpu_instance)
    if watts is None:
        watts = float(gpus[gpu]["default_power_limit_w"])
    if watts < 0:
        raise SimError("--watts must not be negative")
    if memory_mib < 0:
        raise SimError("--memory-mib must not be negative")
    argv = list(command) or IDLE_LOOP
    if shutil.which(argv[0]) is None:
        raise SimError(f"cannot start {argv[0]!r}: command not found")
    gate_read, gate_write = os.pipe()
    parent = os.getpid()
    try:
        child = subprocess.Popen(
            _gated(argv, gate_read), pass_fds=(gate_read,), preexec_fn=lambda: _die_with_parent(parent)
        )
    finally:
        os.close(gate_read)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        node.register_workload(gpu, child.pid, os.getpid(), watts, memory_mib, gpu_instance)
    except SimError:
        child.kill()
        child.wait()
        os.close(gate_write)
        raise
    print(child.pid, flush=True)
    os.write(gate_write, b"x")
    os.close(gate_write)
    returncode = child.wait()
    node.workload_exit(child.pid, returncode)
    return returncode if returncode >= 0 else 128 - returncode
