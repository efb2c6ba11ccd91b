"""Done-means 7: the simulator's tests also pass with the AddressSanitizer build of the driver (it is C
inside every test process), and that build really is the one loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simulator.pynvml_run import run_pynvml

REPO = Path(__file__).resolve().parents[2]
ASAN_DRIVER_DIR = REPO / "simulator" / "build" / "asan"


def libasan() -> Path | None:
    try:
        found = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(found)
    return path.resolve() if path.is_absolute() and path.exists() else None


@pytest.mark.asan
def test_simulator_suite_passes_under_asan(tmp_path: Path) -> None:
    runtime = libasan()
    if runtime is None or not (ASAN_DRIVER_DIR / "libnvidia-ml.so.1").exists():
        pytest.skip("no libasan from gcc, or the ASan driver is not built (make driver)")
    env = {**os.environ, "LD_PRELOAD": str(runtime), "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
           "GPUGUARD_SIM_DRIVER_DIR": str(ASAN_DRIVER_DIR), "GPUGUARD_SIM_EXPECT_ASAN": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-rA", "-m", "not asan", "-p", "no:cacheprovider",
         str(REPO / "tests" / "simulator")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "AddressSanitizer" not in result.stderr
    assert "PASSED tests/simulator/test_asan.py::test_loaded_driver_is_the_expected_build" in result.stdout
    assert "SKIPPED" not in result.stdout


def test_loaded_driver_is_the_expected_build(sim_node) -> None:
    """In the ASan run (GPUGUARD_SIM_EXPECT_ASAN=1) the driver pynvml maps is the ASan build; otherwise
    it is the plain build. Either way it is ours, from LD_LIBRARY_PATH."""
    node = sim_node()
    mapped = run_pynvml(node.env, """
        pynvml.nvmlInit()
        out(sorted({line.split()[-1] for line in open("/proc/self/maps") if "libnvidia-ml.so" in line}))
    """)
    assert len(mapped) == 1
    library = Path(mapped[0])
    has_asan = b"__asan_init" in library.read_bytes()
    if os.environ.get("GPUGUARD_SIM_EXPECT_ASAN") == "1":
        assert library.parent == ASAN_DRIVER_DIR and has_asan
    else:
        assert library.parent == REPO / "simulator" / "build" and not has_asan
