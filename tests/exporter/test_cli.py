"""Bad input gets one clear line and a non-zero exit; no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.exporter.conftest import GPUGUARD


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GPUGUARD), "exporter", *args], capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "gpuguard exporter:" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(run("-a", f"127.0.0.1:{port}"))
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "Address already in use" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n", "cannot load cert_file/key_file"),
        ("basic_auth_users: {alice: plaintext}\n", "basic_auth_users.alice is not a bcrypt hash"),
        ("basic_auth_user: {}\n", "unknown key(s) basic_auth_user"),
        ("tls_server_config: {cert_file: a}\n", "needs both cert_file and key_file"),
        ("tls_server_config: [\n", "not valid YAML"),
    ],
)
def test_bad_web_config(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "web.yml"
    config.write_text(content)
    line = one_line_error(run("-a", "127.0.0.1:0", "--web-config-file", str(config)))
    assert str(config) in line and message in line


def test_missing_web_config(tmp_path: Path) -> None:
    line = one_line_error(run("--web-config-file", str(tmp_path / "absent.yml")))
    assert "cannot read web config" in line


def test_unknown_counter_names_file_and_line(tmp_path: Path) -> None:
    csv = tmp_path / "counters.csv"
    csv.write_text("# mine\nDCGM_FI_DEV_GPU_TEMP, gauge, t\n\nDCGM_FI_DEV_WARP_DRIVE, gauge, w\n")
    line = one_line_error(run("-f", str(csv)))
    assert f"{csv}:4: unknown field DCGM_FI_DEV_WARP_DRIVE" in line


@pytest.mark.parametrize("address", ["9400", "host:port", "127.0.0.1:99999"])
def test_bad_address(address: str) -> None:
    assert "invalid --address" in one_line_error(run("-a", address))


@pytest.mark.parametrize("value", ["0", "-5"])
def test_bad_process_interval(value: str) -> None:
    line = one_line_error(run("-a", "127.0.0.1:0", "--process-interval", value))
    assert f"invalid --process-interval {value}: must be at least 1 ms" in line


def test_process_interval_not_a_number() -> None:
    result = run("--process-interval", "5s")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --process-interval: invalid int value: '5s'" in result.stderr


def test_bad_hostname_label() -> None:
    result = run("--hostname-label", "node")
    assert result.returncode == 2 and "invalid choice" in result.stderr and "Traceback" not in result.stderr


def test_environment_variables_as_dcgm_exporter(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("DCGM_FI_DEV_NOPE, gauge, x\n")
    result = subprocess.run([str(GPUGUARD), "exporter"], capture_output=True, text=True, timeout=20,
                            env={"DCGM_EXPORTER_COLLECTORS": str(csv), "PATH": "/usr/bin:/bin"})
    assert f"{csv}:1: unknown field DCGM_FI_DEV_NOPE" in one_line_error(result)
