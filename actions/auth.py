"""Credentials: a bearer token read from a file, basic auth users and TLS client certificates from an
exporter-toolkit web config. The receiver refuses to start without at least one of them.
"""

from __future__ import annotations

import base64
import hmac
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


class AuthConfigError(ValueError):
    """Credentials are missing or unusable; one line for the operator."""


@dataclass
class Credentials:
    token: bytes | None = None
    basic_users: dict[str, bytes] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    client_cert_required: bool = False
    # bcrypt is deliberately slow; a password that verified once is remembered (as exporter-toolkit does)
    _verified: set[tuple[str, bytes]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def configured(self) -> bool:
        return bool(self.token or self.basic_users or self.client_cert_required)

    def check(self, authorization: str | None, peer_cert: bool) -> bool:
        """True when the request carries a credential this receiver accepts."""
        if self.client_cert_required and peer_cert:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer" and self.token is not None:
            return hmac.compare_digest(value.encode("utf-8", "replace"), self.token)
        if scheme == "basic" and self.basic_users:
            return self._check_basic(value)
        return False

    def _check_basic(self, value: str) -> bool:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        hashed = self.basic_users.get(user)
        if not sep or hashed is None:
            return False
        key = (user, password.encode())
        with self._lock:
            if key in self._verified:
                return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            with self._lock:
                self._verified.add(key)
        return ok


def read_token(path: Path) -> bytes:
    try:
        token = path.read_bytes().strip()
    except OSError as error:
        raise AuthConfigError(f"cannot read auth token file {path}: {error.strerror or error}") from None
    if not token:
        raise AuthConfigError(f"auth token file {path} is empty")
    return token


def _web_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise AuthConfigError(f"cannot read web config {path}: {error.strerror or error}") from None
    except yaml.YAMLError:
        raise AuthConfigError(f"web config {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise AuthConfigError(f"web config {path} must be a mapping")
    unknown = set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise AuthConfigError(f"web config {path}: unknown key {sorted(unknown)[0]}")
    return data


def _relative(base: Path, value: Any, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise AuthConfigError(f"web config {base}: {what} must be a file path")
    file = Path(value)
    return file if file.is_absolute() else base.parent / file


def _tls_context(path: Path, tls: Any) -> tuple[ssl.SSLContext, bool]:
    if not isinstance(tls, dict):
        raise AuthConfigError(f"web config {path}: tls_server_config must be a mapping")
    cert = _relative(path, tls.get("cert_file"), "tls_server_config.cert_file")
    key = _relative(path, tls.get("key_file"), "tls_server_config.key_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise AuthConfigError(f"web config {path}: cannot load certificate {cert}: {error}") from None
    mode = tls.get("client_auth_type", "NoClientCert")
    if mode not in _CLIENT_AUTH:
        raise AuthConfigError(f"web config {path}: unknown client_auth_type {mode!r}")
    verify = mode == "RequireAndVerifyClientCert"
    if _CLIENT_AUTH[mode] != ssl.CERT_NONE:
        if "client_ca_file" not in tls:
            raise AuthConfigError(f"web config {path}: client_auth_type {mode} needs client_ca_file")
        ca = _relative(path, tls["client_ca_file"], "tls_server_config.client_ca_file")
        try:
            context.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as error:
            raise AuthConfigError(f"web config {path}: cannot load client CA {ca}: {error}") from None
        context.verify_mode = _CLIENT_AUTH[mode]
    # Only a verified client certificate is a credential; "any" or "if given" still needs a password.
    return context, verify


def load_credentials(token_file: Path | None, web_config_file: Path | None) -> Credentials:
    """Build the receiver's credentials; raises AuthConfigError when none would be enforced."""
    credentials = Credentials()
    if token_file is not None:
        credentials.token = read_token(token_file)
    if web_config_file is not None:
        config = _web_config(web_config_file)
        users = config.get("basic_auth_users") or {}
        if not isinstance(users, dict):
            raise AuthConfigError(f"web config {web_config_file}: basic_auth_users must be a mapping")
        for user, hashed in users.items():
            if not isinstance(hashed, str) or not hashed.startswith("$2"):
                raise AuthConfigError(
                    f"web config {web_config_file}: basic_auth_users.{user} must be a bcrypt hash")
            credentials.basic_users[str(user)] = hashed.encode()
        if config.get("tls_server_config"):
            credentials.tls, credentials.client_cert_required = _tls_context(
                web_config_file, config["tls_server_config"])
    if not credentials.configured:
        raise AuthConfigError(
            "no credentials configured: pass --auth-token-file, or a --web-config-file with "
            "basic_auth_users or client_auth_type RequireAndVerifyClientCert")
    return credentials
