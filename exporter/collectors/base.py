"""What every collector gets: a per-GPU reader that turns NVML errors into absent values, and an
output that renders samples straight into exposition lines for the GPU's labels.

A collector is a module with `FIELDS` (the series names it can supply), optionally `FIELD_IDS`
(DCGM name -> NVML field id, fetched for it in one `nvmlDeviceGetFieldValues` batch per cycle) and
`collect(gpu: GpuReader, out: Output) -> None`. A value NVML cannot supply is simply not added:
an unsupported value is absent, never 0.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pynvml

from gpuguard import nvml
from gpuguard.nvml import Gpu

log = logging.getLogger("gpuguard.exporter")

# Errors that say the driver, not this GPU, is gone: the engine re-initialises NVML.
DRIVER_GONE = frozenset({"UNINITIALIZED", "DRIVER_NOT_LOADED", "LIB_RM_VERSION_MISMATCH", "RESET_REQUIRED"})
# Errors that say this GPU cannot supply the value at all: ask once, then never again.
UNSUPPORTED = frozenset({"NOT_SUPPORTED", "FUNCTION_NOT_FOUND", "NOT_FOUND"})


class DriverGone(Exception):
    """NVML answered as if it was not initialised (driver reload): re-initialise."""


class GpuLost(Exception):
    """NVML says this GPU fell off the bus."""


class ErrorCounts:
    """gpuguard_exporter_nvml_errors_total{call,code}, shared by every worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, call: str, code: str) -> None:
        with self._lock:
            self.counts[(call, code)] = self.counts.get((call, code), 0) + 1

    def snapshot(self) -> list[tuple[tuple[str, str], int]]:
        with self._lock:
            return sorted(self.counts.items())


class _LogOnce:
    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def __call__(self, key: tuple[str, ...], message: str, *args: Any) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        log.info(message, *args)


log_once = _LogOnce()


class GpuReader:
    """NVML reads for one GPU. Lives as long as its NVML session; remembers what is unsupported."""

    def __init__(self, gpu: Gpu, errors: ErrorCounts, mig_enabled: bool) -> None:
        self.gpu = gpu
        self.handle = gpu.handle
        self.errors = errors
        self.mig_enabled = mig_enabled
        self.unsupported: set[str] = set()
        self.cache: dict[str, Any] = {}  # values that never change while the driver stays loaded
        self.field_values: dict[int, float | int] = {}
        self.field_ids: list[int] = []
        self.xid_log: Any = None  # collectors.xid.XidLog, shared by every GPU
        self.process_cadence: Any = None  # collectors.processes.Cadence; None: every cycle

    def read(self, fn: Callable[..., Any], *args: Any, key: str | None = None) -> Any:
        """`fn(*args)`, or None when NVML cannot answer it (counted; unsupported ones asked once)."""
        call = fn.__name__
        key = key or call
        if key in self.unsupported:
            return None
        try:
            return fn(*args)
        except pynvml.NVMLError as error:
            code = nvml.error_name(error)
            self.errors.add(call, code)
            if code in UNSUPPORTED:
                self.unsupported.add(key)
                log_once(("unsupported", self.gpu.uuid, key), "GPU %d: %s not supported (%s); left out",
                         self.gpu.index, key, code)
                return None
            if code in DRIVER_GONE:
                raise DriverGone(code) from error
            if code == "GPU_IS_LOST":
                raise GpuLost(call) from error
            return None

    def cached(self, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        """A read that is made once per NVML session (thresholds, fan count, MIG profile names)."""
        if key not in self.cache:
            value = self.read(fn, *args, key=key)
            if value is None and key not in self.unsupported:
                return None  # a transient error: try again next cycle
            self.cache[key] = value
        return self.cache[key]

    def fetch_field_values(self) -> None:
        """One `nvmlDeviceGetFieldValues` for every field id the enabled collectors asked for."""
        self.field_values = {}
        if not self.field_ids or "nvmlDeviceGetFieldValues" in self.unsupported:
            return
        values = self.read(pynvml.nvmlDeviceGetFieldValues, self.handle, self.field_ids)
        if values is None:
            return
        dropped = []
        for value in values:
            if value.nvmlReturn == pynvml.NVML_SUCCESS:
                self.field_values[value.fieldId] = _field_value(value)
            elif nvml.error_name(pynvml.NVMLError(value.nvmlReturn)) in UNSUPPORTED:
                dropped.append(value.fieldId)
        if dropped:
            # The field's direct fallback (if any) takes over from the next cycle.
            self.field_ids = [fi for fi in self.field_ids if fi not in dropped]
            for fi in dropped:
                self.unsupported.add(f"field:{fi}")

    def field(self, fi: int, fallback: Callable[[], Any] | None = None) -> Any:
        """The batched value of field `fi`; its direct `fallback` read when the batch lacks it."""
        if fi in self.field_values:
            return self.field_values[fi]
        if fallback is None:
            return None
        batched = fi in self.field_ids and "nvmlDeviceGetFieldValues" not in self.unsupported
        return None if batched else fallback()


_VALUE_MEMBERS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def _field_value(value: Any) -> float | int:
    member = _VALUE_MEMBERS.get(value.valueType, "ullVal")
    return getattr(value.value, member)


def text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def fresh_uint() -> ctypes.c_uint:
    # pynvml's nvmlDeviceGetFanControlPolicy_v2 has a mutable default argument; never share it.
    return ctypes.c_uint()


class Output:
    """Exposition lines for one target (a GPU or a MIG instance), grouped by series name."""

    def __init__(self, labels: str, wanted: frozenset[str]) -> None:
        self.labels = labels
        self.wanted = wanted
        self.lines: dict[str, list[str]] = {}

    def wants(self, name: str) -> bool:
        return name in self.wanted

    def add(self, name: str, value: float | int | None, extra: Iterable[tuple[str, str]] = ()) -> None:
        if value is None or name not in self.wanted:
            return
        extra_text = "".join(f',{key}="{escape(val)}"' for key, val in sorted(extra))
        self.lines.setdefault(name, []).append(f"{name}{{{self.labels}{extra_text}}} {format_value(value)}\n")


def escape(value: str) -> str:
    """A label value as the text exposition format quotes it."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "NaN"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
