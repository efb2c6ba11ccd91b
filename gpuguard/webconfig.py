"""The web config file in Prometheus exporter-toolkit's format, read alike by the exporter and the receiver.

```yaml
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
  client_ca_file: ca.crt
  min_version: TLS12
basic_auth_users:
  alice: $2y$10$...   # bcrypt hash
```
Relative paths are relative to the config file, as in exporter-toolkit. Unknown keys are an error, and
every error is one line that starts with the file's path.

`client_auth_type`: Python's `ssl` verifies every client certificate it asks for, so exporter-toolkit's
two modes that take a certificate without verifying it (`RequestClientCert`, `RequireAnyClientCert`)
are refused rather than quietly served stricter or looser than they say. What the server does with a
verified certificate is its own business: `client_cert_required` is true only for
`RequireAndVerifyClientCert`, the one mode in which every connection carries a verified certificate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
# exporter-toolkit keys this loader does not implement. Ignoring them would be unsafe
# (client_allowed_sans narrows which signed client certificates are accepted), so they are refused.
UNSUPPORTED_TLS_KEYS = {
    "cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans",
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


class WebConfigError(ValueError):
    """A web config that cannot be used; the message is one line that names the file."""


class BasicAuthUsers:
    """`basic_auth_users`: user name to bcrypt hash, checked with a cache of credentials that verified.

    bcrypt is slow on purpose; a credential that verified once is remembered (as exporter-toolkit
    does) so that a scrape or a notification does not pay for it again. The cache holds a digest of
    user, password and hash, never the password.
    """

    def __init__(self, hashes: Mapping[str, bytes] | None = None) -> None:
        self._hashes: dict[str, bytes] = dict(hashes or {})
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def check(self, user: str, password: str) -> bool:
        """True when `password` matches the bcrypt hash configured for `user`."""
        hashed = self._hashes.get(user)
        if hashed is None:
            return False
        digest = hashlib.sha256(b"\0".join((user.encode(), password.encode(), hashed))).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:  # a malformed hash, or a password bcrypt refuses (over 72 bytes)
            return False
        if ok:
            with self._lock:
                self._verified[user] = digest
        return ok

    def check_header(self, authorization: str | None) -> bool:
        """True when an `Authorization: Basic ...` header carries a good user and password."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self.check(user, password)


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: BasicAuthUsers = field(default_factory=BasicAuthUsers)
    # Every connection carries a client certificate that verified against client_ca_file.
    client_cert_required: bool = False


def load(path: str | Path | None) -> WebConfig:
    """Read a web config file; None means no file (plain HTTP, no users). Raises WebConfigError."""
    if path is None:
        return WebConfig()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise WebConfigError(f"{path}: cannot read web config: {error.strerror or error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise WebConfigError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top level")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise WebConfigError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    users = _users(path, raw.get("basic_auth_users"))
    tls = raw.get("tls_server_config")
    if tls is None:
        return WebConfig(users=users)
    context, auth = _tls_context(path, tls)
    return WebConfig(tls=context, users=users, client_cert_required=auth == "RequireAndVerifyClientCert")


def _users(path: Path, users: Any) -> BasicAuthUsers:
    users = users or {}
    if not isinstance(users, dict):
        raise WebConfigError(f"{path}: basic_auth_users must map user names to bcrypt hashes")
    hashes: dict[str, bytes] = {}
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith(BCRYPT_PREFIXES):
            raise WebConfigError(f"{path}: basic_auth_users.{user} is not a bcrypt hash")
        hashes[str(user)] = hashed.encode()
    return BasicAuthUsers(hashes)


def _tls_context(path: Path, tls: Any) -> tuple[ssl.SSLContext, str]:
    """The server's SSL context and its client_auth_type, checked before any file is opened."""
    if not isinstance(tls, dict):
        raise WebConfigError(f"{path}: tls_server_config must be a mapping")
    unsupported = set(tls) & UNSUPPORTED_TLS_KEYS
    if unsupported:
        raise WebConfigError(
            f"{path}: tls_server_config key(s) not supported by gpuguard: {', '.join(sorted(unsupported))}")
    unknown = set(tls) - TLS_KEYS
    if unknown:
        raise WebConfigError(
            f"{path}: unknown key(s) in tls_server_config: {', '.join(sorted(map(str, unknown)))}")
    if not tls.get("cert_file") or not tls.get("key_file"):
        raise WebConfigError(f"{path}: tls_server_config needs both cert_file and key_file")
    auth = tls.get("client_auth_type", "NoClientCert")
    if auth in UNVERIFIED_CLIENT_AUTH:
        raise WebConfigError(
            f"{path}: client_auth_type {auth} not supported: certificates are always verified here "
            "(use VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(
            f"{path}: client_auth_type {auth!r} not supported (one of: {', '.join(CLIENT_AUTH)})")
    if auth != "NoClientCert" and not tls.get("client_ca_file"):
        raise WebConfigError(f"{path}: client_auth_type {auth} needs client_ca_file")

    def resolve(name: str) -> str:
        value = tls[name]
        if not isinstance(value, str):
            raise WebConfigError(f"{path}: tls_server_config.{name} must be a file path")
        return str((path.parent / value).resolve())

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(path, tls.get("min_version", "TLS12"))
    if tls.get("max_version"):
        context.maximum_version = _version(path, tls["max_version"])
    cert_file, key_file = resolve("cert_file"), resolve("key_file")
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as error:
        raise WebConfigError(f"{path}: cannot load cert_file/key_file: {error}") from None
    context.verify_mode = CLIENT_AUTH[auth]
    if auth != "NoClientCert":
        ca_file = resolve("client_ca_file")
        try:
            context.load_verify_locations(ca_file)
        except (OSError, ssl.SSLError) as error:
            raise WebConfigError(f"{path}: cannot load client_ca_file: {error}") from None
    return context, auth


def _version(path: Path, name: Any) -> ssl.TLSVersion:
    if name not in TLS_VERSIONS:
        raise WebConfigError(f"{path}: unknown TLS version {name!r} (one of: {', '.join(TLS_VERSIONS)})")
    return TLS_VERSIONS[name]
