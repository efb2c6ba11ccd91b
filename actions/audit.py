"""The JSON-lines audit log: one object per decision, done or refused, written as it is decided.

Recording never stops acting: a write that fails (a full disk, a read-only remount) goes to stderr
instead (at most one line a second, with a count of what was left out) and `failing` says so, which
/health reports; the next write that succeeds clears it. Lines are written unbuffered with one
write(2) each, so a failed write leaves nothing half-buffered to fail again later.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

STDERR_INTERVAL_S = 1.0


class AuditLog:
    """Append-only; a line is on disk (in the page cache) before the decision takes effect elsewhere."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.failing: str | None = None
        self._stderr_next = 0.0
        self._stderr_suppressed = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"ts": round(time.time(), 6), "event": event, **fields}
        line = json.dumps(entry, separators=(",", ":"), default=str, sort_keys=False)
        with self._lock:
            if self._fd is None:
                _print_stderr(line)
                return entry
            try:
                _write_all(self._fd, (line + "\n").encode())
            except OSError as error:
                self._failed(line, error)
            else:
                self.failing = None
        return entry

    def _failed(self, line: str, error: OSError) -> None:
        self.failing = f"audit log {self.path}: {error.strerror or error}"
        now = time.monotonic()
        if now < self._stderr_next:
            self._stderr_suppressed += 1
            return
        self._stderr_next = now + STDERR_INTERVAL_S
        suppressed, self._stderr_suppressed = self._stderr_suppressed, 0
        note = f" ({suppressed} more records not written)" if suppressed else ""
        _print_stderr(f"gpuguard actions: {self.failing}{note}; record: {line}")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _print_stderr(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself gone: nothing left to tell
        print(text, file=sys.stderr, flush=True)
