"""Issue 14: 1,100 idle connections against an exporter with a 1,024-file limit; scrapes keep answering."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.exporter.conftest import GPUGUARD, require_simulator
from tests.support.idle import IdleClients, limit_files
from tests.support.procs import free_port, http_get, stop, wait_for


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize("partial", [b"", b"GET /metrics HTTP/1.1\r\nHost: x\r\n"],
                         ids=["silent", "slow-headers"])
def test_scrapes_keep_answering_while_1100_connections_are_held(sim_node, tmp_path, partial: bytes) -> None:
    require_simulator()
    node = sim_node()
    port = free_port()
    log = tmp_path / "exporter.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(GPUGUARD), "exporter", "-a", f"127.0.0.1:{port}", "-c", "200"],
                                   stdout=out, stderr=subprocess.STDOUT, env=node.env, preexec_fn=limit_files)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_get(f"{url}/metrics")[0] == 200, timeout=30, what="the exporter's first scrape")
        with IdleClients(port, partial=partial) as clients:
            # Most attacking connections are through (more than the 1,024-file limit less what the
            # process itself holds); scrapes go in at once, long before any read timeout frees one.
            wait_for(lambda: clients.established >= 1000, timeout=60, what="1,000 idle connections")
            # And the exporter took them in up to its cap (with a backlog of 5 they would trickle in
            # over the SYN-ACK retries instead, and a scrape would queue behind them).
            wait_for(lambda: descriptors(process.pid) >= 250, timeout=30,
                     what="the exporter to hold 250 connections")
            # Prometheus's scrape: a 10 s timeout, a fresh connection each time here.
            for _ in range(10):
                began = time.monotonic()
                status, body = http_get(f"{url}/metrics", timeout=10)
                assert status == 200 and b"DCGM_FI_DEV_GPU_TEMP" in body
                assert time.monotonic() - began < 5
            assert process.poll() is None
            assert descriptors(process.pid) < 1024 - 128, "the exporter must keep descriptors in reserve"
        assert http_get(f"{url}/health")[0] == 200
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(errors="replace")
