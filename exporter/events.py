"""XID events: NVML pushes them through an event set, so one thread waits on it for every GPU."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from typing import Any

import pynvml

from gpuguard import nvml
from gpuguard.exporter.collectors.base import DRIVER_GONE, ErrorCounts, text
from gpuguard.exporter.collectors.xid import XidLog
from gpuguard.exporter.topology import GpuUnit

log = logging.getLogger("gpuguard.exporter")
WAIT_MS = 250  # how long one wait blocks: bounds how fast the listener notices a stop


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value


class XidListener:
    """Registers every GPU for XID events and records each event in the shared XidLog."""

    def __init__(self, units: list[GpuUnit], xid_log: XidLog, errors: ErrorCounts) -> None:
        self.units = units
        self.xid_log = xid_log
        self.errors = errors
        self.driver_gone = False
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="xid-events", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.thread.join(timeout)

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except pynvml.NVMLError as error:
            code = nvml.error_name(error)
            if code != "TIMEOUT":
                self.errors.add(fn.__name__, code)
            if code in DRIVER_GONE:
                self.driver_gone = True
            raise

    def _run(self) -> None:
        try:
            event_set = self._call(pynvml.nvmlEventSetCreate)
        except pynvml.NVMLError as error:
            log.info("XID events unavailable (%s); DCGM_FI_DEV_XID_ERRORS left out", nvml.error_name(error))
            return
        by_address: dict[int | None, str] = {}
        for unit in self.units:
            try:
                self._call(pynvml.nvmlDeviceRegisterEvents, unit.gpu.handle,
                           pynvml.nvmlEventTypeXidCriticalError, event_set)
            except pynvml.NVMLError as error:
                log.info("GPU %d: XID events unavailable (%s)", unit.gpu.index, nvml.error_name(error))
                continue
            by_address[_address(unit.gpu.handle)] = unit.gpu.uuid
        with self.xid_log._lock:
            self.xid_log.listening = set(by_address.values())
        try:
            while not self._stop.is_set() and not self.driver_gone:
                try:
                    data = self._call(pynvml.nvmlEventSetWait_v2, event_set, WAIT_MS)
                except pynvml.NVMLError as error:
                    if nvml.error_name(error) != "TIMEOUT":
                        self._stop.wait(1.0)  # an odd error: do not spin on it
                    continue
                if not data.eventType & pynvml.nvmlEventTypeXidCriticalError:
                    continue
                uuid = by_address.get(_address(data.device))
                if uuid is None:
                    uuid = text(pynvml.nvmlDeviceGetUUID(data.device))
                self.xid_log.record(uuid, int(data.eventData))
        finally:
            if not self.driver_gone:
                with contextlib.suppress(pynvml.NVMLError):
                    pynvml.nvmlEventSetFree(event_set)
