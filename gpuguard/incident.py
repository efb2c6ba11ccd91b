"""The overheat incident of the demo, end to end on a simulated `seed` node and the shipped stack.

GPU 0 heats (hot ambient), the warning tier boosts its fans, a fan failure makes it climb anyway, at
the critical limit its workload is killed, it cools, the alerts resolve and its fans are restored.
GPU 1 runs a workload throughout and is never touched. Every step is judged from the records of the
simulator, Prometheus, Alertmanager and the receiver's audit log, in order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuguard import stack as stk
from gpuguard.observe import Observer, StepFailed, prometheus_query, read_jsonl, wait_until
from gpuguard.simulator.node import SimNode, Workload

HOT_AMBIENT_C = 35.0
FAN_SETTERS = ("nvmlDeviceSetFanSpeed_v2", "nvmlDeviceSetFanControlPolicy")
RESTORE_SETTERS = ("nvmlDeviceSetDefaultFanSpeed_v2",)


@dataclass
class Step:
    name: str
    wall: float
    detail: str


@dataclass
class Incident:
    """A running stack on a simulated node, and what happened to it so far."""

    node: SimNode
    stack: stk.Stack
    observer: Observer
    warning_c: float
    critical_c: float
    workloads: dict[int, Workload] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    on_tick: Callable[[], None] | None = None

    # -- records ------------------------------------------------------------------------------

    def setters(self, gpu: int, calls: tuple[str, ...], since: float = 0.0) -> list[dict[str, Any]]:
        return [
            s
            for s in self.node.setters()
            if s.get("gpu") == gpu and s["call"] in calls and s["wall"] >= since and s["result"] == "SUCCESS"
        ]

    def events(self, event: str, gpu: int | None = None) -> list[dict[str, Any]]:
        return [e for e in self.node.events() if e["event"] == event and (gpu is None or e.get("gpu") == gpu)]

    def audit(self, name: str = "receiver") -> list[dict[str, Any]]:
        return read_jsonl(self.stack.workdir / f"{name}-audit.jsonl")

    def first_at_or_above(self, gpu: int, celsius: float) -> dict[str, Any] | None:
        """The simulator's record of the first sample at or above `celsius` on `gpu`."""
        ups = [e for e in self.events("temperature_up", gpu) if e["celsius"] >= celsius]
        return min(ups, key=lambda e: e["wall"]) if ups else None

    def exit_of(self, workload: Workload) -> dict[str, Any] | None:
        exits = [e for e in self.events("workload_exit") if e["pid"] == workload.pid]
        return exits[0] if exits else None

    def step(self, name: str, detail: str, wall: float | None = None) -> None:
        self.steps.append(Step(name, wall if wall is not None else time.time(), detail))

    def wait(self, condition: Callable[[], Any], timeout: float, step: str) -> Any:
        return wait_until(condition, timeout, step, on_tick=self.on_tick)

    def kill_latency(self) -> float | None:
        crossed = self.first_at_or_above(0, self.critical_c)
        exited = self.exit_of(self.workloads[0])
        return exited["wall"] - crossed["wall"] if crossed and exited else None


def thresholds() -> tuple[float, float]:
    """Warning and critical limits of the seed boards, from the shipped policy (rendered from config)."""
    failsafe = stk.load_shipped("policy")["failsafe"]
    return float(failsafe["warning_celsius"]), float(failsafe["critical_celsius"])


@contextlib.contextmanager
def running_stack(
    workdir: Path, speed: float = 2.0, alertmanagers: int = 1, node_name: str = "demo-node"
) -> Iterator[Incident]:
    """The seed node, workloads on both GPUs, and the shipped stack; everything stopped on exit."""
    with SimNode.create(profile="seed", state_dir=workdir / "node", speed=speed) as node:
        env = dict(node.env, NODE_NAME=node_name)
        with stk.Stack(workdir / "stack", env) as stack:
            exporter = stack.start_exporter()
            receiver = stack.start_receiver(stk.SHIPPED["policy"], node_name)
            am_config = stk.alertmanager_config(
                stk.load_shipped("alertmanager"), receiver.url + "/alerts", stack.token_file
            )
            ams = [
                stack.start_alertmanager(am_config, name=f"alertmanager{i or ''}")
                for i in range(alertmanagers)
            ]
            prometheus = stack.start_prometheus(
                stk.prometheus_config(
                    stk.load_shipped("prometheus"),
                    exporter.address,
                    receiver.address,
                    [am.address for am in ams],
                    [stk.SHIPPED["rules"]],
                )
            )
            observer = Observer(node.status, prometheus.url, [am.url for am in ams]).start()
            warning, critical = thresholds()
            incident = Incident(node, stack, observer, warning, critical)
            try:
                incident.workloads = {0: node.start_workload(0), 1: node.start_workload(1, watts=300.0)}
                yield incident
            finally:
                observer.stop()


