"""HTTP: `/metrics` (the last snapshot, gzipped when asked), `/health` (`OK`), `/` (a landing page).

Basic auth (when configured) guards every path, as exporter-toolkit does. The TLS handshake runs in
the connection's own thread, so a slow client cannot hold up accepting others. Connections are bounded
by gpuguard.httpserver (deadlines per connection, a cap that sheds the oldest idle one, accept back-off),
so idle clients cannot stop scrapes.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from gpuguard.exporter.engine import Engine
from gpuguard.httpserver import BoundedHandler, BoundedHTTPServer
from gpuguard.webconfig import WebConfig

log = logging.getLogger("gpuguard.exporter")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LANDING = (b"<html><head><title>gpuguard exporter</title></head><body><h1>gpuguard exporter</h1>"
           b'<p>DCGM-compatible GPU metrics from NVML: <a href="metrics">/metrics</a>, '
           b'<a href="health">/health</a></p></body></html>\n')


class Handler(BoundedHandler):
    # HTTP/1.1 keep-alive (BoundedHandler): Prometheus reuses its connection.
    server: ExporterServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the journal

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        users = self.server.web.users
        if users and not users.check_header(self.headers.get("Authorization")):
            self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8",
                       {"WWW-Authenticate": 'Basic realm="gpuguard"'})
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            engine = self.server.engine
            engine.scrapes += 1
            snapshot = engine.snapshot
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self._send(200, snapshot.gzipped, CONTENT_TYPE, {"Content-Encoding": "gzip"})
            else:
                self._send(200, snapshot.body, CONTENT_TYPE)
        elif path == "/health":
            self._send(200, b"OK", "text/plain; charset=utf-8")
        elif path == "/":
            self._send(200, LANDING, "text/html; charset=utf-8")
        else:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET


class ExporterServer(BoundedHTTPServer):
    def __init__(self, address: tuple[str, int], engine: Engine, web: WebConfig) -> None:
        self.engine = engine
        self.web = web
        self._shed = 0
        self._reported = time.monotonic()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler, tls=web.tls, family=family)

    def on_event(self, kind: str) -> None:
        self._shed += 1  # a torrent of idle clients: one warning a minute, not one a connection

    def service_actions(self) -> None:
        if self._shed and time.monotonic() - self._reported >= 60:
            log.warning("closed %d HTTP connections in the last minute (idle, slow or over the cap of %d)",
                        self._shed, self.max_connections)
            self._shed, self._reported = 0, time.monotonic()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up or fails the TLS handshake is not the exporter's problem
