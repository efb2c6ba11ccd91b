"""The state store: atomic replacement, nothing torn, corrupt files set aside with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpuguard.actions.state import StateError, StateStore, empty_state
from tests.actions.helpers import wait_for


def test_roundtrip_and_no_temporary_left(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = empty_state()
    state["overrides"]["GPU-1/power_cap"] = {"uuid": "GPU-1", "kind": "power_cap", "holders": {},
                                            "saved_mw": 575000, "applied": 402500}
    store.save(state)
    assert store.load() == (state, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_missing_file_is_empty_state(tmp_path: Path) -> None:
    assert StateStore(tmp_path).load() == (
        {"version": 1, "overrides": {}, "kills": {}, "last_heartbeat": 0.0}, None)


def test_corrupt_file_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"version": 1, "overr')
    state, problem = StateStore(tmp_path).load()
    assert state == empty_state() and "is unreadable" in problem
    assert "set aside as state.json.corrupt-" in problem
    [aside] = tmp_path.glob("state.json.corrupt-*")
    assert aside.read_text() == '{"version": 1, "overr' and not (tmp_path / "state.json").exists()


@pytest.mark.parametrize("document", [
    [1, 2],
    {"version": 1, "overrides": [], "kills": {}},
    {"version": 1, "overrides": {"GPU-1/power_cap": 5}, "kills": {}},
    {"version": 1, "overrides": {"k": {"uuid": "GPU-1", "kind": "power_cap", "holders": {"h": 3}}}},
    {"version": 1, "overrides": {}, "kills": {"k": {"ts": "yesterday", "done": True}}},
    {"version": 1, "overrides": {}, "kills": {}, "last_heartbeat": "now"},
    {"version": 7, "overrides": {}, "kills": {}},
])
def test_wrong_shape_is_set_aside(tmp_path: Path, document) -> None:
    (tmp_path / "state.json").write_text(json.dumps(document))
    state, problem = StateStore(tmp_path).load()
    assert state == empty_state() and problem is not None and "set aside" in problem
    assert len(list(tmp_path.glob("state.json.corrupt-*"))) == 1


def test_heartbeat_from_the_future_is_dropped(tmp_path: Path) -> None:
    """Written before the clock stepped back: it must not count as a recent heartbeat."""
    future = {**empty_state(), "last_heartbeat": 4_000_000_000.0}
    (tmp_path / "state.json").write_text(json.dumps(future))
    assert StateStore(tmp_path).load()[0]["last_heartbeat"] == 0.0


def test_dry_run_store_writes_nothing(tmp_path: Path) -> None:
    StateStore(tmp_path, persist=False).save(empty_state())
    assert list(tmp_path.iterdir()) == []


def test_writer_killed_mid_loop_leaves_a_whole_file(tmp_path: Path) -> None:
    """A process saving in a tight loop is SIGKILLed; whatever is on disk parses as one of its states."""
    code = f"""
import sys
from pathlib import Path
from gpuguard.actions.state import StateError, StateStore, empty_state
store = StateStore(Path({str(tmp_path)!r}))
state = empty_state()
state["kills"] = {{f"k{{i}}": {{"ts": i, "done": True}} for i in range(2000)}}
print("ready", flush=True)
i = 0
while True:
    state["last_heartbeat"] = float(i)
    store.save(state)
    i += 1
"""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"

    def overwritten_many_times() -> bool:
        return json.loads((tmp_path / "state.json").read_text())["last_heartbeat"] >= 20

    wait_for(overwritten_many_times, timeout=30, what="20 saves")
    process.kill()
    process.wait()
    data = json.loads((tmp_path / "state.json").read_text())
    assert len(data["kills"]) == 2000 and data["last_heartbeat"] >= 0
    leftovers = [p for p in tmp_path.iterdir() if p.name != "state.json"]
    assert all(p.name.startswith(".state-") for p in leftovers)


def test_unwritable_state_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match="not writable"):
        StateStore(blocker / "sub").check_writable()
    assert os.path.exists(blocker)
