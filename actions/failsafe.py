"""The local failsafe: when the Watchdog heartbeat falls silent, the receiver watches NVML itself.

This is the seed's temperature guardian kept as a safety net under the Prometheus pipeline: at or
above the warning threshold the fans are boosted, at or above the critical one the GPU's workloads
are killed, until heartbeats return and it stands down (restoring what it changed). The same loop
also expires leases, so it ticks at least once a second whether engaged or not.
"""

from __future__ import annotations

import threading
import time

from gpuguard.actions.engine import Engine
from gpuguard.actions.gpu import ActionFailed
from gpuguard.actions.policy import Step

HOLDER = "failsafe"
# Below warning by this much before the failsafe lets the fans go: no flapping at the threshold.
HYSTERESIS_CELSIUS = 2.0
ALLOWANCE_S = 10.0  # no tick for this long: the failsafe is stuck, and /health says so


class Failsafe:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.policy = engine.policy
        self.active = False
        self._boosted: set[str] = set()
        self._killing: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="failsafe", daemon=True)

    def start(self) -> None:
        self.engine.health.watch("failsafe", ALLOWANCE_S, self._thread)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = min(self.policy.poll_interval_seconds, 1.0)
        while not self._stop.wait(interval):
            self.engine.health.beat("failsafe")
            try:
                self.engine.retry_save()
                self.tick(time.time())
            except Exception as error:  # the safety net must keep running
                self.engine.audit.record("error", component="failsafe",
                                         error=f"{type(error).__name__}: {error}")

    def tick(self, now: float) -> None:
        engine = self.engine
        engine.expire(now)
        silent_for = engine.silent_seconds()
        silent = silent_for > self.policy.heartbeat_timeout_seconds
        if silent and not self.active:
            self.active = True
            engine.metrics.failsafe.set(1)
            engine.audit.record("failsafe_engaged", silent_seconds=round(silent_for, 3))
        elif not silent and self.active:
            self.active = False
            engine.metrics.failsafe.set(0)
            engine.audit.record("failsafe_stood_down", silent_seconds=round(silent_for, 3))
            self._boosted.clear()
            engine.release(HOLDER, "failsafe_stood_down", {"source": "failsafe"})
        if self.active:
            self._guard()

    def _guard(self) -> None:
        engine = self.engine
        for uuid, gpu in engine.ops.gpus().items():
            try:
                celsius = engine.ops.temperature(gpu)
            except ActionFailed as error:
                engine.audit.record("failsafe_read_failed", uuid=uuid, detail=str(error))
                continue
            # The same per-board limits as the rules (config.libsonnet's temperatureLimits), from what
            # the board reports through NVML: the local path never kills where Prometheus would not.
            limits = self.policy.limits().for_board(gpu.name, celsius,
                                                    **engine.ops.board_limits_readings(gpu))
            context = {"source": "failsafe", "uuid": uuid, "gpu": str(gpu.index), "celsius": celsius,
                       "limit_source": limits.source, "critical_celsius": limits.critical_celsius}
            if celsius >= limits.warning_celsius and uuid not in self._boosted:
                self._boosted.add(uuid)
                engine.run_step(Step(action="fan_boost", speed_percent="max"), gpu, None, HOLDER, None,
                                context)
            elif celsius < limits.warning_celsius - HYSTERESIS_CELSIUS and uuid in self._boosted:
                self._boosted.discard(uuid)
                self._release_gpu(uuid, context)
            if celsius >= limits.critical_celsius and self._has_workloads(gpu):
                with self._lock:
                    if uuid in self._killing:
                        continue
                    self._killing.add(uuid)
                engine.killer.start(gpu, None, f"{HOLDER}:{uuid}", self.policy.failsafe_grace_seconds,
                                    context, on_done=lambda u=uuid: self._killed(u), remember=False)

    def _has_workloads(self, gpu: object) -> bool:
        try:
            return bool(self.engine.ops.processes(gpu))  # type: ignore[arg-type]
        except ActionFailed:
            return True  # let the kill step report the failure

    def _killed(self, uuid: str) -> None:
        with self._lock:
            self._killing.discard(uuid)

    def _release_gpu(self, uuid: str, context: dict[str, object]) -> None:
        engine = self.engine
        released = []
        with engine.lock:
            for key, record in engine.state["overrides"].items():
                if record["uuid"] == uuid and record["holders"].pop(HOLDER, None) is not None:
                    released.append(key)
            engine.save()
        for key in released:
            engine.lanes.submit(uuid, engine._restore, key, "failsafe_cooled", context)
