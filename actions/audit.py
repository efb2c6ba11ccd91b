"""The JSON-lines audit log: one object per decision, done or refused, flushed as it is written."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO


class AuditLog:
    """Append-only; a line is flushed before the decision it records takes effect elsewhere."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO
        if path is None:
            self._file = sys.stderr
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._file = os.fdopen(fd, "a", encoding="utf-8")

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"ts": round(time.time(), 6), "event": event, **fields}
        line = json.dumps(entry, separators=(",", ":"), default=str, sort_keys=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        return entry

    def close(self) -> None:
        if self.path is not None:
            with self._lock:
                self._file.close()
