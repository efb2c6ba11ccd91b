"""The HTTP side: /alerts, /metrics, /health. Answers first, works after.

Checks run in the contract's order, each before any cost the next would incur: method (405),
credentials (401, before the body is read; 429 once an address has spent its budget of failures, see
ratelimit.py), size (413, from Content-Length before reading, or while reading a chunked body), payload
(400, framing included: two Content-Length headers, or Transfer-Encoding with one), then 200. Accepted
notifications go to the decision worker only once the answer has been written, so Alertmanager never
waits on a fan or a grace period. Connections are bounded by gpuguard.httpserver; bodies being read
and parsed at once share a budget of `--max-body` bytes (a 4 MiB body parses to ~15 times its size).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
from typing import Any

from gpuguard.actions.auth import Credentials
from gpuguard.actions.engine import Engine
from gpuguard.actions.metrics import Metrics
from gpuguard.actions.payload import Notification, PayloadError, parse_notification
from gpuguard.actions.ratelimit import FailureLimiter, SampledAudit
from gpuguard.httpserver import BoundedHandler, BoundedHTTPServer, Limits

_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


class TooLarge(Exception):
    pass


class Busy(Exception):
    pass


class BodyBudget:
    """Bytes of request bodies in memory at once; a body waits for room, up to a deadline."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, size: int, timeout: float) -> int:
        size = min(size, self.total)
        with self._cond:
            if not self._cond.wait_for(lambda: self._used + size <= self.total, timeout):
                raise Busy
            self._used += size
        return size

    def release(self, size: int) -> None:
        with self._cond:
            self._used -= size
            self._cond.notify_all()


class ReceiverServer(BoundedHTTPServer):
    def __init__(self, address: tuple[str, int], engine: Engine, credentials: Credentials, metrics: Metrics,
                 max_body: int, family: int = socket.AF_INET, limits: Limits | None = None) -> None:
        self.engine = engine
        self.credentials = credentials
        self.metrics = metrics
        self.max_body = max_body
        self.bodies = BodyBudget(max_body)
        self.failures = FailureLimiter()
        self.sampled = SampledAudit(engine.audit)
        super().__init__(address, Handler, limits, credentials.tls, family)
        metrics.connection_limit.set(self.max_connections)

    def on_event(self, kind: str) -> None:
        self.metrics.http_connections_closed.labels(kind).inc()

    def service_actions(self) -> None:
        self.sampled.flush()
        self.metrics.http_connections_open.set(self.open_connections)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Any client can cause these (a TLS handshake cut short): sampled, never one line each.
        error = sys.exc_info()[1]
        self.sampled.record("http_error", client=str(client_address[0]),
                            error=f"{type(error).__name__}: {error}")


