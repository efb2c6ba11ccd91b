"""Issue 11: every exported NVML function, called on every GPU and MIG handle of every profile with
guard bytes around each output buffer sized as its entry point's struct version, writes nothing outside
it; also with the AddressSanitizer builds of the harness and driver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpuguard.simulator.exports import exported, run_harness
from gpuguard.simulator.profiles import profile_names
from tests.simulator.test_asan import ASAN_DRIVER_DIR

BUILD = Path(__file__).resolve().parents[2] / "simulator" / "build"


def called(stdout: str) -> set[str]:
    return {line.split()[1] for line in stdout.splitlines() if line.startswith("CALL ")}


@pytest.mark.parametrize("profile", profile_names())
def test_no_write_outside_any_struct(profile: str) -> None:
    result = run_harness(profile, harness=BUILD / "guard_harness")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OVERFLOW" not in result.stdout
    assert "DONE overflows=0" in result.stdout
    missing = exported(BUILD / "libnvidia-ml.so.1") - called(result.stdout)
    assert not missing, f"the harness does not call {sorted(missing)}: add them to src/guard_harness.c"
    # MIG profiles exercise MIG device handles too
    if profile.endswith("-mig"):
        assert re.search(r"^CALL \S+ gpu0/mig0 ", result.stdout, re.M)


@pytest.mark.asan
@pytest.mark.parametrize("profile", profile_names())
def test_no_write_outside_any_struct_under_asan(profile: str) -> None:
    harness = ASAN_DRIVER_DIR / "guard_harness"
    if not harness.exists():
        pytest.skip("the ASan harness is not built (make driver)")
    result = run_harness(profile, harness=harness, env_extra={
        "LD_LIBRARY_PATH": str(ASAN_DRIVER_DIR), "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "AddressSanitizer" not in result.stderr
    assert "DONE overflows=0" in result.stdout
