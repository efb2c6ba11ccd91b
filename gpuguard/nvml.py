"""What the exporter and the action receiver share about NVML: opening it and naming GPUs.

Both talk to the driver only through nvidia-ml-py (`pynvml`), which loads `libnvidia-ml.so.1` with
ctypes. On a machine without GPUs the simulated driver is found through `LD_LIBRARY_PATH`; nothing
here knows or cares which one it is.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from typing import Any

import pynvml

# pynvml's error classes are generated per code; this maps a code back to a stable short name
# ("NOT_SUPPORTED", "GPU_IS_LOST") for metric labels and audit records.
_ERROR_NAMES: dict[int, str] = {
    value: name.removeprefix("NVML_ERROR_")
    for name, value in vars(pynvml).items()
    if name.startswith("NVML_ERROR_") and isinstance(value, int)
}


class NvmlUnavailable(RuntimeError):
    """NVML could not be opened: no driver library, or the driver refused to initialise."""


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver names it. `handle` is only valid until NVML is shut down or reloaded."""

    index: int
    uuid: str
    pci_bus_id: str
    name: str
    minor_number: int
    handle: Any

    @property
    def device(self) -> str:
        """The device label dcgm-exporter uses: `nvidia<minor number>`."""
        return f"nvidia{self.minor_number}"


def error_name(error: BaseException) -> str:
    """A short, stable name for an NVML error ("NOT_SUPPORTED"), or the exception's type name."""
    if isinstance(error, pynvml.NVMLError):
        return _ERROR_NAMES.get(error.value, f"CODE_{error.value}")
    return type(error).__name__


def is_error(error: BaseException, *names: str) -> bool:
    """True when `error` is an NVML error with one of the given short names."""
    return isinstance(error, pynvml.NVMLError) and error_name(error) in names


def init() -> None:
    """Open NVML, raising NvmlUnavailable with the driver's own words when it cannot."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        raise NvmlUnavailable(f"NVML init failed: {error} ({error_name(error)})") from error


def shutdown() -> None:
    """Close NVML; a driver that is already gone is not an error here."""
    with contextlib.suppress(pynvml.NVMLError):
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def gpu_at(index: int) -> Gpu:
    """The GPU at driver index `index`."""
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    pci = pynvml.nvmlDeviceGetPciInfo(handle)
    try:
        minor = pynvml.nvmlDeviceGetMinorNumber(handle)
    except pynvml.NVMLError:
        minor = index
    return Gpu(
        index=index,
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        pci_bus_id=_text(pci.busId),
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        minor_number=minor,
        handle=handle,
    )


def list_gpus() -> list[Gpu]:
    """Every GPU the driver reports, in index order. NVML must be initialised."""
    return [gpu_at(index) for index in range(pynvml.nvmlDeviceGetCount())]


def driver_version() -> str:
    return _text(pynvml.nvmlSystemGetDriverVersion())


def node_name(explicit: str | None = None) -> str:
    """This node's name as alerts carry it: the flag, else `NODE_NAME`, else the hostname."""
    return explicit or os.environ.get("NODE_NAME") or socket.gethostname()