class Handler(BoundedHandler):
    server: ReceiverServer
    server_version = "gpuguard-actions"

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name
        pass  # every decision is in the audit log; request lines would only be noise

    # --- routing --------------------------------------------------------------------------------
    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/alerts":
            self._alerts(method)
        elif path in ("/metrics", "/health"):
            if method not in ("GET", "HEAD"):
                self._answer(405, "method not allowed\n", {"Allow": "GET, HEAD"}, close=True)
            elif path == "/health":
                problems = self.server.engine.health.problems()
                if problems:
                    text = "".join(f"{check}: {why}\n" for check, why in sorted(problems.items()))
                    self._answer(503, text, body_for_head=method == "GET")
                else:
                    self._answer(200, "OK", body_for_head=method == "GET")
            else:
                self._answer(200, self.server.metrics.render(),
                             {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                             body_for_head=method == "GET")
        elif path == "/":
            self._answer(200, "gpuguard actions receiver: POST /alerts, GET /metrics, GET /health\n")
        else:
            self._answer(404, "not found\n", close=method not in ("GET", "HEAD"))

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, FOO...) is answered like the known ones, never with 501.
        if name.startswith("do_"):
            return lambda: self._route(name[3:])
        raise AttributeError(name)

    def do_GET(self) -> None:  # BaseHTTPRequestHandler's naming
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_OPTIONS(self) -> None:
        self._route("OPTIONS")

    # --- /alerts --------------------------------------------------------------------------------
    def _alerts(self, method: str) -> None:
        metrics = self.server.metrics
        if method != "POST":
            metrics.notifications.labels("method_not_allowed").inc()
            self._answer(405, "method not allowed: POST only\n", {"Allow": "POST"}, close=True)
            return
        peer_cert = isinstance(self.request, ssl.SSLSocket) and bool(self.request.getpeercert())
        if not self.server.credentials.check(self.headers.get("Authorization"), peer_cert):
            metrics.notifications.labels("unauthorized").inc()
            metrics.auth_failures.inc()
            client = self.client_address[0]
            if not self.server.failures.allow(client):
                self._answer(429, "too many failed requests\n", {"Retry-After": "1"}, close=True)
                return
            self.server.sampled.record("auth_failed", client=client)
            self._answer(401, "unauthorized\n", {"WWW-Authenticate": 'Bearer realm="gpuguard"'}, close=True)
            return
        if self.framing_error:
            self._invalid(self.framing_error, close=True)
            return
        chunked = bool(self.headers.get("Transfer-Encoding"))
        try:
            length = self.server.max_body if chunked else self._length()
            reserved = self.server.bodies.acquire(length, self.server.limits.body_timeout / 2)
        except TooLarge:
            self._too_large()
            return
        except PayloadError as error:
            self._invalid(str(error), close=True)
            return
        except Busy:
            self._answer(503, "busy: too many large notifications at once\n", {"Retry-After": "1"},
                         close=True)
            return
        try:
            notification = self._read_and_parse(chunked, length)
        except TooLarge:
            self._too_large()
            return
        except PayloadError as error:
            self._invalid(str(error), close=not self.body_read)
            return
        except Exception as error:  # a parser bug still must not become a 5xx
            self._invalid(f"unreadable payload ({type(error).__name__})")
            return
        finally:
            self.server.bodies.release(reserved)
        metrics.notifications.labels("accepted").inc()
        answer = json.dumps({"status": "accepted", "alerts": len(notification.alerts)}) + "\n"
        self._answer(200, answer, {"Content-Type": "application/json"})
        self.wfile.flush()
        self.server.engine.submit(notification)

    def _invalid(self, reason: str, close: bool = False) -> None:
        self.server.metrics.notifications.labels("invalid").inc()
        self.server.engine.audit.record("rejected", status=400, reason=reason, client=self.client_address[0])
        self._answer(400, f"invalid notification: {reason}\n", close=close)

    def _too_large(self) -> None:
        self.server.metrics.notifications.labels("too_large").inc()
        self.server.engine.audit.record("rejected", status=413, client=self.client_address[0])
        self._answer(413, f"body over {self.server.max_body} bytes\n", close=True)

    def _length(self) -> int:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise PayloadError("Content-Length is required")
        text = length_header.strip()
        if not text.isdigit() or not text.isascii():
            raise PayloadError("Content-Length is not a non-negative number")
        length = int(text)
        if length > self.server.max_body:
            raise TooLarge
        return length

    def _read_and_parse(self, chunked: bool, length: int) -> Notification:
        body = self._chunked(self.server.max_body) if chunked else self._fixed(length)
        self.body_read = True
        return parse_notification(body)  # type: ignore[arg-type]  # a bytearray decodes as bytes do

    def _fixed(self, length: int) -> bytes:
        body = self.rfile.read(length)
        if len(body) != length:
            raise PayloadError("body shorter than Content-Length")
        return body

    def _chunked(self, limit: int) -> bytearray:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            # Hex digits only: int(..., 16) would also take "-1", "+1", "0x10" and "1_0".
            if not _CHUNK_SIZE.match(size_text):
                raise PayloadError("malformed chunked body")
            size = int(size_text, 16)
            if size == 0:
                for _ in range(64):  # trailers, bounded
                    if not self.rfile.readline(1024).strip():
                        return body
                raise PayloadError("malformed chunked body")
            if len(body) + size > limit:
                raise TooLarge
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise PayloadError("body shorter than its chunk size")
            body += chunk
            if self.rfile.readline(16).strip():
                raise PayloadError("malformed chunked body")

    def _answer(self, status: int, body: str | bytes, headers: dict[str, str] | None = None,
                close: bool = False, body_for_head: bool = True) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if not headers or "Content-Type" not in headers:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body_for_head:
            self.wfile.write(data)
