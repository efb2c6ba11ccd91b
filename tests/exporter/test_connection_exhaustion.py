"""Issue 14: 1,100 idle connections against an exporter with a 1,024-file limit; scrapes keep answering."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.exporter.conftest import GPUGUARD, require_simulator
from tests.support.idle import ATTACKERS, IdleClients, limit_files
from tests.support.procs import free_port, http_get, stop, wait_for


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
            wait_for(lambda: clients.opened >= ATTACKERS + 100, timeout=60,
                     what="the exporter to shed idle connections (the clients reopen them)")
            # Prometheus's scrape: a 10 s timeout, a fresh connection each time here.
            for _ in range(10):
                began = time.monotonic()
                status, body = http_get(f"{url}/metrics", timeout=10)
                assert status == 200 and b"DCGM_FI_DEV_GPU_TEMP" in body
                assert time.monotonic() - began < 5
            assert process.poll() is None
        assert http_get(f"{url}/health")[0] == 200
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(errors="replace")
