"""The receiver's persistent state: overrides in force (with what to restore) and kill sequences done.

Written atomically (temporary file, fsync, rename, fsync of the folder) after every change, so that a
receiver killed at any instant restarts with either the old or the new state, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_VERSION = 1


class StateError(RuntimeError):
    """The state folder is unusable; one line for the operator."""


def empty_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "overrides": {}, "kills": {}, "last_heartbeat": 0.0}


class StateStore:
    """A JSON document in `<dir>/state.json`. `persist=False` (dry-run) keeps it in memory only."""

    def __init__(self, directory: Path, persist: bool = True) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.persist = persist

    def check_writable(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as error:
            raise StateError(f"state folder {self.directory} is not writable: {error.strerror or error}") \
                from None

    def load(self) -> dict[str, Any]:
        """The saved state, or an empty one; an unreadable file is set aside, never silently lost."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty_state()
        except (OSError, ValueError) as error:
            aside = self.path.with_suffix(".corrupt")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            raise StateError(f"state file {self.path} is unreadable ({error}); moved to {aside}") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"state file {self.path} has an unknown format")
        state = empty_state()
        state.update({k: data[k] for k in state if k in data})
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.write(self.serialize(state))

    @staticmethod
    def serialize(state: dict[str, Any]) -> bytes:
        return json.dumps(state, sort_keys=True, indent=1).encode()

    def write(self, payload: bytes) -> None:
        """Replace the file with `payload` atomically and durably."""
        if not self.persist:
            return
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
