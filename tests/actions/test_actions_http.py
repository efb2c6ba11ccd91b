"""The receiver's HTTP contract (DESIGN.md): answer order 405, 401, 413, 400, 2xx; endpoints; metrics."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
import requests

from tests.actions.helpers import GPUGUARD, TOKEN, Receiver, alert, notification

VALID = notification(alert())
FOUR_MIB = 4 * 1024 * 1024


@pytest.fixture
def receiver(start_receiver) -> Receiver:
    return start_receiver()


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_health_and_metrics_names(receiver: Receiver) -> None:
    # No simulated node here, so NVML cannot be opened: /health says so (tests/actions/test_health.py
    # has the healthy case on a simulated node).
    health = requests.get(f"{receiver.url}/health", timeout=5)
    assert health.status_code == 503
    assert health.text.startswith("nvml: NVML init failed"), health.text
    text = receiver.metrics()
    for name in ("gpuguard_actions_notifications_total", "gpuguard_actions_total",
                 "gpuguard_actions_overrides_active", "gpuguard_actions_failsafe_active",
                 "gpuguard_actions_last_heartbeat_timestamp_seconds", "gpuguard_actions_auth_failures_total",
                 "gpuguard_actions_health_ok"):
        assert f"# TYPE {name.removesuffix('_total')} " in text or f"# TYPE {name} " in text, name
        assert f"# HELP {name.removesuffix('_total')} " in text or f"# HELP {name} " in text, name


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_before_credentials(receiver: Receiver, method: str) -> None:
    response = requests.request(method, f"{receiver.url}/alerts", data=b"x" * 10, timeout=5)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_unknown_method_is_405_not_501(receiver: Receiver) -> None:
    answer = raw_request(receiver.url, b"BREW /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405 ")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}",
                                           f"Token {TOKEN}", "Bearer"])
def test_missing_or_wrong_credentials_are_401_before_size_and_payload(
        receiver: Receiver, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    too_big_and_invalid = b"{" * (FOUR_MIB + 1)
    response = receiver.post(too_big_and_invalid, token=None, headers=headers)
    assert response.status_code == 401
    assert receiver.metric("gpuguard_actions_auth_failures_total") == 1.0
    assert receiver.metric('gpuguard_actions_notifications_total{status="unauthorized"}') == 1.0


def test_oversized_body_is_413_before_payload(receiver: Receiver) -> None:
    response = receiver.post(b"{" * (FOUR_MIB + 1))
    assert response.status_code == 413


def test_body_at_the_limit_is_read(receiver: Receiver) -> None:
    body = json.dumps(VALID).encode()
    padded = body[:-1] + b" " * (FOUR_MIB - len(body)) + b"}"
    assert len(padded) == FOUR_MIB
    assert receiver.post(padded).status_code == 200


def test_oversized_chunked_body_is_413(receiver: Receiver) -> None:
    def chunks():
        for _ in range(5):
            yield b"[" * (1024 * 1024)

    response = receiver.post(chunks())
    assert response.status_code == 413


def test_chunked_valid_body_is_accepted(receiver: Receiver) -> None:
    body = json.dumps(VALID).encode()
    response = receiver.post(iter([body[:10], body[10:]]))
    assert response.status_code == 200


def test_max_body_flag(start_receiver) -> None:
    receiver = start_receiver(extra=["--max-body", "1000"])
    assert receiver.post(b"x" * 1001).status_code == 413
    assert receiver.post(b"x" * 1000).status_code == 400


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"version": "3", "status": "firing", "alerts": []}',
    b'{"version": "4", "status": "firing"}', b'{"version": "4", "status": "pending", "alerts": []}',
    json.dumps(notification({**alert(), "status": "pending"})).encode(),
    json.dumps(notification({**alert(), "labels": {"UUID": 5}})).encode(),
    json.dumps(notification({**alert(), "startsAt": "yesterday"})).encode(),
    b"\xff\xfe{}", b"[" * 100000 + b"]" * 100000,
], ids=lambda body: f"{body[:24]!r}...{len(body)}")
def test_invalid_payload_is_400(receiver: Receiver, body: bytes) -> None:
    response = receiver.post(body)
    assert response.status_code == 400
    assert response.text.startswith("invalid notification: ")


def test_valid_notification_is_2xx_and_refused_for_another_node(receiver: Receiver) -> None:
    response = receiver.post(notification(alert(host="node-b")))
    assert response.status_code == 200
    decision = receiver.wait_decisions(result="not_this_node")[0]
    assert decision["action"] == "fan_boost"
    assert receiver.metric('gpuguard_actions_total{action="fan_boost",result="not_this_node"}') == 1.0
    assert receiver.metric('gpuguard_actions_notifications_total{status="accepted"}') == 1.0


def test_unknown_gpu_is_refused(receiver: Receiver) -> None:
    assert receiver.post(notification(alert(uuid="GPU-not-here"))).status_code == 200
    decision = receiver.wait_decisions(action="fan_boost")[0]
    assert decision["result"] in ("unknown_gpu", "nvml_unavailable")


def test_alert_without_action_label_is_refused(receiver: Receiver) -> None:
    bare = alert()
    del bare["labels"]["gpuguard_action"]
    assert receiver.post(notification(bare)).status_code == 200
    assert receiver.wait_decisions(result="no_action")


def test_heartbeat_sets_timestamp(receiver: Receiver) -> None:
    hb = {"status": "firing", "labels": {"alertname": "Watchdog", "gpuguard_action": "heartbeat"},
          "startsAt": "2026-11-30T00:00:00Z"}
    assert receiver.post(notification(hb)).status_code == 200
    from tests.support.procs import wait_for
    wait_for(lambda: (receiver.metric("gpuguard_actions_last_heartbeat_timestamp_seconds") or 0) > 1e9,
             what="heartbeat timestamp")


def test_basic_auth_from_web_config(start_receiver, tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alertmanager: '{hashed}'\n")
    receiver = start_receiver(auth=["--web-config-file", str(web)])
    good = base64.b64encode(b"alertmanager:pw").decode()
    bad = base64.b64encode(b"alertmanager:nope").decode()
    assert receiver.post(VALID, token=None, headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert receiver.post(VALID, token=None, headers={"Authorization": f"Basic {bad}"}).status_code == 401
    assert receiver.post(VALID, token=None).status_code == 401


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([str(GPUGUARD), "actions", *args], capture_output=True, text=True, timeout=timeout)


def test_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    from tests.actions.helpers import CONTRACT_POLICY, write_policy
    policy = write_policy(tmp_path / "p.yml", CONTRACT_POLICY)
    result = run_cli("--policy", str(policy), "--state-dir", str(tmp_path / "s"), "--listen", "127.0.0.1:0")
    assert result.returncode != 0
    assert "no credentials configured" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_refuses_empty_token_file(tmp_path: Path, content: str) -> None:
    from tests.actions.helpers import CONTRACT_POLICY, write_policy
    policy = write_policy(tmp_path / "p.yml", CONTRACT_POLICY)
    token = tmp_path / "token"
    token.write_text(content)
    token.chmod(0o600)
    result = run_cli("--policy", str(policy), "--auth-token-file", str(token), "--state-dir",
                     str(tmp_path / "s"), "--listen", "127.0.0.1:0")
    assert result.returncode != 0
    assert "is empty" in result.stderr and "Traceback" not in result.stderr


def test_default_listen_is_loopback_9401() -> None:
    code = "from gpuguard.actions.cli import parser; print(parser().parse_args([]).listen)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "127.0.0.1:9401"
    help_text = run_cli("--help").stdout
    for flag in ("--listen", "--policy", "--auth-token-file", "--web-config-file", "--state-dir",
                 "--audit-log", "--node-name", "--max-body", "--dry-run"):
        assert flag in help_text


def test_bad_listen_address_is_one_line(tmp_path: Path, token_file: Path) -> None:
    from tests.actions.helpers import CONTRACT_POLICY, write_policy
    policy = write_policy(tmp_path / "p.yml", CONTRACT_POLICY)
    result = run_cli("--policy", str(policy), "--auth-token-file", str(token_file), "--state-dir",
                     str(tmp_path / "s"), "--listen", "nonsense")
    assert result.returncode != 0 and "--listen" in result.stderr and "Traceback" not in result.stderr
