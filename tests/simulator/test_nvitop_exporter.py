"""Done-means 2: unchanged nvitop-exporter 1.7.2 (PyPI) runs under `gpuguard sim exec` and serves
temperature, memory, power, utilization and fan speed for every GPU, none of them NaN."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.procs import free_port, running, wait_for, wait_http_ok

NVITOP_EXPORTER = Path(sys.executable).parent / "nvitop-exporter"
SERIES = ("gpu_temperature_C", "gpu_memory_total_MiB", "gpu_memory_used_MiB", "gpu_power_usage_W",
          "gpu_utilization_Percentage", "gpu_fan_speed_Percentage")
SEED_UUIDS = ("GPU-5a287ce5-4966-8c3b-9d21-5090a0000001", "GPU-5a287ce5-4966-8c3b-9d21-6000b0000002")


def samples(body: str) -> dict[tuple[str, str], float]:
    found = {}
    for line in body.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        name, rest = line.split("{", 1)
        labels, value = rest.rsplit("} ", 1)
        uuid = next((part.split('"')[1] for part in labels.split(",") if part.startswith("uuid=")), "")
        found[(name, uuid)] = float(value)
    return found


def test_nvitop_exporter_serves_every_seed_gpu(tmp_path: Path) -> None:
    if not NVITOP_EXPORTER.exists() or shutil.which("sh") is None:
        pytest.skip("nvitop-exporter is not installed in this environment")
    port = free_port()
    inner = (f"gpuguard sim workload --gpu 0 --watts 400 --memory-mib 3000 >/dev/null & "
             f"exec {NVITOP_EXPORTER} --bind-address 127.0.0.1 --port {port} --interval 0.5")
    command = [sys.executable, "-m", "gpuguard.cli", "sim", "exec", "--profile", "seed", "--",
               "sh", "-c", inner]
    with running(command, tmp_path / "nvitop-exporter.log") as process:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_http_ok(url, timeout=60, process=process)

        def scraped() -> dict[tuple[str, str], float] | None:
            found = samples(wait_http_ok(url, timeout=10, process=process).decode())
            return found if found.get(("gpu_memory_used_MiB", SEED_UUIDS[0])) == 3000.0 else None

        found = wait_for(scraped, timeout=30, what="nvitop-exporter to see the workload")
    for uuid in SEED_UUIDS:
        for series in SERIES:
            assert (series, uuid) in found, f"{series} missing for {uuid}"
            assert not math.isnan(found[(series, uuid)]), f"{series} is NaN for {uuid}"
    assert found[("gpu_memory_total_MiB", SEED_UUIDS[0])] == 32607.0
    assert found[("gpu_memory_total_MiB", SEED_UUIDS[1])] == 97887.0
    assert found[("gpu_power_usage_W", SEED_UUIDS[0])] == 430.0  # 30 W idle + the 400 W workload
    assert found[("gpu_power_usage_W", SEED_UUIDS[1])] == 35.0
    assert found[("process_gpu_memory_MiB", SEED_UUIDS[0])] == 3000.0
