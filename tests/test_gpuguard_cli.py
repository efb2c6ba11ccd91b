"""The `gpuguard` command itself: dispatch, help, and one clear line for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GPUGUARD = Path(sys.executable).with_name("gpuguard")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GPUGUARD), *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_component() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("sim", "exporter", "actions", "demo"):
        assert f"  {command} " in result.stdout


def test_unknown_command_is_one_clear_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--speed", "0"], ["--speed", "fast"], ["--bogus"]])
def test_demo_rejects_bad_flags_before_starting_anything(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run([str(GPUGUARD), "demo", *args], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("gpuguard demo: error:")
    assert not (tmp_path / "demo-report").exists()
