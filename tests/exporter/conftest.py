"""Running the real `gpuguard exporter` as a child process on a free loopback port."""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.exporter.exposition import Exposition, parse
from tests.support.procs import free_port, http_get, stop, wait_for

GPUGUARD = Path(sys.executable).with_name("gpuguard")
REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "simulator" / "build" / "libnvidia-ml.so.1"


@dataclass
class RunningExporter:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def scrape(self) -> str:
        status, body = http_get(f"{self.url}/metrics", timeout=5, headers={"Accept-Encoding": "gzip"})
        assert status == 200, body
        return gzip.decompress(body).decode()

    def metrics(self) -> Exposition:
        return parse(self.scrape())

    def wait(
        self, predicate: Callable[[Exposition], object], timeout: float = 30, what: str = "metrics"
    ) -> Exposition:
        """Scrape until `predicate(exposition)` is truthy; fail with the exporter's log otherwise."""

        def check() -> Exposition | None:
            if self.process.poll() is not None:
                raise AssertionError(f"exporter exited {self.process.returncode}:\n{self.log_text()}")
            exposition = self.metrics()
            return exposition if predicate(exposition) else None

        try:
            return wait_for(check, timeout=timeout, interval=0.1, what=what)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n--- exporter log ---\n{self.log_text()[-3000:]}") from None


@contextlib.contextmanager
def run_exporter(
    tmp_path: Path, env: dict[str, str] | None = None, args: Sequence[str] = (), interval_ms: int = 200,
    scheme: str = "http",
) -> Iterator[RunningExporter]:
    port = free_port()
    log = tmp_path / f"exporter-{port}.log"
    command = [str(GPUGUARD), "exporter", "-a", f"127.0.0.1:{port}", "-c", str(interval_ms), *args]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env or dict(os.environ))
    running = RunningExporter(process, port, log)
    try:
        def listening_or_exited() -> bool:
            if process.poll() is not None:
                return True
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        wait_for(listening_or_exited, timeout=20, what="exporter to listen")
        if process.poll() is not None:
            raise AssertionError(f"exporter exited {process.returncode}:\n{running.log_text()}")
        yield running
    finally:
        stop(process)


@pytest.fixture
def exporter(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[RunningExporter]]:
    """`with exporter(env=node.env, args=[...]) as exp:` a real exporter process, stopped afterwards."""

    def start(**kwargs: object) -> contextlib.AbstractContextManager[RunningExporter]:
        return run_exporter(tmp_path, **kwargs)  # type: ignore[arg-type]

    return start


def require_simulator() -> None:
    if not DRIVER.exists():
        pytest.skip(f"{DRIVER} not built (make driver)")
    try:
        import gpuguard.simulator.node  # noqa: F401
    except ImportError as error:
        pytest.skip(f"simulator test API not available: {error}")

