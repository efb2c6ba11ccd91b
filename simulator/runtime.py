"""Creating a node from a profile, the environment a child needs to see it, and tear-down."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gpuguard.simulator.native import NodeHandle, SimError, driver_dir, proc_start_ticks
from gpuguard.simulator.profiles import load_profile

STATE_ENV = "GPUGUARD_SIM_STATE"
LATENCIES = ("none", "realistic")
LATENCY_MODES = ("sleep", "busy")


def create_node(state_dir: Path, profile_name: str = "seed", speed: float = 1.0, latency: str = "none",
                latency_mode: str = "sleep") -> NodeHandle:
    """A fresh node in `state_dir` (which must not hold one yet), its clock started."""
    if not speed > 0:
        raise SimError(f"--speed must be a positive number, not {speed}")
    if latency not in LATENCIES:
        raise SimError(f"--latency must be one of {', '.join(LATENCIES)}, not {latency!r}")
    if latency_mode not in LATENCY_MODES:
        raise SimError(f"--latency-mode must be one of {', '.join(LATENCY_MODES)}, not {latency_mode!r}")
    profile = load_profile(profile_name)
    state_dir.mkdir(parents=True, exist_ok=True)
    node = NodeHandle.create(
        state_dir, profile.name, speed, latency == "realistic", latency_mode == "busy", len(profile.gpus),
        profile.driver_version, profile.nvml_version, profile.cuda_driver_version,
    )
    try:
        for index, gpu in enumerate(profile.gpus):
            for key, value in gpu.items():
                if key == "mig":
                    for mig_index, instance in enumerate(value):
                        node.config_mig(index, mig_index, instance)
                else:
                    node.config(index, key, value)
        node.commit(profile.ambient_c)
    except SimError:
        node.close()
        raise
    return node


def node_env(state_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) plus what a child needs to load the simulated driver and `gpuguard`."""
    env = dict(os.environ if base is None else base)
    env[STATE_ENV] = str(state_dir)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(driver_dir()), env.get("LD_LIBRARY_PATH")]))
    bin_dir = str(Path(sys.argv[0]).resolve().parent) if Path(sys.argv[0]).name == "gpuguard" else str(
        Path(sys.executable).parent
    )
    env["PATH"] = os.pathsep.join(filter(None, [bin_dir, env.get("PATH")]))
    return env


def state_dir_from(explicit: str | None) -> Path:
    value = explicit or os.environ.get(STATE_ENV)
    if not value:
        raise SimError(
            f"no simulated node: run inside `gpuguard sim exec`/`sim node`, set {STATE_ENV} or pass --state"
        )
    return Path(value)


def kill_leftovers(node: NodeHandle, grace_s: float = 2.0) -> None:
    """SIGTERM every live workload and its supervisor (PID reuse ruled out by start time), then SIGKILL."""
    targets = [
        (pid, ticks) for pid, ticks in node.workload_pids() if ticks and proc_start_ticks(pid) == ticks
    ]
    for pid, _ in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(proc_start_ticks(pid) == ticks for pid, ticks in targets):
        time.sleep(0.02)
    for pid, ticks in targets:
        if proc_start_ticks(pid) == ticks:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def read_records(state_dir: Path, name: str) -> list[dict[str, Any]]:
    """A JSON-lines record of the node (`setters.jsonl`, `events.jsonl`); empty until written."""
    path = state_dir / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
