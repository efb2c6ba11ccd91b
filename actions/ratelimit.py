"""What unauthenticated clients may cost: a failure budget per address, and sampled audit lines.

Every 401 used to write an audit line: one local client filled a disk at ~150 KB/s. Now each client
address has a token bucket of failures (`FAILURE_BURST`, refilled at `FAILURE_RATE` a second); past it
the answer is 429 and nothing is read or written for it. Audit lines for such events are sampled: the
first `SAMPLE_LINES` of each kind per `SAMPLE_SECONDS` are written as they come, the rest are counted
and summed up in one `<event>_suppressed` line per interval (with the busiest client addresses), so the
log grows by a bounded amount whatever the rate. Metrics still count every one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, OrderedDict
from typing import Any

from gpuguard.actions.audit import AuditLog

FAILURE_BURST = 200
FAILURE_RATE = 20.0
MAX_ADDRESSES = 4096
SAMPLE_SECONDS = 10.0
SAMPLE_LINES = 5
SUMMARY_CLIENTS = 5


class FailureLimiter:
    """Per client address: True from `allow()` while its budget of failed requests lasts."""

    def __init__(self, burst: int = FAILURE_BURST, rate: float = FAILURE_RATE) -> None:
        self.burst = burst
        self.rate = rate
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[address] = (tokens, now)
            while len(self._buckets) > MAX_ADDRESSES:  # least recently seen first
                self._buckets.popitem(last=False)
            return allowed


class SampledAudit:
    """Audit lines for events any client can cause, at a bounded rate."""

    def __init__(self, audit: AuditLog, interval: float = SAMPLE_SECONDS, lines: int = SAMPLE_LINES) -> None:
        self.audit = audit
        self.interval = interval
        self.lines = lines
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._written: Counter[str] = Counter()
        self._suppressed: dict[str, Counter[str]] = {}

    def record(self, event: str, client: str, **fields: Any) -> None:
        self.flush()
        with self._lock:
            write = self._written[event] < self.lines
            if write:
                self._written[event] += 1
            else:
                self._suppressed.setdefault(event, Counter())[client] += 1
        if write:
            self._write(event, client=client, **fields)

    def flush(self, force: bool = False) -> None:
        """Write the summary of the interval that ended (all of it when `force`)."""
        with self._lock:
            if not force and time.monotonic() - self._start < self.interval:
                return
            suppressed, self._suppressed = self._suppressed, {}
            self._written.clear()
            self._start = time.monotonic()
        for event, clients in suppressed.items():
            self._write(f"{event}_suppressed", count=sum(clients.values()), interval_seconds=self.interval,
                        clients=dict(clients.most_common(SUMMARY_CLIENTS)), addresses=len(clients))

    def _write(self, event: str, **fields: Any) -> None:
        # A full disk must not turn an answer into a 5xx; metrics still count it.
        with contextlib.suppress(Exception):
            self.audit.record(event, **fields)
