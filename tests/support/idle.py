"""Idle clients that hold connections open against a server (slowloris), for the exhaustion tests."""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import threading
import time

from tests.support.procs import wait_for

FILE_LIMIT = 1024  # the default soft and hard RLIMIT_NOFILE of a unit without LimitNOFILE
ATTACKERS = 1100


def limit_files() -> None:
    """preexec_fn: the child starts with RLIMIT_NOFILE FILE_LIMIT:FILE_LIMIT."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


class IdleClients:
    """ATTACKERS connections that send nothing (or half a request line) and are reopened when the
    server closes them, so the pressure lasts as long as the block."""

    def __init__(self, port: int, count: int = ATTACKERS, partial: bytes = b"") -> None:
        self.port = port
        self.count = count
        self.partial = partial
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.opened = 0
        self.established = 0  # connect() completed (in the server's accept queue, or accepted)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", self.port))
        self.selector.register(sock, selectors.EVENT_WRITE)
        self.opened += 1

    def _connected(self, sock: socket.socket) -> bool:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return False
        self.established += 1
        self.selector.modify(sock, selectors.EVENT_READ)
        if self.partial:
            with contextlib.suppress(OSError):
                sock.send(self.partial)
        return True

    def _run(self) -> None:
        for _ in range(self.count):
            self._open()
        while not self.stopping.is_set():
            closed = 0
            for key, events in self.selector.select(timeout=0.1):
                if events & selectors.EVENT_WRITE and self._connected(key.fileobj):  # type: ignore[arg-type]
                    continue
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()  # type: ignore[union-attr]
                    closed += 1
            for _ in range(closed):
                self._open()
            time.sleep(0.05)  # reopen in batches: pressure, not a busy loop on a 2-core machine

    def __enter__(self) -> IdleClients:
        self.thread.start()
        wait_for(lambda: self.opened >= self.count, timeout=30, what=f"{self.count} idle connections")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()
