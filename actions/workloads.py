"""The kill_workloads step: which processes on the hot GPU may be signalled, and the kill sequence.

Only PIDs that NVML reports on that GPU (MIG: that instance) are candidates; never init, this
receiver or its parent, nor a protected process. The pidfd is opened first and NVML asked again
afterwards, so the pidfd is known to name the very process NVML reports; from then on every signal
goes through the pidfd. One firing alert gets one sequence; a cap on kills per minute bounds the
damage a broken rule can do.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gpuguard import nvml
from gpuguard.actions import kill
from gpuguard.actions.gpu import ActionFailed

if TYPE_CHECKING:
    from gpuguard.actions.engine import Engine


class RateLimit:
    """At most `per_minute` processes signalled in any sliding minute, across all GPUs."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 60.0:
                self._times.popleft()
            granted = max(0, min(wanted, self.per_minute - len(self._times)))
            self._times.extend([now] * granted)
            return granted


class WorkloadKiller:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rate = RateLimit(engine.policy.kills_per_minute)

    def start(self, gpu: nvml.Gpu, instance: int | None, identity: str, grace: float,
              context: dict[str, Any], on_done: Callable[[], None] | None = None,
              remember: bool = True) -> bool:
        """Decide one kill sequence for `identity`; False when one is already running for it.

        A repeat of an alert whose sequence has finished starts another: it kills workloads that
        appeared since (a job restarted on the still-hot GPU) and, with nothing left, is a duplicate.
        A sequence that failed or was rate-limited is forgotten, so the next repeat retries it.
        """
        engine = self.engine
        repeat = False
        if remember:
            with engine.lock:
                record = engine.state["kills"].get(identity)
                if record is not None and not record.get("done"):
                    engine.decide("kill_workloads", "duplicate", **context)
                    return False
                repeat = record is not None
                engine.state["kills"][identity] = {"ts": time.time(), "uuid": gpu.uuid, "done": False}
                engine.save()
        engine.lanes.submit(gpu.uuid, self._select, gpu, instance, identity, grace, context, on_done,
                            remember, repeat)
        return True

    def _select(self, gpu: nvml.Gpu, instance: int | None, identity: str, grace: float,
                context: dict[str, Any], on_done: Callable[[], None] | None, remember: bool,
                repeat: bool = False) -> None:
        engine = self.engine
        targets: list[kill.Target] = []
        complete = True  # False: something could not be done, and a repeat must try again
        try:
            targets = self._targets(gpu, instance, context)
            if engine.dry_run:
                engine.decide("kill_workloads", "dry_run", pids=[t.pid for t in targets], grace=grace,
                              **context)
                kill.close(targets)
                targets = []
            else:
                granted = self.rate.take(len(targets))
                for target in targets[granted:]:
                    complete = False
                    engine.decide("kill_workloads", "rate_limited", pid=target.pid,
                                  limit=engine.policy.kills_per_minute, **context)
                kill.close(targets[granted:])
                targets = targets[:granted]
        except Exception as error:  # NVML gone, no file descriptors left (EMFILE at pidfd_open), ...
            kill.close(targets)
            detail = str(error) if isinstance(error, ActionFailed) else f"{type(error).__name__}: {error}"
            engine.decide("kill_workloads", "failed", detail=detail, **context)
            targets, complete = [], False
        if not targets:
            if not engine.dry_run and complete:
                if repeat:
                    engine.decide("kill_workloads", "duplicate", detail="done; nothing left to kill",
                                  **context)
                else:
                    engine.decide("kill_workloads", "nothing_to_kill", **context)
            self._finish(identity, on_done, remember, complete)
            return
        engine.audit.record("kill_started", pids=[t.pid for t in targets], grace=grace, **context)
        # The grace period is waited out on its own thread, so this GPU's lane stays free for restores.
        threading.Thread(target=self._sequence,
                         args=(targets, identity, grace, context, on_done, remember, complete),
                         name=f"kill-{gpu.index}", daemon=True).start()

    def _targets(self, gpu: nvml.Gpu, instance: int | None, context: dict[str, Any]) -> list[kill.Target]:
        engine = self.engine
        policy = engine.policy
        reported = engine.ops.processes(gpu, instance)
        untouchable = kill.never_touch()
        opened: list[kill.Target] = []
        for pid in sorted(reported):
            if pid in untouchable:
                engine.decide("kill_workloads", "never_touch", pid=pid, reason=untouchable[pid], **context)
                continue
            target = kill.open_target(pid)
            if target is None:
                engine.decide("kill_workloads", "gone", pid=pid, **context)
                continue
            target.info = kill.read_process(pid)
            why = kill.protection(target.info, policy.protected_executables, policy.protected_names,
                                  policy.protected_users,
                                  policy.protected_cgroups) if target.info else None
            if why is not None:
                engine.decide("kill_workloads", "protected", pid=pid, reason=why, **context)
                kill.close([target])
                continue
            opened.append(target)
        # Asked again after the pidfds exist: a PID recycled before its pidfd was opened is not
        # reported on this GPU any more, so its pidfd (naming the newcomer) is dropped here.
        confirmed = engine.ops.processes(gpu, instance) if opened else set()
        targets = []
        for target in opened:
            if target.pid in confirmed and not kill.has_exited(target):
                targets.append(target)
            else:
                engine.decide("kill_workloads", "gone", pid=target.pid, **context)
                kill.close([target])
        return targets

    def _sequence(self, targets: list[kill.Target], identity: str, grace: float, context: dict[str, Any],
                  on_done: Callable[[], None] | None, remember: bool, complete: bool) -> None:
        engine = self.engine
        try:
            outcome = kill.terminate(targets, grace)
            result = "survivors" if outcome.survivors else "killed"
            engine.decide("kill_workloads", result, terminated=outcome.terminated, killed=outcome.killed,
                          survivors=outcome.survivors, grace=grace, **context)
            complete = complete and not outcome.survivors
        except Exception as error:
            engine.decide("kill_workloads", "failed", detail=f"{type(error).__name__}: {error}", **context)
            complete = False
        finally:
            kill.close(targets)
            self._finish(identity, on_done, remember, complete)

    def _finish(self, identity: str, on_done: Callable[[], None] | None, remember: bool,
                complete: bool) -> None:
        """Mark the sequence done, or forget it when it fell short so that a repeat retries."""
        engine = self.engine
        try:
            if remember:
                with engine.lock:
                    if complete:
                        record = engine.state["kills"].get(identity)
                        if record is not None:
                            record["done"] = True
                    else:
                        engine.state["kills"].pop(identity, None)
                    engine.save()
        finally:
            if on_done is not None:
                on_done()
