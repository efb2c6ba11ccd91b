"""The simulator's Python API for tests and the demo (docs/contracts.md); never for production code."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuguard.simulator.native import NodeHandle, SimError
from gpuguard.simulator.runtime import create_node, kill_leftovers, node_env, read_records


@dataclass
class Workload:
    """A running `gpuguard sim workload`: `pid` is what NVML reports, `process` the supervisor."""

    pid: int
    process: subprocess.Popen


class SimNode:
    """One simulated node; a context manager that kills leftover workloads and removes its folder."""

    def __init__(self, handle: NodeHandle, state_dir: Path, owns_dir: bool) -> None:
        self._handle = handle
        self.state_dir = state_dir
        self._owns_dir = owns_dir
        self.env: dict[str, str] = node_env(state_dir)
        self._workloads: list[Workload] = []

    @classmethod
    def create(cls, profile: str = "seed", state_dir: str | os.PathLike[str] | None = None,
               speed: float = 1.0, latency: str = "none", latency_mode: str = "sleep") -> SimNode:
        owns_dir = state_dir is None
        folder = Path(tempfile.mkdtemp(prefix="gpuguard-sim-")) if owns_dir else Path(state_dir)  # type: ignore[arg-type]
        # A test's tmp_path may hold other files: the node gets a folder of its own inside it.
        if not owns_dir and (folder / "node.state").exists():
            raise SimError(f"{folder} already holds a node")
        handle = create_node(folder, profile, speed, latency, latency_mode)
        return cls(handle, folder, owns_dir)

    def __enter__(self) -> SimNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is None:
            return
        kill_leftovers(self._handle)
        for workload in self._workloads:
            with contextlib.suppress(subprocess.TimeoutExpired):
                workload.process.wait(timeout=5)
        self._handle.close()
        self._handle = None  # type: ignore[assignment]
        if self._owns_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- reading --
    def status(self) -> dict[str, Any]:
        return self._handle.status()

    def calls(self) -> dict[str, int]:
        return self._handle.calls()

    def setters(self) -> list[dict[str, Any]]:
        return read_records(self.state_dir, "setters.jsonl")

    def events(self) -> list[dict[str, Any]]:
        return read_records(self.state_dir, "events.jsonl")

    # -- scenario and faults --
    def set(self, gpu: int, ambient: float | None = None, fan_failure: bool | None = None) -> None:
        if ambient is not None:
            self._handle.set_ambient(gpu, ambient)
        if fan_failure is not None:
            self._handle.set_fan_failure(gpu, fan_failure)

    def fault(self, gpu: int, lost: bool | None = None, hang_ms: int | None = None,
              not_supported: list[str] | None = None, xid: int | None = None, clear: bool = False) -> None:
        if clear:
            self._handle.fault_clear(gpu)
        if lost is not None:
            self._handle.fault_lost(gpu, lost)
        if hang_ms is not None:
            self._handle.fault_hang(gpu, hang_ms)
        for function in not_supported or []:
            self._handle.fault_not_supported(gpu, function)
        if xid is not None:
            self._handle.fault_xid(gpu, xid)

    def driver_reload(self) -> None:
        self._handle.driver_reload()

    # -- workloads --
    def start_workload(self, gpu: int, watts: float | None = None, memory_mib: int = 1024,
                       cmd: list[str] | None = None, gpu_instance: int | None = None) -> Workload:
        """Start `gpuguard sim workload` and return once NVML lists its process (PID read from line 1);
        with `gpu_instance`, on that MIG GPU instance of the GPU."""
        args = [sys.executable, "-m", "gpuguard.cli", "sim", "workload", "--gpu", str(gpu),
                "--memory-mib", str(memory_mib)]
        if gpu_instance is not None:
            args += ["--gpu-instance", str(gpu_instance)]
        if watts is not None:
            args += ["--watts", str(watts)]
        if cmd:
            args += ["--", *cmd]
        log = self.state_dir / f"workload-{len(self._workloads)}.log"
        with open(log, "wb") as stderr:
            process = subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            process.wait(timeout=10)
            raise SimError(f"sim workload failed to start: {log.read_text().strip() or line!r}")
        workload = Workload(pid=int(line), process=process)
        self._workloads.append(workload)
        return workload
