"""ctypes binding of libgpuguard_sim.so, the simulator's control API (simulator/src/control.c).

The CLI and the test API drive the node through it; production code never imports this module
(it meets the simulator only through libnvidia-ml.so.1).
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
from pathlib import Path
from typing import Any

# Where `make driver` puts the libraries; GPUGUARD_SIM_DRIVER_DIR points elsewhere (the ASan build).
DEFAULT_DRIVER_DIR = Path(__file__).resolve().parent / "build"
CONTROL_LIBRARY = "libgpuguard_sim.so"
DRIVER_LIBRARY = "libnvidia-ml.so.1"
# What NVML reports as gpuInstanceId/computeInstanceId of a process on no MIG instance.
NO_INSTANCE = 0xFFFFFFFF


class SimError(Exception):
    """A problem the user can fix (bad profile, no node, bad GPU index): one line, no traceback."""


def driver_dir() -> Path:
    """The folder holding the simulated libnvidia-ml.so.1 (what LD_LIBRARY_PATH gets)."""
    folder = Path(os.environ.get("GPUGUARD_SIM_DRIVER_DIR") or DEFAULT_DRIVER_DIR).resolve()
    if not (folder / DRIVER_LIBRARY).is_file() or not (folder / CONTROL_LIBRARY).is_file():
        raise SimError(f"simulated driver not built in {folder}: run `make driver`")
    return folder


@functools.cache
def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(driver_dir() / CONTROL_LIBRARY))
    vp, c_int, c_uint, c_double = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_double
    c_str, c_ull, c_size = ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_size_t
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "ggsim_create": (vp, [c_str, c_str, c_double, c_int, c_int, c_uint, c_str, c_str, c_int,
                              ctypes.POINTER(c_int)]),
        "ggsim_open": (vp, [c_str, ctypes.POINTER(c_int)]),
        "ggsim_close": (None, [vp]),
        "ggsim_config_num": (c_int, [vp, c_int, c_str, c_double]),
        "ggsim_config_str": (c_int, [vp, c_int, c_str, c_str]),
        "ggsim_config_mig": (c_int, [vp, c_int, c_uint, c_uint, c_uint, c_uint, c_uint, c_ull, c_str, c_str]),
        "ggsim_commit": (c_int, [vp, c_double]),
        "ggsim_set_ambient": (c_int, [vp, c_int, c_double]),
        "ggsim_set_fan_failure": (c_int, [vp, c_int, c_int]),
        "ggsim_fault_lost": (c_int, [vp, c_int, c_int]),
        "ggsim_fault_hang": (c_int, [vp, c_int, c_int]),
        "ggsim_fault_not_supported": (c_int, [vp, c_int, c_str]),
        "ggsim_fault_clear": (c_int, [vp, c_int]),
        "ggsim_fault_xid": (c_int, [vp, c_int, c_ull]),
        "ggsim_driver_reload": (c_int, [vp]),
        "ggsim_proc_start_ticks": (c_ull, [c_int]),
        "ggsim_workload_register": (c_int, [vp, c_int, c_int, c_ull, c_int, c_ull, c_double, c_ull, c_uint]),
        "ggsim_workload_exit": (c_int, [vp, c_int, c_int]),
        "ggsim_workload_pids": (c_int, [vp, ctypes.POINTER(c_int), ctypes.POINTER(c_ull), c_int]),
        "ggsim_status_json": (c_size, [vp, ctypes.c_char_p, c_size]),
        "ggsim_calls_json": (c_size, [vp, ctypes.c_char_p, c_size]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def proc_start_ticks(pid: int) -> int:
    """Field 22 of /proc/PID/stat (0 when the process is gone or a zombie)."""
    return int(_library().ggsim_proc_start_ticks(pid))


class NodeHandle:
    """One mapped node. Every method is one short critical section in C."""

    def __init__(self, pointer: int, state_dir: Path) -> None:
        self._pointer = pointer
        self.state_dir = state_dir

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str]) -> NodeHandle:
        folder = Path(state_dir)
        err = ctypes.c_int(0)
        pointer = _library().ggsim_open(str(folder).encode(), ctypes.byref(err))
        if not pointer:
            reason = os.strerror(err.value) if err.value else "unknown error"
            raise SimError(f"no simulated node in {folder} ({reason})")
        return cls(pointer, folder)

    @classmethod
    def create(cls, state_dir: Path, profile: str, speed: float, latency: bool, latency_busy: bool,
               gpu_count: int, driver_version: str, nvml_version: str, cuda_version: int) -> NodeHandle:
        err = ctypes.c_int(0)
        pointer = _library().ggsim_create(
            str(state_dir).encode(), profile.encode(), speed, int(latency), int(latency_busy), gpu_count,
            driver_version.encode(), nvml_version.encode(), cuda_version, ctypes.byref(err),
        )
        if not pointer:
            reason = os.strerror(err.value) if err.value else "invalid profile"
            raise SimError(f"cannot create a node in {state_dir}: {reason}")
        return cls(pointer, state_dir)

    def close(self) -> None:
        if self._pointer:
            _library().ggsim_close(self._pointer)
            self._pointer = 0

    def _check(self, rc: int, what: str) -> None:
        if rc < 0:
            raise SimError(what)

    def config(self, gpu: int, key: str, value: Any) -> None:
        lib = _library()
        if isinstance(value, str):
            rc = lib.ggsim_config_str(self._pointer, gpu, key.encode(), value.encode())
        else:
            rc = lib.ggsim_config_num(self._pointer, gpu, key.encode(), float(value))
        self._check(rc, f"profile: GPU {gpu}: bad value for {key!r}: {value!r}")

    def config_mig(self, gpu: int, index: int, instance: dict[str, Any]) -> None:
        rc = _library().ggsim_config_mig(
            self._pointer, gpu, index, instance["gpu_instance_id"], instance["compute_instance_id"],
            instance["profile_id"], instance["slices"], instance["memory_mib"],
            instance["profile"].encode(), instance["uuid"].encode(),
        )
        self._check(rc, f"profile: GPU {gpu}: bad MIG instance {index}")

    def commit(self, ambient_c: float) -> None:
        _library().ggsim_commit(self._pointer, ambient_c)

    def set_ambient(self, gpu: int, celsius: float) -> None:
        self._check(_library().ggsim_set_ambient(self._pointer, gpu, celsius), f"no GPU {gpu}")

    def set_fan_failure(self, gpu: int, on: bool) -> None:
        self._check(_library().ggsim_set_fan_failure(self._pointer, gpu, int(on)), f"no GPU {gpu}")

    def fault_lost(self, gpu: int, on: bool) -> None:
        self._check(_library().ggsim_fault_lost(self._pointer, gpu, int(on)), f"no GPU {gpu}")

    def fault_hang(self, gpu: int, ms: int) -> None:
        self._check(_library().ggsim_fault_hang(self._pointer, gpu, ms), f"bad hang for GPU {gpu}: {ms} ms")

    def fault_not_supported(self, gpu: int, function: str) -> None:
        rc = _library().ggsim_fault_not_supported(self._pointer, gpu, function.encode())
        if rc == -2:
            raise SimError(f"GPU {gpu}: too many NOT_SUPPORTED faults (clear some first)")
        self._check(rc, f"bad NOT_SUPPORTED fault for GPU {gpu}: {function!r} (an nvml* function name)")

    def fault_clear(self, gpu: int) -> None:
        self._check(_library().ggsim_fault_clear(self._pointer, gpu), f"no GPU {gpu}")

    def fault_xid(self, gpu: int, code: int) -> None:
        self._check(_library().ggsim_fault_xid(self._pointer, gpu, code), f"no GPU {gpu}")

    def driver_reload(self) -> None:
        _library().ggsim_driver_reload(self._pointer)

    def register_workload(self, gpu: int, pid: int, supervisor_pid: int, watts: float,
                          memory_mib: int, gpu_instance: int | None = None) -> None:
        rc = _library().ggsim_workload_register(
            self._pointer, gpu, pid, proc_start_ticks(pid), supervisor_pid, proc_start_ticks(supervisor_pid),
            watts, memory_mib, NO_INSTANCE if gpu_instance is None else gpu_instance,
        )
        if rc == -2:
            raise SimError("too many workloads on this node")
        if rc == -3:
            raise SimError(f"GPU {gpu} is not in MIG mode: it has no GPU instances")
        if rc == -4:
            raise SimError(f"GPU {gpu} has no MIG GPU instance {gpu_instance}")
        self._check(rc, f"cannot register a workload on GPU {gpu}")

    def workload_exit(self, pid: int, returncode: int) -> None:
        _library().ggsim_workload_exit(self._pointer, pid, returncode)

    def workload_pids(self) -> list[tuple[int, int]]:
        """(pid, start ticks) of every live workload and its supervisor."""
        size = 1024
        pids = (ctypes.c_int * size)()
        ticks = (ctypes.c_ulonglong * size)()
        n = _library().ggsim_workload_pids(self._pointer, pids, ticks, size)
        return [(pids[i], ticks[i]) for i in range(n)]

    def _json(self, function: Any) -> Any:
        size = 1 << 16
        while True:
            buffer = ctypes.create_string_buffer(size)
            needed = function(self._pointer, buffer, size)
            if needed <= size:
                return json.loads(buffer.value.decode())
            size = needed

    def status(self) -> dict[str, Any]:
        return self._json(_library().ggsim_status_json)

    def calls(self) -> dict[str, int]:
        return self._json(_library().ggsim_calls_json)
