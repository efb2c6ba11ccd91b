"""The receiver's persistent state: overrides in force (with what to restore) and kill sequences done.

Written atomically (temporary file, fsync, rename, fsync of the folder) after every change, so that a
receiver killed at any instant restarts with either the old or the new state, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STATE_VERSION = 1


class StateError(RuntimeError):
    """The state folder is unusable; one line for the operator."""


def empty_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "overrides": {}, "kills": {}, "last_heartbeat": 0.0}


def shape_problem(data: Any) -> str | None:
    """What is wrong with a parsed state document, or None: every field the engine reads is checked."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("version") != STATE_VERSION:
        return f"of an unknown format (version {data.get('version')!r})"
    if not isinstance(data.get("overrides", {}), dict) or not isinstance(data.get("kills", {}), dict):
        return "of the wrong shape (overrides and kills must be objects)"
    if not _number(data.get("last_heartbeat", 0.0)):
        return "of the wrong shape (last_heartbeat must be a number)"
    for key, record in data.get("overrides", {}).items():
        if not (isinstance(record, dict) and isinstance(record.get("uuid"), str)
                and record.get("kind") in ("fan_boost", "power_cap")
                and isinstance(record.get("holders"), dict)
                and (record.get("saved_mw") is None or _number(record["saved_mw"]))
                and all(isinstance(h, dict) and (h.get("expires") is None or _number(h["expires"]))
                        and isinstance(h.get("request"), dict) for h in record["holders"].values())):
            return f"of the wrong shape (override {key!r})"
    for key, kill in data.get("kills", {}).items():
        if not (isinstance(kill, dict) and _number(kill.get("ts")) and isinstance(kill.get("done"), bool)):
            return f"of the wrong shape (kill {key!r})"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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

    def load(self) -> tuple[dict[str, Any], str | None]:
        """The saved state, or an empty one with why: a file that is unreadable, truncated or of the
        wrong shape is set aside (renamed, never lost) so the receiver starts rather than crash-loops."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty_state(), None
        except (OSError, ValueError) as error:
            return empty_state(), self._set_aside(f"unreadable ({error})")
        problem = shape_problem(data)
        if problem is not None:
            return empty_state(), self._set_aside(problem)
        state = empty_state()
        state.update({k: data[k] for k in state if k in data})
        now = time.time()
        if state["last_heartbeat"] > now:  # written before the clock stepped back: not a heartbeat
            state["last_heartbeat"] = 0.0
        return state, None

    def _set_aside(self, why: str) -> str:
        aside = self.path.with_name(f"state.json.corrupt-{int(time.time())}")
        try:
            os.replace(self.path, aside)
        except OSError as error:
            return f"state file {self.path} is {why}; could not set it aside: {error.strerror or error}"
        return f"state file {self.path} is {why}; set aside as {aside.name}"

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
