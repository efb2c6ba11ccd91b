"""TLS client certificates as receiver credentials (DESIGN.md: "a TLS client certificate via the web
config"): only a certificate the handshake verified counts, and only under RequireAndVerifyClientCert."""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
import requests

from tests.actions.helpers import CONTRACT_POLICY, GPUGUARD, alert, notification, write_policy
from tests.support.pki import make_pki
from tests.support.procs import ProcessExited, file_tail, free_port, running, wait_for

BODY = notification(alert())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("receiver-tls") / "pki")


@pytest.fixture
def https_receiver(tmp_path: Path, pki: Path) -> Iterator[Callable[[str], str]]:
    """start(web_config_text) -> the receiver's https:// URL, with only --web-config-file as credentials."""
    stack = contextlib.ExitStack()

    def start(web_config: str) -> str:
        config = tmp_path / "web.yml"
        config.write_text(web_config)
        port = free_port()
        log = tmp_path / "receiver.log"
        args = [GPUGUARD, "actions", "--listen", f"127.0.0.1:{port}",
                "--policy", write_policy(tmp_path / "policy.yml", CONTRACT_POLICY),
                "--state-dir", tmp_path / "state", "--node-name", "node-a", "--web-config-file", config]
        process = stack.enter_context(running(args, log))
        url = f"https://127.0.0.1:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise ProcessExited(process)
            return get(f"{url}/", pki, cert=True).status_code == 200

        try:
            wait_for(ready, timeout=30, what="the receiver over TLS")
        except (ProcessExited, TimeoutError) as error:
            raise AssertionError(f"{error}\n{file_tail(log)}") from None
        return url

    with stack:
        yield start


def get(url: str, pki: Path, cert: bool) -> requests.Response:
    client = (str(pki / "client.crt"), str(pki / "client.key")) if cert else None
    return requests.get(url, verify=str(pki / "ca.crt"), cert=client, timeout=10)


def post(url: str, pki: Path, cert: bool, headers: dict[str, str] | None = None) -> requests.Response:
    client = (str(pki / "client.crt"), str(pki / "client.key")) if cert else None
    return requests.post(f"{url}/alerts", json=BODY, headers=headers or {}, verify=str(pki / "ca.crt"),
                         cert=client, timeout=10)


def tls_config(pki: Path, client_auth_type: str) -> str:
    return (f"tls_server_config:\n  cert_file: {pki}/server.crt\n  key_file: {pki}/server.key\n"
            f"  client_auth_type: {client_auth_type}\n  client_ca_file: {pki}/ca.crt\n")


def test_verified_certificate_is_a_credential(https_receiver, pki: Path) -> None:
    url = https_receiver(tls_config(pki, "RequireAndVerifyClientCert"))
    assert post(url, pki, cert=True).status_code == 200
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        post(url, pki, cert=False)


def test_certificate_if_given_still_needs_a_password(https_receiver, pki: Path) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    url = https_receiver(tls_config(pki, "VerifyClientCertIfGiven")
                         + f"basic_auth_users:\n  alertmanager: '{hashed}'\n")
    password = {"Authorization": "Basic " + base64.b64encode(b"alertmanager:pw").decode()}
    assert post(url, pki, cert=True).status_code == 401
    assert post(url, pki, cert=True, headers=password).status_code == 200
    assert post(url, pki, cert=False, headers=password).status_code == 200
    assert post(url, pki, cert=False).status_code == 401


@pytest.mark.parametrize("client_auth_type", ["RequestClientCert", "RequireAnyClientCert"])
def test_unverified_client_auth_types_are_refused(tmp_path: Path, pki: Path, client_auth_type: str) -> None:
    config = tmp_path / "web.yml"
    config.write_text(tls_config(pki, client_auth_type))
    result = subprocess.run(
        [str(GPUGUARD), "actions", "--listen", "127.0.0.1:0",
         "--policy", str(write_policy(tmp_path / "policy.yml", CONTRACT_POLICY)),
         "--state-dir", str(tmp_path / "state"), "--web-config-file", str(config)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"gpuguard actions: {config}: client_auth_type {client_auth_type} not supported: certificates are "
        "always verified here (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
