"""TLS, client certificates and basic auth (bcrypt), with a real HTTPS client (requests)."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
import requests

from tests.support.pki import make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    return make_pki(tmp_path / "pki")


def test_tls_and_basic_auth(exporter, pki: Path, tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    config = tmp_path / "web.yml"
    # relative paths: relative to the config file, as exporter-toolkit resolves them
    config.write_text(
        "tls_server_config:\n  cert_file: pki/server.crt\n  key_file: pki/server.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    with exporter(args=["--web-config-file", str(config)]) as exp:
        url = f"https://127.0.0.1:{exp.port}"
        ca = str(pki / "ca.crt")
        good = requests.get(f"{url}/metrics", verify=ca, auth=("prometheus", "s3cret"), timeout=10)
        assert good.status_code == 200
        assert "# TYPE gpuguard_exporter_scrapes_total counter" in good.text
        assert good.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        again = requests.get(f"{url}/metrics", verify=ca, auth=("prometheus", "s3cret"), timeout=10)
        assert again.status_code == 200  # served from the credential cache
        for auth in [("prometheus", "wrong"), ("someone", "s3cret"), None]:
            denied = requests.get(f"{url}/metrics", verify=ca, auth=auth, timeout=10)
            assert denied.status_code == 401, auth
            assert denied.headers["WWW-Authenticate"].startswith("Basic")
        assert requests.get(f"{url}/health", verify=ca, timeout=10).status_code == 401
        health = requests.get(f"{url}/health", verify=ca, auth=("prometheus", "s3cret"), timeout=10)
        assert health.text == "OK"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{exp.port}/metrics", timeout=5)  # plain HTTP on a TLS port
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/metrics", timeout=5)  # an unknown CA is not trusted


def test_client_certificates_required(exporter, pki: Path, tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {pki}/server.crt\n  key_file: {pki}/server.key\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki}/ca.crt\n"
    )
    with exporter(args=["--web-config-file", str(config)]) as exp:
        url = f"https://127.0.0.1:{exp.port}/metrics"
        ca = str(pki / "ca.crt")
        client = (str(pki / "client.crt"), str(pki / "client.key"))
        assert requests.get(url, verify=ca, cert=client, timeout=10).status_code == 200
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(url, verify=ca, timeout=10)
        # the exporter keeps serving after a refused handshake
        assert requests.get(url, verify=ca, cert=client, timeout=10).status_code == 200
