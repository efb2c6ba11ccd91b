"""The HTTP side: /alerts, /metrics, /health. Answers first, works after.

Checks run in the contract's order, each before any cost the next would incur: method (405),
credentials (401, before the body is read), size (413, from Content-Length before reading, or while
reading a chunked body), payload (400), then 200. Accepted notifications go to the decision worker
only once the answer has been written, so Alertmanager never waits on a fan or a grace period.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gpuguard.actions.auth import Credentials
from gpuguard.actions.engine import Engine
from gpuguard.actions.metrics import Metrics
from gpuguard.actions.payload import PayloadError, parse_notification

READ_TIMEOUT_SECONDS = 10.0


class TooLarge(Exception):
    pass


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], engine: Engine, credentials: Credentials, metrics: Metrics,
                 max_body: int, family: int = socket.AF_INET) -> None:
        self.address_family = family
        self.engine = engine
        self.credentials = credentials
        self.metrics = metrics
        self.max_body = max_body
        super().__init__(address, Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        if self.credentials.tls is not None:
            # The handshake happens on the connection's own thread (Handler.setup), not in accept().
            sock = self.credentials.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        self.engine.audit.record("http_error", client=str(client_address[0]),
                                 error=f"{type(error).__name__}: {error}")


class Handler(BaseHTTPRequestHandler):
    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    server_version = "gpuguard-actions"
    sys_version = ""

    def setup(self) -> None:
        self.request.settimeout(READ_TIMEOUT_SECONDS)
        # Headers and body are two writes; without NODELAY the second waits for the client's delayed
        # ACK (40 ms on Linux) — longer than the whole answer should take.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

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
            self.server.engine.audit.record("auth_failed", client=self.client_address[0])
            self._answer(401, "unauthorized\n", {"WWW-Authenticate": 'Bearer realm="gpuguard"'}, close=True)
            return
        try:
            body = self._body()
        except TooLarge:
            metrics.notifications.labels("too_large").inc()
            self.server.engine.audit.record("rejected", status=413, client=self.client_address[0])
            self._answer(413, f"body over {self.server.max_body} bytes\n", close=True)
            return
        except PayloadError as error:
            self._invalid(str(error), close=True)
            return
        try:
            notification = parse_notification(body)
        except PayloadError as error:
            self._invalid(str(error))
            return
        except Exception as error:  # a parser bug still must not become a 5xx
            self._invalid(f"unreadable payload ({type(error).__name__})")
            return
        metrics.notifications.labels("accepted").inc()
        answer = json.dumps({"status": "accepted", "alerts": len(notification.alerts)}) + "\n"
        self._answer(200, answer, {"Content-Type": "application/json"})
        self.wfile.flush()
        self.server.engine.submit(notification)

    def _invalid(self, reason: str, close: bool = False) -> None:
        self.server.metrics.notifications.labels("invalid").inc()
        self.server.engine.audit.record("rejected", status=400, reason=reason, client=self.client_address[0])
        self._answer(400, f"invalid notification: {reason}\n", close=close)

    def _body(self) -> bytes:
        limit = self.server.max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise PayloadError("Content-Length is required")
        try:
            length = int(length_header)
        except ValueError:
            raise PayloadError("Content-Length is not a number") from None
        if length < 0:
            raise PayloadError("Content-Length is negative")
        if length > limit:
            raise TooLarge
        body = self.rfile.read(length)
        if len(body) != length:
            raise PayloadError("body shorter than Content-Length")
        return body

    def _chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise PayloadError("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                raise TooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline(16)

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
