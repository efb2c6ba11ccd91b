"""Run real, unchanged pynvml in a child process on a simulated node (LD_LIBRARY_PATH only works at
process start), and get back what the snippet prints as JSON on its last line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

PRELUDE = """
import json, sys
import pynvml
def out(value):
    print(json.dumps(value), flush=True)
def err_name(call, *args):
    try:
        call(*args)
    except pynvml.NVMLError as error:
        return type(error).__name__
    return "no error"
"""


def run_pynvml(env: dict[str, str], code: str, timeout: float = 60.0) -> Any:
    script = PRELUDE + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"pynvml snippet failed ({result.returncode}):\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"pynvml snippet printed nothing; stderr:\n{result.stderr}"
    return json.loads(lines[-1])


def run_pynvml_with_action(env: dict[str, str], before: str, action: Callable[[], None], after: str,
                           timeout: float = 60.0) -> Any:
    """Run `before` in a pynvml child, then `action()` here while it waits, then `after` there."""
    script = PRELUDE + textwrap.dedent(before) + "\nprint('ready', flush=True)\nsys.stdin.readline()\n" + \
        textwrap.dedent(after)
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdin is not None
        first = process.stdout.readline().strip()
        if first != "ready":
            _, stderr = process.communicate(timeout=timeout)
            raise AssertionError(f"pynvml child did not get ready ({first!r}):\n{stderr}")
        action()
        stdout, stderr = process.communicate("go\n", timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"pynvml child failed:\n{stderr}"
    return json.loads(stdout.strip().splitlines()[-1])
