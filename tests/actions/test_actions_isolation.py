"""Production code meets the simulator only through libnvidia-ml.so.1 (DESIGN.md): the receiver never
imports the simulator nor reads its state."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ACTIONS = Path(__file__).resolve().parents[2] / "actions"


def test_no_source_file_mentions_the_simulator() -> None:
    sources = sorted(ACTIONS.glob("*.py"))
    assert len(sources) >= 10
    for source in sources:
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert "simulator" not in name, f"{source.name} imports {name}"
        text = source.read_text()
        for forbidden in ("GPUGUARD_SIM_STATE", "setters.jsonl", "events.jsonl", "gpuguard.simulator",
                          "sim_state", "status.json"):
            assert forbidden not in text, f"{source.name} mentions {forbidden}"


def test_running_the_receiver_loads_no_simulator_module() -> None:
    code = ("import sys, pkgutil, importlib, gpuguard.actions as a\n"
            "for m in pkgutil.iter_modules(a.__path__):\n"
            "    importlib.import_module('gpuguard.actions.' + m.name)\n"
            "from gpuguard.actions.cli import main\n"
            "print(sorted(n for n in sys.modules if 'simulator' in n))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
