"""gpuguard.webconfig: the exporter-toolkit web config both the exporter and the receiver read."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import bcrypt
import pytest

from gpuguard import webconfig
from gpuguard.webconfig import BasicAuthUsers, WebConfigError
from tests.support.pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("webconfig") / "pki")


def load_error(path: Path) -> str:
    with pytest.raises(WebConfigError) as caught:
        webconfig.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    return message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tls_server_config: [\n", "not valid YAML"),
        ("- a list\n", "expected a mapping at the top level"),
        ("basic_auth_user: {}\n", "unknown key(s) basic_auth_user"),
        ("basic_auth_users: [alice]\n", "basic_auth_users must map user names to bcrypt hashes"),
        ("basic_auth_users: {alice: plaintext}\n", "basic_auth_users.alice is not a bcrypt hash"),
        ("tls_server_config: [a]\n", "tls_server_config must be a mapping"),
        ("tls_server_config: {cert_file: a, key_file: b, ca_file: c}\n",
         "unknown key(s) in tls_server_config: ca_file"),
        ("tls_server_config: {cert_file: a, key_file: b, client_allowed_sans: [x]}\n",
         "tls_server_config key(s) not supported by gpuguard: client_allowed_sans"),
        ("tls_server_config: {cert_file: a}\n", "tls_server_config needs both cert_file and key_file"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequestClientCert}\n",
         "client_auth_type RequestClientCert not supported: certificates are always verified here"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
         "client_auth_type RequireAnyClientCert not supported: certificates are always verified here"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}\n",
         "client_auth_type 'Sometimes' not supported (one of: NoClientCert, VerifyClientCertIfGiven, "
         "RequireAndVerifyClientCert)"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
         "client_auth_type RequireAndVerifyClientCert needs client_ca_file"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}\n",
         "unknown TLS version 'TLS14' (one of: TLS10, TLS11, TLS12, TLS13)"),
        ("tls_server_config: {cert_file: [a], key_file: b}\n",
         "tls_server_config.cert_file must be a file path"),
        ("tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n", "cannot load cert_file/key_file"),
    ],
)
def test_error_is_one_line_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "web.yml"
    config.write_text(content)
    assert message in load_error(config)


def test_unreadable_file(tmp_path: Path) -> None:
    assert "cannot read web config: No such file or directory" in load_error(tmp_path / "absent.yml")


def test_unloadable_client_ca(tmp_path: Path, pki: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text(f"tls_server_config:\n  cert_file: {pki}/server.crt\n  key_file: {pki}/server.key\n"
                      "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: absent-ca.crt\n")
    assert "cannot load client_ca_file" in load_error(config)


def test_no_file_and_empty_file_mean_plain_http_without_users(tmp_path: Path) -> None:
    empty = tmp_path / "web.yml"
    empty.write_text("")
    for config in (webconfig.load(None), webconfig.load(empty)):
        assert config.tls is None
        assert not config.users
        assert config.client_cert_required is False


@pytest.mark.parametrize(
    ("client_auth_type", "verify_mode", "cert_required"),
    [
        ("NoClientCert", ssl.CERT_NONE, False),
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL, False),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED, True),
    ],
)
def test_client_auth_types(tmp_path: Path, pki: Path, client_auth_type: str, verify_mode: ssl.VerifyMode,
                           cert_required: bool) -> None:
    # relative paths are resolved against the config file's folder, not the working directory
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: ../{pki.name}/server.crt\n  key_file: ../{pki.name}/server.key\n"
        f"  client_auth_type: {client_auth_type}\n  client_ca_file: ../{pki.name}/ca.crt\n")
    (tmp_path / pki.name).symlink_to(pki)
    loaded = webconfig.load(config)
    assert loaded.tls is not None
    assert loaded.tls.verify_mode == verify_mode
    assert loaded.tls.minimum_version == ssl.TLSVersion.TLSv1_2
    assert loaded.client_cert_required is cert_required


def test_tls_versions(tmp_path: Path, pki: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text(f"tls_server_config:\n  cert_file: {pki}/server.crt\n  key_file: {pki}/server.key\n"
                      "  min_version: TLS13\n  max_version: TLS13\n")
    loaded = webconfig.load(config)
    assert loaded.tls is not None
    assert loaded.tls.minimum_version == ssl.TLSVersion.TLSv1_3
    assert loaded.tls.maximum_version == ssl.TLSVersion.TLSv1_3


def hash_of(password: bytes) -> bytes:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=4))


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records every real bcrypt check (the real function still runs)."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


def test_bcrypt_cache(bcrypt_calls: list[bytes]) -> None:
    users = BasicAuthUsers({"alice": hash_of(b"pw-a"), "bob": hash_of(b"pw-b")})
    assert users.check("alice", "pw-a")
    assert bcrypt_calls == [b"pw-a"]
    assert users.check("alice", "pw-a")  # remembered: bcrypt does not run again
    assert bcrypt_calls == [b"pw-a"]
    # a wrong password is never remembered, and a remembered one does not open the door to others
    assert not users.check("alice", "wrong")
    assert not users.check("alice", "wrong")
    assert bcrypt_calls == [b"pw-a", b"wrong", b"wrong"]
    # one user's remembered password is nobody else's
    assert not users.check("bob", "pw-a")
    assert bcrypt_calls == [b"pw-a", b"wrong", b"wrong", b"pw-a"]
    # an unknown user costs no bcrypt at all
    assert not users.check("mallory", "pw-a")
    assert len(bcrypt_calls) == 4


def basic(credentials: bytes, scheme: str = "Basic") -> str:
    return f"{scheme} {base64.b64encode(credentials).decode()}"


def test_basic_header(tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    # exporter-toolkit's own example hashes start with $2y$
    hashed = hash_of(b"s3cret").decode().replace("$2b$", "$2y$")
    config.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
    users = webconfig.load(config).users
    assert len(users) == 1
    assert users.check_header(basic(b"alice:s3cret"))
    assert users.check_header(basic(b"alice:s3cret", scheme="basic"))  # the scheme is case-insensitive
    for header in [None, "", basic(b"alice:wrong"), basic(b"alice"), basic(b"bob:s3cret"),
                   "Basic not-base64!", basic(b"alice:s3cret", scheme="Bearer")]:
        assert not users.check_header(header), header
