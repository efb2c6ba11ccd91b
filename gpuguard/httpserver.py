"""The HTTP server under the exporter and the receiver: bounded, so idle clients cannot switch it off.

`http.server.ThreadingHTTPServer` alone falls to ~1,100 idle connections: its timeout is per read (a
client that sends one byte every few seconds holds a thread for ever), it has no connection cap, a
listen backlog of 5, and when `accept()` fails with EMFILE its loop spins at 100 % CPU. Here:

- a deadline per connection, not per read: `header_timeout` from accept (or, on a kept-alive
  connection, from its first byte) to the end of the headers, `body_timeout` from there to the end of
  the answer, `idle_timeout` between requests; a reaper thread shuts down sockets past theirs;
- a cap on open connections, below the file-descriptor limit minus a reserve (`FD_RESERVE`) kept for
  the process's own work (pidfds, state saves, NVML); at the cap the oldest connection that has not
  yet sent complete headers is shed to make room, and when none is, accepting waits;
- the listen backlog of Go's servers (net.core.somaxconn), and a soft NOFILE limit raised to the hard
  one at start, as Go does;
- `accept()` failures back off (5 ms doubling to 1 s, as Go's `net/http`) and shed the oldest idle
  connection, so the loop neither spins nor starves;
- request framing checked once for both: two `Content-Length` headers, `Transfer-Encoding` with
  `Content-Length`, or a transfer coding other than `chunked` set `framing_error`; a body a handler did
  not read closes the connection after the answer (never parsed as the next request).
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0
MAX_CONNECTIONS = 256
# Descriptors never handed to connections: the receiver opens a pidfd per process it kills (a 64-GPU
# fan-out is hundreds), writes state through temporary files, and NVML keeps its own.
FD_RESERVE = 256
MIN_CONNECTIONS = 8
ACCEPT_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# Phases of a connection; only the first two may be shed to make room for a new one.
IDLE, HEADERS, REQUEST = "idle", "headers", "request"


def listen_backlog() -> int:
    """net.core.somaxconn, as Go's net package reads it (the kernel caps any larger backlog there)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as file:
            return max(128, min(int(file.read().strip()), 65535))
    except (OSError, ValueError):
        return socket.SOMAXCONN


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (Go does this at start); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 32


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered so that connections never take the descriptors FD_RESERVE keeps."""
    soft = raise_nofile_limit()
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(MIN_CONNECTIONS, min(wanted, soft - open_fds() - FD_RESERVE))


@dataclass
class Limits:
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    max_connections: int = MAX_CONNECTIONS


class Connection:
    __slots__ = ("closed", "deadline", "phase", "since", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.phase = IDLE
        self.since = time.monotonic()
        self.deadline = deadline
        self.closed = False


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with the bounds above; `on_event(kind)` is told of every shed connection
    (`shed_cap`, `header_timeout`, `body_timeout`, `idle_timeout`) and accept failure (`accept_error`)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 limits: Limits | None = None, tls: ssl.SSLContext | None = None,
                 family: int = socket.AF_INET) -> None:
        self.address_family = family
        self.request_queue_size = listen_backlog()
        self.limits = limits or Limits()
        self.max_connections = connection_cap(self.limits.max_connections)
        self.tls = tls
        self._connections: dict[int, Connection] = {}
        self._lock = threading.Condition()
        self._accept_delay = 0.0
        self._closing = threading.Event()
        super().__init__(address, handler)
        self._reaper = threading.Thread(target=self._reap, name="http-reaper", daemon=True)
        self._reaper.start()

    def on_event(self, kind: str) -> None:
        """Hook for metrics or logs; must be cheap and must not raise."""

    # --- accepting --------------------------------------------------------------------------------
    def get_request(self) -> tuple[Any, Any]:
        if not self._make_room():
            # Every connection is mid-request: new ones wait in the backlog until one ends.
            raise OSError(errno.EAGAIN, "connection cap reached")
        try:
            sock, address = self.socket.accept()
        except OSError as error:
            if error.errno in ACCEPT_ERRNOS:
                self.on_event("accept_error")
                self._shed_oldest_idle("shed_cap")
                self._accept_delay = min(max(self._accept_delay * 2, 0.005), 1.0)
                time.sleep(self._accept_delay)
            raise
        self._accept_delay = 0.0
        if self.tls is not None:
            # The handshake runs on the connection's own thread (under its header deadline).
            try:
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError):
                sock.close()
                raise
        # Counted from accept, before its thread exists, so a burst of accepts cannot overshoot the cap.
        with self._lock:
            self._connections[id(sock)] = Connection(sock, time.monotonic() + self.limits.header_timeout)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        # Every path that ends a connection comes here (thread done, thread not started, refused).
        self.unregister(id(request))
        super().shutdown_request(request)

    def _make_room(self) -> bool:
        with self._lock:
            deadline = time.monotonic() + 0.5
            while len(self._connections) >= self.max_connections:
                if self._closing.is_set() or time.monotonic() >= deadline:
                    return False
                if not self._shed_oldest_idle_locked("shed_cap"):
                    self._lock.wait(0.05)
            return True

    def _shed_oldest_idle(self, reason: str) -> bool:
        with self._lock:
            return self._shed_oldest_idle_locked(reason)

    def _shed_oldest_idle_locked(self, reason: str) -> bool:
        candidates = [c for c in self._connections.values() if c.phase != REQUEST and not c.closed]
        if not candidates:
            return False
        oldest = min(candidates, key=lambda c: c.since)
        self._shut(oldest, reason)
        return True

    def _shut(self, connection: Connection, reason: str) -> None:
        # Called with the lock held. The plain socket's shutdown, never SSLSocket's: that one drops the
        # SSL object under the thread that may be inside it. The handler thread sees EOF and ends.
        connection.closed = True
        with contextlib.suppress(OSError):
            socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)
        self.on_event(reason)
        # Counted as gone now: the thread may take a moment to notice, the descriptor is freed with it.
        self._connections.pop(id(connection.sock), None)
        self._lock.notify_all()

    def _reap(self) -> None:
        while not self._closing.wait(0.25):
            try:
                now = time.monotonic()
                with self._lock:
                    for connection in list(self._connections.values()):
                        if now >= connection.deadline and not connection.closed:
                            self._shut(connection, {IDLE: "idle_timeout", HEADERS: "header_timeout",
                                                    REQUEST: "body_timeout"}[connection.phase])
            except Exception:  # the reaper must outlive any surprise; the next round tries again
                pass

    # --- bookkeeping for handlers ----------------------------------------------------------------
    def enter(self, key: int, phase: str, timeout: float, restart_clock: bool = True) -> bool:
        """Move a connection to `phase` with a deadline `timeout` from now; False once it was shed."""
        with self._lock:
            connection = self._connections.get(key)
            if connection is None or connection.closed:
                return False
            connection.phase = phase
            if restart_clock:
                connection.since = time.monotonic()
                connection.deadline = connection.since + timeout
            return True

    def unregister(self, key: int) -> None:
        with self._lock:
            if self._connections.pop(key, None) is not None:
                self._lock.notify_all()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()


class BoundedHandler(BaseHTTPRequestHandler):
    """Keeps the server's connection table up to date and checks request framing."""

    server: BoundedHTTPServer
    protocol_version = "HTTP/1.1"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait
    framing_error: str | None = None
    body_read = False
    _key = -1
    _requests = 0

    def setup(self) -> None:
        self._key = id(self.request)
        limits = self.server.limits
        # A backstop only: deadlines are per connection and enforced by the reaper.
        self.timeout = max(limits.header_timeout, limits.body_timeout, limits.idle_timeout)
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def handle_one_request(self) -> None:
        limits = self.server.limits
        # Kept alive: idle until the first byte, then the header deadline.
        if self._requests and not self.server.enter(self._key, IDLE, limits.idle_timeout):
            self.close_connection = True
            return
        try:
            first = self.rfile.peek(1)
        except (OSError, ValueError):
            first = b""
        if not first:
            self.close_connection = True
            return
        # A fresh connection's header deadline runs from accept (the handshake included).
        kept_alive = bool(self._requests)
        if not self.server.enter(self._key, HEADERS, limits.header_timeout, restart_clock=kept_alive):
            self.close_connection = True
            return
        self._requests += 1
        self.framing_error = None
        self.body_read = False
        self.headers = None  # type: ignore[assignment]  # not the previous request's
        super().handle_one_request()
        if self.has_body() and not self.body_read:
            self.close_connection = True

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if not self.server.enter(self._key, REQUEST, self.server.limits.body_timeout):
            self.close_connection = True
            return False
        lengths = self.headers.get_all("Content-Length") or []
        codings = self.headers.get_all("Transfer-Encoding") or []
        if len(lengths) > 1:
            self.framing_error = "more than one Content-Length header"
        elif codings and lengths:
            self.framing_error = "both Transfer-Encoding and Content-Length"
        elif codings and (len(codings) > 1 or codings[0].strip().lower() != "chunked"):
            self.framing_error = "unsupported Transfer-Encoding (only chunked)"
        if self.framing_error:
            self.close_connection = True
        return True

    def has_body(self) -> bool:
        if getattr(self, "headers", None) is None:
            return False
        length = self.headers.get("Content-Length", "0").strip()
        return bool(self.headers.get("Transfer-Encoding")) or length not in ("", "0")
