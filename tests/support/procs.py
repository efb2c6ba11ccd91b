"""Free loopback ports, real child processes, and waiting on conditions instead of sleeping."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

# One port picker for the tests and the demo's stack; re-exported for the tests.
from gpuguard.stack import free_port as free_port

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds.

    Exceptions raised by `condition` count as "not yet" (a server still starting refuses connections).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except ProcessExited:  # the server will never answer: fail now, not at the deadline
            raise
        except Exception as error:  # "not yet" until the deadline
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET `url`; returns (status, body) for any HTTP answer, raises only when nothing answered."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_http_ok(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> bytes:
    """Wait until `url` answers 200; fail early with the process's output if it exits first."""

    def ready() -> bytes | None:
        if process is not None and process.poll() is not None:
            raise ProcessExited(process)
        status, body = http_get(url, timeout=2.0)
        return body if status == 200 else None

    try:
        return wait_for(ready, timeout=timeout, what=f"{url} to answer 200")
    except ProcessExited as exited:
        raise AssertionError(str(exited)) from None


def file_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a child's log file ("" when it cannot be read), for failure messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_server_ready(
    name: str, url: str, process: subprocess.Popen, log: Path, timeout: float = 60.0
) -> None:
    """Wait until `url` (a readiness endpoint) answers 200; fail with `name` and the tail of `log` when
    `process` exits first or `timeout` seconds pass."""
    try:
        wait_http_ok(url, timeout=timeout, process=process)
    except AssertionError:  # wait_http_ok's word for "exited"
        raise AssertionError(f"{name} exited with {process.returncode}:\n{file_tail(log)}") from None
    except TimeoutError:
        raise AssertionError(f"{name} not ready after {timeout:.0f}s:\n{file_tail(log)}") from None


class ProcessExited(Exception):
    def __init__(self, process: subprocess.Popen) -> None:
        super().__init__(f"{process.args!r} exited with {process.returncode}")


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


@contextlib.contextmanager
def running(
    args: Sequence[str | os.PathLike[str]],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Run `args` with stdout and stderr to `log` for the duration of the block, then stop it."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(a) for a in args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
    try:
        yield process
    finally:
        stop(process)
