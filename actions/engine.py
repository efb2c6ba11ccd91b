"""Decisions: what each alert asks for, whether it is allowed, and the overrides it holds.

Notifications are decided one at a time on a single worker thread (that is what makes a retried or
HA-duplicated alert a duplicate rather than a race); the NVML work then runs on per-GPU lanes.
An override (a GPU's fans, a GPU's power limit) is held by leases: each firing alert that asked for
it holds it until its "resolved" arrives or its lease runs out; the last holder to let go restores.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from gpuguard import nvml
from gpuguard.actions.audit import AuditLog
from gpuguard.actions.gpu import ActionFailed, GpuOps, NotSupported
from gpuguard.actions.health import Health
from gpuguard.actions.lanes import Lanes
from gpuguard.actions.metrics import Metrics
from gpuguard.actions.payload import Alert, Notification
from gpuguard.actions.policy import ACTION_LABELS, Policy, PowerSetting, Step
from gpuguard.actions.state import StateStore
from gpuguard.actions.workloads import WorkloadKiller

KILL_RECORD_SECONDS = 24 * 3600  # how long a finished kill sequence still makes a retry a duplicate
DECISION_ALLOWANCE_S = 30.0  # one notification decided in longer than this: the decision loop is stuck


class Engine:
    def __init__(self, policy: Policy, node_name: str, ops: GpuOps, store: StateStore, audit: AuditLog,
                 metrics: Metrics, dry_run: bool = False) -> None:
        self.policy = policy
        self.node_name = node_name
        self.ops = ops
        self.store = store
        self.audit = audit
        self.metrics = metrics
        self.dry_run = dry_run
        self.lock = threading.RLock()
        self.state, self.state_problem = store.load()
        # Silence is measured on the monotonic clock: a wall-clock step never holds the failsafe off.
        self._heard_at = time.monotonic()
        self.lanes = Lanes(self._lane_error)
        self.killer = WorkloadKiller(self)
        self._queue: queue.Queue[tuple[float, Notification] | None] = queue.Queue()
        self._restoring: set[str] = set()
        # One fsync'd write per notification, not per alert: a 1000-alert repeat is 1000 lease renewals.
        self._batch = threading.local()
        self._save_cond = threading.Condition()
        self._save_requested = self._save_written = 0
        self._save_writing = False
        self._save_latest: tuple[int, bytes] = (0, b"")
        self._save_pending = False  # a save failed: the failsafe's tick retries it
        self._worker = threading.Thread(target=self._work, name="decisions", daemon=True)
        metrics.last_heartbeat.set(self.state.get("last_heartbeat", 0.0))
        self.health = Health(metrics.health)
        self.health.probe("audit", lambda: audit.failing)
        self.health.probe("nvml", lambda: ops.last_error)

    # --- bookkeeping ----------------------------------------------------------------------------
    def decide(self, action: str, result: str, **fields: Any) -> None:
        """Every decision, done or refused, goes to the audit log and to /metrics."""
        if self.dry_run:
            fields["dry_run"] = True
        self.audit.record("decision", action=action, result=result, **fields)
        self.metrics.actions.labels(action, result).inc()

    def save(self) -> None:
        """Persist the state durably before returning (a power limit is saved before it is changed).

        Group commit: callers on different GPU lanes that ask at the same time share one fsync'd
        write, taken after all of their changes. Inside a notification's batch on the decision
        thread it only marks the state dirty; the batch writes once at its end.
        """
        if getattr(self._batch, "active", False):
            self._batch.dirty = True
            return
        with self.lock:  # reentrant: callers often hold it already
            payload = self.store.serialize(self.state)
            counts = {"fan_boost": 0, "power_cap": 0}
            for record in self.state["overrides"].values():
                if record["holders"]:
                    counts[record["kind"]] += 1
            self._save_requested += 1
            ticket = self._save_requested
            self._save_latest = (ticket, payload)
        for kind, count in counts.items():
            self.metrics.overrides.labels(kind).set(count)
        # The writer never needs self.lock, so waiting here while holding it cannot deadlock.
        with self._save_cond:
            while self._save_written < ticket and self._save_writing:
                self._save_cond.wait()
            if self._save_written >= ticket:
                return
            self._save_writing = True
            covered, payload = self._save_latest
        try:
            self.store.write(payload)
        except OSError as error:
            # Acting comes first: the change stays in memory and in force; the save is retried.
            self._save_pending = True
            detail = f"state file {self.store.path}: {error.strerror or error}"
            self.health.fault("state", detail)
            self.audit.record("error", component="state", error=detail)
        else:
            if covered >= self._save_requested:
                self._save_pending = False
                self.health.clear("state")
        finally:
            with self._save_cond:
                self._save_writing = False
                self._save_written = max(self._save_written, covered)
                self._save_cond.notify_all()

    def retry_save(self) -> None:
        """Save again if an earlier save failed (called from the failsafe's tick)."""
        if self._save_pending:
            self.save()

    def _lane_error(self, lane: str, error: BaseException) -> None:
        self.audit.record("error", lane=lane, error=f"{type(error).__name__}: {error}")

    # --- notifications --------------------------------------------------------------------------
    def start(self) -> None:
        self.reconcile()
        self.health.watch("decisions", DECISION_ALLOWANCE_S, self._worker)
        self._worker.start()

    def submit(self, notification: Notification) -> None:
        self._queue.put((time.time(), notification))

    def stop(self) -> None:
        self._queue.put(None)

    def idle(self, timeout: float = 30.0) -> None:
        """Wait until every notification submitted so far is decided and its lane work has run."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        self.lanes.drain(timeout)

    def _work(self) -> None:
        while True:
            self.health.beat("decisions")
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            try:
                if item is None:
                    return
                self._decide_notification(*item)
            except Exception as error:  # the decision loop outlives anything one notification does
                self.audit.record("error", component="decisions", error=f"{type(error).__name__}: {error}")
            finally:
                self._queue.task_done()

    def _decide_notification(self, received: float, notification: Notification) -> None:
        self._batch.active, self._batch.dirty = True, False
        try:
            for alert in notification.alerts:
                try:
                    self.handle(alert, received)
                except Exception as error:  # one bad alert must not stop the others
                    self.audit.record("error", fingerprint=alert.fingerprint,
                                      error=f"{type(error).__name__}: {error}")
        finally:
            self._batch.active = False
            if self._batch.dirty:
                self.save()

    def handle(self, alert: Alert, received: float) -> None:
        labels = alert.labels
        action = labels.get("gpuguard_action")
        context = {"alertname": labels.get("alertname"), "status": alert.status,
                   "fingerprint": alert.fingerprint, "starts_at": alert.starts_at,
                   "uuid": labels.get("UUID"), "gpu": labels.get("gpu")}
        if action == "heartbeat" or (action is None and labels.get("alertname") ==
                                     self.policy.heartbeat_alertname):
            if alert.status == "firing":
                self.heartbeat(received)
            return
        if action not in ACTION_LABELS:
            self.decide(action if isinstance(action, str) and action else "none",
                        "unknown_action" if action else "no_action", **context)
            return
        host = labels.get(self.policy.host_label)
        if host != self.node_name:
            self.decide(action, "not_this_node", host=host, node=self.node_name, **context)
            return
        gpu = self.ops.gpu(labels.get("UUID", ""))
        if gpu is None:
            reason = "nvml_unavailable" if self.ops.last_error else "unknown_gpu"
            self.decide(action, reason, detail=self.ops.last_error, **context)
            return
        instance = None
        if "GPU_I_ID" in labels:
            try:
                instance = int(labels["GPU_I_ID"])
            except ValueError:
                instance = -1
            if instance < 0 or not self.ops.has_instance(gpu, instance):
                self.decide(action, "unknown_instance", gpu_instance=labels["GPU_I_ID"], **context)
                return
        steps = self.policy.actions.get(action)
        if not steps:
            self.decide(action, "no_policy", **context)
            return
        holder = alert.identity
        if alert.status == "resolved":
            self.release(holder, "resolved", context)
            return
        expires = received + self.policy.lease_seconds
        for step in steps:
            self.run_step(step, gpu, instance, holder, expires, context)

    def run_step(self, step: Step, gpu: nvml.Gpu, instance: int | None, holder: str,
                 expires: float | None, context: dict[str, Any]) -> None:
        if step.action == "fan_boost":
            self.hold(gpu, "fan_boost", holder, {"speed": step.speed_percent, "no_fans": step.no_fans},
                      expires, context)
        elif step.action == "power_cap":
            assert step.power is not None
            self.hold(gpu, "power_cap", holder, {"power": _power_dict(step.power)}, expires, context)
        else:
            self.killer.start(gpu, instance, holder, step.grace_seconds, context)

    def heartbeat(self, received: float) -> None:
        with self.lock:
            self.state["last_heartbeat"] = received
            self._heard_at = time.monotonic()
        self.metrics.last_heartbeat.set(received)
        self.audit.record("heartbeat", received=received)
        self.save()

    def silent_seconds(self) -> float:
        """Seconds since the last heartbeat (or since start, before the first)."""
        with self.lock:
            return time.monotonic() - self._heard_at

    # --- overrides ------------------------------------------------------------------------------
    def hold(self, gpu: nvml.Gpu, kind: str, holder: str, request: dict[str, Any], expires: float | None,
             context: dict[str, Any]) -> None:
        key = f"{gpu.uuid}/{kind}"
        with self.lock:
            record = self.state["overrides"].get(key)
            if record is not None and holder in record["holders"]:
                record["holders"][holder]["expires"] = expires
                self.save()
                self.decide(kind, "duplicate", detail="lease renewed", **context)
                return
            if record is None:
                record = {"uuid": gpu.uuid, "gpu": gpu.index, "kind": kind, "holders": {},
                          "saved_mw": None, "applied": None}
                self.state["overrides"][key] = record
            record["holders"][holder] = {"expires": expires, "request": request}
            self.save()
        self.lanes.submit(gpu.uuid, self._apply, key, context)

    def release(self, holder: str, reason: str, context: dict[str, Any]) -> int:
        """Let go of every override `holder` holds; restore those nobody else holds. Returns how many."""
        released = []
        with self.lock:
            for key, record in self.state["overrides"].items():
                if record["holders"].pop(holder, None) is not None:
                    released.append((key, record["uuid"]))
            if released:
                self.save()
        if not released and reason == "resolved":
            self.decide("restore", "nothing_held", **context)
        for key, uuid in released:
            self.lanes.submit(uuid, self._restore, key, reason, context)
        return len(released)

    def expire(self, now: float) -> None:
        """Drop lapsed leases and restore what nobody holds any more (also retries failed restores)."""
        to_restore = []
        with self.lock:
            changed = False
            for key, record in self.state["overrides"].items():
                for holder, lease in list(record["holders"].items()):
                    if lease["expires"] is not None and lease["expires"] <= now:
                        del record["holders"][holder]
                        changed = True
                        self.audit.record("lease_expired", key=key, holder=holder)
                if not record["holders"] and key not in self._restoring:
                    self._restoring.add(key)
                    to_restore.append((key, record["uuid"]))
            for identity, kill in list(self.state["kills"].items()):
                if kill.get("done") and now - kill.get("ts", now) > KILL_RECORD_SECONDS:
                    del self.state["kills"][identity]
                    changed = True
            if changed:
                self.save()
        for key, uuid in to_restore:
            self.lanes.submit(uuid, self._restore, key, "lease_expired", {"uuid": uuid})

    def _apply(self, key: str, context: dict[str, Any]) -> None:
        with self.lock:
            record = self.state["overrides"].get(key)
            if record is None or not record["holders"]:
                return
            requests = [lease["request"] for lease in record["holders"].values()]
        gpu = self.ops.gpu(record["uuid"])
        if gpu is None:
            self.decide(record["kind"], "unknown_gpu", **context)
            return
        if record["kind"] == "fan_boost":
            self._apply_fans(key, record, gpu, requests, context)
        else:
            self._apply_power(key, record, gpu, requests, context)

    def _apply_fans(self, key: str, record: dict[str, Any], gpu: nvml.Gpu, requests: list[dict[str, Any]],
                    context: dict[str, Any]) -> None:
        speeds = [r["speed"] for r in requests]
        target: float | str = "max" if "max" in speeds else max(float(s) for s in speeds)
        if record["applied"] == target:
            self.decide("fan_boost", "duplicate", detail="already in force", **context)
            return
        if self.dry_run:
            record["applied"] = target
            self.decide("fan_boost", "dry_run", speed=target, **context)
            return
        try:
            applied = self.ops.fan_boost(gpu, target)
        except NotSupported as error:
            self._no_fans(key, record, gpu, requests, str(error), context)
            return
        except ActionFailed as error:
            self.decide("fan_boost", "failed", detail=str(error), **context)
            return
        with self.lock:
            record["applied"] = target
            self.save()
        self.decide("fan_boost", "applied", speeds=applied, **context)

    def _no_fans(self, key: str, record: dict[str, Any], gpu: nvml.Gpu, requests: list[dict[str, Any]],
                 detail: str, context: dict[str, Any]) -> None:
        with self.lock:
            holders = dict(record["holders"])
            self.state["overrides"].pop(key, None)
            self.save()
        fallback = any(r["no_fans"] == "power_cap" for r in requests)
        self.decide("fan_boost", "not_supported", detail=detail,
                    fallback="power_cap" if fallback else "none", **context)
        if fallback:
            for holder, lease in holders.items():
                if lease["request"]["no_fans"] == "power_cap":
                    self.hold(gpu, "power_cap", holder,
                              {"power": _power_dict(self.policy.fallback_power_cap)}, lease["expires"],
                              {**context, "fallback_for": "fan_boost"})

    def _apply_power(self, key: str, record: dict[str, Any], gpu: nvml.Gpu, requests: list[dict[str, Any]],
                     context: dict[str, Any]) -> None:
        try:
            target = min(self.ops.power_target_mw(gpu, PowerSetting(**r["power"])) for r in requests)
            if record["applied"] == target:
                self.decide("power_cap", "duplicate", detail="already in force", **context)
                return
            if record["saved_mw"] is None:
                saved = self.ops.power_limit_mw(gpu)
                with self.lock:
                    record["saved_mw"] = saved  # persisted before the change, so a crash can restore
                    self.save()
            if self.dry_run:
                record["applied"] = target
                self.decide("power_cap", "dry_run", milliwatts=target, **context)
                return
            now = self.ops.set_power_limit(gpu, target)
        except NotSupported as error:
            with self.lock:
                self.state["overrides"].pop(key, None)
                self.save()
            self.decide("power_cap", "not_supported", detail=str(error), **context)
            return
        except ActionFailed as error:
            self.decide("power_cap", "failed", detail=str(error), **context)
            return
        with self.lock:
            record["applied"] = target
            self.save()
        self.decide("power_cap", "applied", milliwatts=now, previous_milliwatts=record["saved_mw"], **context)

    def _restore(self, key: str, reason: str, context: dict[str, Any]) -> None:
        try:
            with self.lock:
                record = self.state["overrides"].get(key)
                if record is None or record["holders"]:
                    return
            action = "fan_restore" if record["kind"] == "fan_boost" else "power_restore"
            gpu = self.ops.gpu(record["uuid"])
            if gpu is None:
                self.decide(action, "unknown_gpu", reason=reason, **context)
                return
            if self.dry_run or record["applied"] is None:
                result = "dry_run" if self.dry_run else "nothing_applied"
                with self.lock:
                    self.state["overrides"].pop(key, None)
                    self.save()
                self.decide(action, result, reason=reason, **context)
                return
            try:
                if record["kind"] == "fan_boost":
                    detail = {"fans": self.ops.fan_restore(gpu)}
                else:
                    detail = {"milliwatts": self.ops.set_power_limit(gpu, int(record["saved_mw"]))}
            except ActionFailed as error:
                self.decide(action, "failed", reason=reason, detail=str(error), **context)
                return  # kept: the next lease tick retries
            with self.lock:
                if not record["holders"]:
                    self.state["overrides"].pop(key, None)
                self.save()
            self.decide(action, "restored", reason=reason, **detail, **context)
        finally:
            with self.lock:
                self._restoring.discard(key)

    # --- restart --------------------------------------------------------------------------------
    def reconcile(self) -> None:
        """After a restart: restore what lapsed while we were down, re-assert what is still held."""
        if self.state_problem is not None:
            self.audit.record("state_set_aside", detail=self.state_problem)
            self._reset_unknown_overrides()
        now = time.time()
        with self.lock:
            overrides = self.state["overrides"]
            for key, record in overrides.items():
                for holder, lease in list(record["holders"].items()):
                    # failsafe holds have no lease: the failsafe re-takes them if still needed
                    if lease["expires"] is None or lease["expires"] <= now:
                        del record["holders"][holder]
                record["applied"] = None if record["holders"] else record["applied"]
                self.audit.record("reconcile", key=key, holders=sorted(record["holders"]),
                                  action="reapply" if record["holders"] else "restore")
            for identity, kill in list(self.state["kills"].items()):
                if not kill.get("done"):
                    # a sequence cut short by the restart: forget it, so the alert's next repeat starts
                    # a fresh one from NVML's current process list (never from remembered PIDs)
                    del self.state["kills"][identity]
                    self.audit.record("kill_interrupted", identity=identity)
            self.save()
            keys = [(key, record["uuid"], bool(record["holders"])) for key, record in overrides.items()]
        for key, uuid, held in keys:
            if held:
                self.lanes.submit(uuid, self._apply, key, {"uuid": uuid, "reason": "reconcile"})
        self.expire(now)


    def _reset_unknown_overrides(self) -> None:
        """The state was lost, so what this receiver had changed is unknown: put every GPU's power
        limit back to the driver's default where it is below it, and its fans back to automatic."""
        for gpu in self.ops.gpus().values():
            context = {"uuid": gpu.uuid, "gpu": str(gpu.index), "reason": "state_set_aside"}
            if self.dry_run:
                self.decide("power_restore", "dry_run", **context)
                continue
            try:
                restored = self.ops.reset_power_limit_if_capped(gpu)
                if restored is not None:
                    self.decide("power_restore", "restored", milliwatts=restored, **context)
            except ActionFailed as error:
                self.decide("power_restore", "failed", detail=str(error), **context)
            try:
                self.decide("fan_restore", "restored", fans=self.ops.fan_restore(gpu), **context)
            except NotSupported:
                pass
            except ActionFailed as error:
                self.decide("fan_restore", "failed", detail=str(error), **context)


def _power_dict(setting: PowerSetting) -> dict[str, float]:
    if setting.watts is not None:
        return {"watts": setting.watts}
    return {"fraction_of_default": float(setting.fraction_of_default or 1.0)}
