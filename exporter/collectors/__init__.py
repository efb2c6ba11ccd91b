"""One collector per file; `ALL` is the order their series appear in when a CSV does not say."""

from __future__ import annotations

from types import ModuleType

from gpuguard.exporter.collectors import (
    clocks,
    ecc,
    fans,
    gpm,
    memory,
    nvlink,
    pcie,
    power,
    processes,
    remapped_rows,
    temperature,
    throttle,
    utilization,
    violations,
    xid,
)

ALL: tuple[ModuleType, ...] = (
    clocks, temperature, power, pcie, utilization, xid, memory, nvlink, remapped_rows,
    violations, throttle, fans, processes, gpm, ecc,
)
