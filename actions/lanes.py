"""One serial work lane per GPU: a GPU's changes run in the order they were decided, while different
GPUs proceed in parallel (64 GPUs are not boosted one after the other)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Lanes:
    def __init__(self, on_error: Callable[[str, BaseException], None]) -> None:
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._on_error = on_error

    def submit(self, lane: str, function: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            executor = self._lanes.get(lane)
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lane-{lane[:16]}")
                self._lanes[lane] = executor
        return executor.submit(self._guarded, lane, function, *args)

    def _guarded(self, lane: str, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except BaseException as error:  # a lane must survive any one job's failure
            self._on_error(lane, error)
            return None

    def drain(self, timeout: float | None = None) -> None:
        """Wait for everything submitted so far (tests, shutdown)."""
        with self._lock:
            executors = list(self._lanes.values())
        for executor in executors:
            executor.submit(lambda: None).result(timeout)

    def shutdown(self) -> None:
        with self._lock:
            executors = list(self._lanes.values())
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=False)
