"""Credentials: a bearer token read from a file, basic auth users and TLS client certificates from an
exporter-toolkit web config (read by gpuguard.webconfig, as the exporter reads it). The receiver refuses
to start without at least one of them.
"""

from __future__ import annotations

import hmac
import os
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gpuguard import webconfig
from gpuguard.webconfig import BasicAuthUsers


class AuthConfigError(ValueError):
    """Credentials are missing or unusable; one line for the operator."""


@dataclass
class Credentials:
    token: bytes | None = None
    basic_users: BasicAuthUsers = field(default_factory=BasicAuthUsers)
    tls: ssl.SSLContext | None = None
    # Only a verified client certificate is a credential: RequireAndVerifyClientCert. Under
    # VerifyClientCertIfGiven a connection may come without one, so it still needs a token or password.
    client_cert_required: bool = False

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
        if scheme == "bearer" and self.token is not None:
            return hmac.compare_digest(value.strip().encode("utf-8", "replace"), self.token)
        if scheme == "basic":
            return self.basic_users.check_header(authorization)
        return False


def check_token_mode(path: Path) -> None:
    """A secret anyone on the node can read is no secret; one others can rewrite is worse."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise AuthConfigError(f"cannot read auth token file {path}: {error.strerror or error}") from None
    if mode & stat.S_IROTH:
        raise AuthConfigError(f"auth token file {path} is readable by every user (mode "
                              f"{stat.S_IMODE(mode):04o}): chmod 0600 it")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AuthConfigError(f"auth token file {path} is writable by group or others (mode "
                              f"{stat.S_IMODE(mode):04o}): chmod 0600 it")


def read_token(path: Path) -> bytes:
    check_token_mode(path)
    try:
        token = path.read_bytes().strip()
    except OSError as error:
        raise AuthConfigError(f"cannot read auth token file {path}: {error.strerror or error}") from None
    if not token:
        raise AuthConfigError(f"auth token file {path} is empty")
    return token


def load_credentials(token_file: Path | None, web_config_file: Path | None) -> Credentials:
    """Build the receiver's credentials; raises AuthConfigError (or webconfig.WebConfigError for a bad
    web config) when none would be enforced."""
    credentials = Credentials()
    if token_file is not None:
        credentials.token = read_token(token_file)
    if web_config_file is not None:
        web = webconfig.load(web_config_file)
        credentials.basic_users = web.users
        credentials.tls = web.tls
        credentials.client_cert_required = web.client_cert_required
    if not credentials.configured:
        raise AuthConfigError(
            "no credentials configured: pass --auth-token-file, or a --web-config-file with "
            "basic_auth_users or client_auth_type RequireAndVerifyClientCert")
    return credentials
