"""XID errors: the last XID as DCGM reports it, and a counter per XID code for `increase()`.

NVML delivers XIDs as events, not as a value to poll: `gpuguard.exporter.events` waits on an event
set in its own thread and records them in an `XidLog`; this collector only reads that log.
"""

from __future__ import annotations

import threading

from gpuguard.exporter.collectors.base import GpuReader, Output

FIELDS = {"DCGM_FI_DEV_XID_ERRORS", "gpuguard_xid_errors_total"}


class XidLog:
    """XIDs seen per GPU UUID since the exporter started; survives NVML re-initialisation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: dict[str, int] = {}
        self.counts: dict[str, dict[int, int]] = {}
        self.listening: set[str] = set()  # GPUs whose XID events are registered

    def record(self, uuid: str, xid: int) -> None:
        with self._lock:
            self.last[uuid] = xid
            per_gpu = self.counts.setdefault(uuid, {})
            per_gpu[xid] = per_gpu.get(xid, 0) + 1

    def read(self, uuid: str) -> tuple[int | None, dict[int, int], bool]:
        with self._lock:
            return self.last.get(uuid), dict(self.counts.get(uuid, {})), uuid in self.listening


def collect(gpu: GpuReader, out: Output) -> None:
    log: XidLog | None = gpu.xid_log
    if log is None:
        return
    last, counts, listening = log.read(gpu.gpu.uuid)
    if not listening and last is None:
        return  # no XID events on this GPU: we would not know, so say nothing
    # DCGM reports 0 until the first XID.
    out.add("DCGM_FI_DEV_XID_ERRORS", last if last is not None else 0)
    for code, count in sorted(counts.items()):
        out.add("gpuguard_xid_errors_total", count, (("xid", str(code)),))