def wait_pipeline_ready(incident: Incident, timeout: float = 90.0) -> None:
    """Prometheus sees both GPUs and the receiver has had its first heartbeat from Alertmanager."""
    prometheus = incident.stack.services["prometheus"].url
    incident.wait(
        lambda: len(prometheus_query(prometheus, "DCGM_FI_DEV_GPU_TEMP")) == 2,
        timeout,
        "Prometheus scrapes both GPUs",
    )
    incident.wait(
        lambda: any(a["event"] == "heartbeat" for a in incident.audit()),
        timeout,
        "the receiver hears the Watchdog heartbeat",
    )
    incident.step("pipeline ready", "Prometheus scrapes both GPUs; the receiver hears the Watchdog")


def heat_until_fan_boost(incident: Incident, timeout: float = 240.0) -> None:
    node, since = incident.node, time.time()
    node.set(0, ambient=HOT_AMBIENT_C)
    incident.step("hot ambient", f"GPU 0 ambient set to {HOT_AMBIENT_C:.0f} °C")
    warned = incident.wait(
        lambda: incident.first_at_or_above(0, incident.warning_c),
        timeout,
        f"GPU 0 reaches the {incident.warning_c:.0f} °C warning tier",
    )
    incident.step("warning tier", f"GPU 0 first at {warned['celsius']} °C", warned["wall"])
    boost = incident.wait(lambda: incident.setters(0, FAN_SETTERS, since), timeout, "fans boosted")
    incident.step(
        "fans boosted", f"{boost[0]['call']} {boost[0]['args']} by pid {boost[0]['pid']}", boost[0]["wall"]
    )


def fail_fan_until_kill(incident: Incident, timeout: float = 180.0) -> None:
    incident.node.set(0, fan_failure=True)
    incident.step("fan failure", "GPU 0's fans stop turning; it keeps climbing")
    crossed = incident.wait(
        lambda: incident.first_at_or_above(0, incident.critical_c),
        timeout,
        f"GPU 0 reaches the {incident.critical_c:.0f} °C critical limit",
    )
    incident.step("critical limit", f"GPU 0 first at {crossed['celsius']} °C", crossed["wall"])
    exited = incident.wait(
        lambda: incident.exit_of(incident.workloads[0]), timeout, "GPU 0's workload killed"
    )
    incident.step(
        "workload killed", f"pid {exited['pid']} exited with {exited['returncode']}", exited["wall"]
    )


def cool_until_restored(incident: Incident, timeout: float = 240.0) -> None:
    killed = incident.steps[-1].wall
    cooled = incident.wait(
        lambda: [
            e
            for e in incident.events("temperature_down", 0)
            if e["wall"] > killed and e["celsius"] < incident.warning_c
        ],
        timeout,
        f"GPU 0 cools below {incident.warning_c:.0f} °C",
    )
    incident.step("cooled", f"GPU 0 below {cooled[0]['celsius'] + 1} °C", cooled[0]["wall"])
    prometheus = incident.stack.services["prometheus"].url
    incident.wait(
        lambda: not prometheus_query(prometheus, 'ALERTS{alertname=~"GPUTemperature.*", gpu="0"}'),
        timeout,
        "GPU 0's temperature alerts resolve",
    )
    incident.step("alerts resolved", "no GPUTemperature* alert for GPU 0 in Prometheus")
    restored = incident.wait(lambda: incident.setters(0, RESTORE_SETTERS, killed), timeout, "fans restored")
    incident.step("fans restored", f"{restored[0]['call']} {restored[0]['args']}", restored[0]["wall"])


def check_gpu1_untouched(incident: Incident) -> None:
    touched = [s for s in incident.node.setters() if s.get("gpu") == 1]
    if touched:
        raise StepFailed("GPU 1 untouched", f"setter calls on GPU 1: {touched[:3]}")
    if incident.workloads[1].process.poll() is not None or incident.exit_of(incident.workloads[1]):
        raise StepFailed("GPU 1 untouched", "GPU 1's workload is gone")
    incident.step("GPU 1 untouched", "no setter call on GPU 1; its workload still runs")


def check_order(incident: Incident) -> None:
    names = [s.name for s in incident.steps]
    walls = {s.name: s.wall for s in incident.steps}
    for before, after in [
        ("fans boosted", "workload killed"),
        ("critical limit", "workload killed"),
        ("workload killed", "fans restored"),
    ]:
        if before in walls and after in walls and walls[before] > walls[after]:
            raise StepFailed(after, f"happened before '{before}' ({names})")


def run(incident: Incident) -> None:
    """The whole incident; raises StepFailed naming the first step that did not happen."""
    wait_pipeline_ready(incident)
    heat_until_fan_boost(incident)
    fail_fan_until_kill(incident)
    cool_until_restored(incident)
    check_gpu1_untouched(incident)
    check_order(incident)
