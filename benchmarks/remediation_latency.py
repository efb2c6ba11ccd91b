"""Remediation latency of the whole loop, shipped configuration vs a typical dcgm-exporter setup's timings.

    .venv/bin/python benchmarks/remediation_latency.py --incidents 20 --typical 5 [--write-readme]

One simulated `scale-64` node (64 × H100, no fans), real time (`--speed 1`), and two stacks watching
it side by side, each a real exporter, Prometheus 2.42, Alertmanager 0.25 and action receiver:

- shipped: the shipped files with only addresses, ports and paths overridden, plus one metric_relabel
  `keep` on the `gpu` label so its Prometheus sees GPUs 0–31 only;
- typical: the same policy rendered with dcgm-exporter-like timings (exporter `-c 30000`, 15 s
  scrape, 1 m thermal evaluation, 1 m `for` on both temperature tiers, 30 s `group_wait` on the
  remediation route), keeping GPUs 32–63.

Each incident is a 700 W workload on its own GPU and then a hot inlet (`--ambient`) that carries the
GPU past its 85 °C critical limit even once the warning tier has capped its power. Then the failsafe:
the shipped stack's Alertmanager is stopped, a few more GPUs are heated, and the receiver, hearing no
heartbeat, kills on its own. Latencies come from the records (see latency_records.py). Bounded by
`--max-seconds`; Ctrl-C or any failure stops every process it started.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import latency_records as rec
import latency_report as report
import yaml

from gpuguard import stack as stk
from gpuguard.observe import prometheus_query
from gpuguard.render import render
from gpuguard.simulator.native import SimError
from gpuguard.simulator.node import SimNode, Workload

NODE_NAME = "bench-node"
WORKLOAD_WATTS = 700.0
WARNING_C, CRITICAL_C = 80.0, 85.0  # the shipped per-model limits of the H100 (actions/policy.yml)
# HBM warning tier (85 °C) in die degrees: the simulator models HBM as die + 2 + 6 × power/limit
# (simulator/src/sim_physics.c), so at a full 700 W it fires when the die reaches 77 °C.
HBM_WARNING_DIE_C = 85.0 - 2.0 - 6.0
# A capped H100 (0.7 × 700 W) settles 490 W / 15.5 W/K ≈ 32 °C above its inlet (simulator/profiles):
# below this inlet the warning tier's cap alone would keep it under the critical limit.
MIN_AMBIENT_C = 55.0
TYPICAL_OVERRIDES = {
    "intervals": {"thermalScrape": "15s", "thermalEvaluation": "1m"},
    "durations": {"criticalFor": "1m", "warningFor": "1m"},
    "remediation": {"groupWait": "30s"},
}
TYPICAL_COLLECT_MS = 30000
TYPICAL_EVALUATION_S = 60.0  # thermalEvaluation above
SHIPPED_GPUS, TYPICAL_GPUS = range(0, 32), range(32, 64)


class RunFailed(Exception):
    """The run cannot go on; the message says why in one line."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.at = self.started + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise RunFailed(f"--max-seconds {self.seconds:.0f} reached while {what}")


def keep_gpus(config: dict[str, Any], exporter: str, gpus: range) -> dict[str, Any]:
    """Add a metric_relabel `keep` on `gpu` to the jobs scraping `exporter`; series without one stay."""
    regex = "|".join([""] + [str(g) for g in gpus])
    for job in config["scrape_configs"]:
        targets = [t for static in job.get("static_configs", []) for t in static.get("targets", [])]
        if exporter in targets:
            job.setdefault("metric_relabel_configs", []).append(
                {"source_labels": ["gpu"], "regex": regex, "action": "keep"}
            )
    return config


def start_stack(
    stack: stk.Stack, typical: bool, gpus: range
) -> tuple[stk.Service, stk.Service, stk.Service]:
    """Exporter, receiver, Alertmanager and Prometheus of one configuration; returns (exp, recv, prom)."""
    if typical:
        rendered = render(TYPICAL_OVERRIDES, with_tests=False)
        rules = stack.workdir / "typical-rules.yml"
        rules.write_text(rendered["rules/gpuguard.rules.yml"])
        prom_cfg = yaml.safe_load(rendered["deploy/prometheus/prometheus.yml"])
        am_cfg = yaml.safe_load(rendered["alertmanager/alertmanager.yml"])
        exporter = stack.start_exporter(["-c", str(TYPICAL_COLLECT_MS)])
    else:
        rules = stk.SHIPPED["rules"]
        prom_cfg, am_cfg = stk.load_shipped("prometheus"), stk.load_shipped("alertmanager")
        exporter = stack.start_exporter()
    receiver = stack.start_receiver(stk.SHIPPED["policy"], NODE_NAME)
    alertmanager = stack.start_alertmanager(
        stk.alertmanager_config(am_cfg, receiver.url + "/alerts", stack.token_file)
    )
    config = stk.prometheus_config(
        prom_cfg, exporter.address, receiver.address, [alertmanager.address], [rules]
    )
    prometheus = stack.start_prometheus(keep_gpus(config, exporter.address, gpus))
    return exporter, receiver, prometheus


def wait_for(condition: Any, deadline: Deadline, what: str, timeout: float, tick: Any = None) -> Any:
    until = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        deadline.check(what)
        if time.monotonic() > until:
            raise RunFailed(f"{what}: not seen within {timeout:.0f} s")
        if tick:
            tick()
        time.sleep(0.5)


class Run:
    """The node, both stacks and the incidents on it; `analyse` turns the records into outcomes."""

    def __init__(
        self, args: argparse.Namespace, node: SimNode, shipped: stk.Stack, typical: stk.Stack
    ) -> None:
        self.args, self.node = args, node
        self.stacks = {"shipped": shipped, "typical": typical}
        self.deadline = Deadline(args.max_seconds)
        self.events = rec.JsonlTail(node.state_dir / "events.jsonl")
        self.setters = rec.JsonlTail(node.state_dir / "setters.jsonl")
        self.audits = {n: rec.JsonlTail(s.workdir / "receiver-audit.jsonl") for n, s in self.stacks.items()}
        self.plan: dict[str, list[int]] = {
            "shipped": list(SHIPPED_GPUS[: args.incidents]),
            "failsafe": list(SHIPPED_GPUS[args.incidents : args.incidents + args.failsafe]),
            "typical": list(TYPICAL_GPUS[: args.typical]),
        }
        self.workloads: dict[int, Workload] = {}
        self.heated: dict[int, float] = {}
        self.silenced: float | None = None
        self._last_line = 0.0

    # -- progress ---------------------------------------------------------------------------------
    def exit_walls(self) -> dict[int, float]:
        pids = {w.pid: gpu for gpu, w in self.workloads.items()}
        return {pids[e["pid"]]: e["wall"] for e in self.events.update()
                if e["event"] == "workload_exit" and e.get("pid") in pids}

    def temperatures(self) -> dict[int, int]:
        """Each GPU's latest whole degree, from the simulator's crossing records."""
        latest: dict[int, int] = {}
        for e in self.events.records:
            if e["event"] == "temperature_up":
                latest[e["gpu"]] = e["celsius"]
            elif e["event"] == "temperature_down":
                latest[e["gpu"]] = e["celsius"] - 1
        return latest

    def crossed(self, gpu: int) -> float | None:
        walls = [e["wall"] for e in self.events.records if e["event"] == "temperature_up"
                 and e.get("gpu") == gpu and e["celsius"] >= CRITICAL_C and e["wall"] >= self.heated[gpu]]
        return min(walls) if walls else None

    def progress(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_line < 3.0:
            return
        self._last_line = time.monotonic()
        exits, temps = self.exit_walls(), self.temperatures()
        parts = []
        for config, gpus in self.plan.items():
            started = [g for g in gpus if g in self.heated]
            done = [g for g in started if g in exits]
            running = [g for g in started if g not in exits]
            if not gpus:
                continue
            part = f"{config} {len(done)}/{len(gpus)} killed"
            if running:
                hottest = max(running, key=lambda g: temps.get(g, 0))
                part += f", {len(running)} heating (hottest GPU {hottest} {temps.get(hottest, '?')} °C)"
            if done and config != "failsafe":
                last = max(done, key=exits.__getitem__)
                crossed = self.crossed(last)
                part += f", last kill {exits[last] - crossed:.1f} s" if crossed else ""
            parts.append(part)
        print(f"[{self.deadline.elapsed():5.0f} s] " + "; ".join(parts), flush=True)

    def say(self, text: str) -> None:
        print(f"[{self.deadline.elapsed():5.0f} s] {text}", flush=True)

    # -- phases -----------------------------------------------------------------------------------
    def start_workloads(self) -> None:
        gpus = [g for gpus in self.plan.values() for g in gpus]
        self.say(f"starting {len(gpus)} workloads of {WORKLOAD_WATTS:.0f} W (they warm up meanwhile)")
        for gpu in gpus:
            self.workloads[gpu] = self.node.start_workload(gpu, watts=WORKLOAD_WATTS)

    def wait_ready(self, prometheus: dict[str, str]) -> None:
        thermal = 'DCGM_FI_DEV_GPU_TEMP{job="gpuguard-thermal"}'
        for config, url in prometheus.items():
            wait_for(lambda u=url: len(prometheus_query(u, thermal)) == 32,
                     self.deadline, f"{config} Prometheus scraping its 32 GPUs", 90)
            wait_for(lambda c=config: any(r["event"] == "heartbeat" for r in self.audits[c].update()),
                     self.deadline, f"{config} receiver hearing the Watchdog heartbeat", 90)
        self.say("both pipelines ready (scraping their GPUs, heartbeats reaching both receivers)")

    def heat(self, gpu: int) -> None:
        self.heated[gpu] = time.time()
        self.node.set(gpu, ambient=self.args.ambient)

    def run_incidents(self) -> None:
        # Typical incidents are spread over one 1 m evaluation interval so that they meet different
        # phases of its 30 s collection, 15 s scrape and 1 m evaluation; shipped ones start meanwhile.
        typical, shipped = self.plan["typical"], self.plan["shipped"]
        spread = TYPICAL_EVALUATION_S / max(1, len(typical))
        schedule = sorted([(i * spread, g) for i, g in enumerate(typical)]
                          + [(j * self.args.stagger, g) for j, g in enumerate(shipped)])
        self.say(f"incidents: inlet to {self.args.ambient:.0f} °C on GPUs {typical} (typical, {spread:g} s "
                 f"apart) and {shipped} (shipped, {self.args.stagger:g} s apart)")
        started = time.monotonic()
        for at, gpu in schedule:
            while time.monotonic() < started + at:
                self.deadline.check("starting incidents")
                self.progress()
                time.sleep(max(0.0, min(0.2, started + at - time.monotonic())))
            self.heat(gpu)
        wanted = typical + shipped
        wait_for(lambda: all(g in self.exit_walls() for g in wanted), self.deadline,
                 "waiting for every incident's workload to be killed", 420, self.progress)
        self.progress(force=True)

    def run_failsafe(self) -> None:
        """Heartbeats stop; half the GPUs heat at once (over the limit before the receiver notices),
        the others once the failsafe has engaged (it must catch them crossing)."""
        gpus = self.plan["failsafe"]
        if not gpus:
            return
        early, late = gpus[: (len(gpus) + 1) // 2], gpus[(len(gpus) + 1) // 2 :]
        self.say(f"failsafe: shipped Alertmanager stopped, heating GPUs {early} now and {late} once the "
                 "receiver notices the silence")
        self.stacks["shipped"].stop("alertmanager")
        self.silenced = time.time()
        for gpu in early:
            self.heat(gpu)
        audit = self.audits["shipped"]
        wait_for(lambda: any(r["event"] == "failsafe_engaged" for r in audit.update()), self.deadline,
                 "waiting for the shipped receiver to engage its failsafe", 90, self.progress)
        self.say("failsafe engaged")
        for gpu in late:
            self.heat(gpu)
        wait_for(lambda: all(g in self.exit_walls() for g in gpus), self.deadline,
                 "waiting for the failsafe kills", 180, self.progress)
        self.progress(force=True)

    # -- records ----------------------------------------------------------------------------------
    def analyse(self, watch: rec.ExporterWatch, prometheus: dict[str, str]) -> list[rec.Outcome]:
        events, setters = self.events.update(), self.setters.update()
        outcomes = []
        for config, gpus in self.plan.items():
            stack = "typical" if config == "typical" else "shipped"
            audit = self.audits[stack].update()
            for gpu in gpus:
                outcome = rec.Outcome(config, gpu, self.workloads[gpu].pid, self.heated.get(gpu, time.time()))
                rec.simulator_facts(outcome, events, setters, WARNING_C, CRITICAL_C, HBM_WARNING_DIE_C)
                noticed = rec.audit_facts(outcome, audit)
                if config == "failsafe":
                    engaged = [r["ts"] for r in audit if r["event"] == "failsafe_engaged"
                               and r["ts"] >= (self.silenced or 0)]
                    if engaged:
                        outcome.stages["engaged_after_silence"] = engaged[0] - (self.silenced or 0)
                        if outcome.exited and outcome.crossed:
                            outcome.stages["crossed_vs_engaged"] = outcome.crossed - engaged[0]
                            outcome.stages["failsafe"] = outcome.exited - max(engaged[0], outcome.crossed)
                else:
                    rec.pipeline_stages(outcome, watch, stack, prometheus[stack], noticed, CRITICAL_C)
                outcomes.append(outcome)
        return outcomes

    def problems(self) -> list[str]:
        found = []
        for name, tail in self.audits.items():
            for record in tail.update():
                early = self.silenced is None or record["ts"] < self.silenced
                if record["event"] == "failsafe_engaged" and early:
                    found.append(f"{name} receiver engaged its failsafe during the pipeline incidents")
                if record.get("result") == "rate_limited":
                    found.append(f"{name} receiver rate-limited a kill (kills_per_minute)")
        return sorted(set(found))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--incidents", type=int, default=20,
                   help="incidents with the shipped configuration (GPUs 0–31)")
    p.add_argument("--typical", type=int, default=5, help="incidents with the typical timings (GPUs 32–63)")
    p.add_argument("--failsafe", type=int, default=3,
                   help="failsafe incidents after the shipped Alertmanager stops")
    p.add_argument("--stagger", type=float, default=4.0,
                   help="seconds between shipped incidents (≥ 3: the policy allows 20 kills a minute)")
    p.add_argument("--ambient", type=float, default=60.0, help="hot inlet temperature of an incident, °C")
    p.add_argument("--latency", choices=("realistic", "none"), default="realistic",
                   help="the simulated driver's call latencies (default: realistic)")
    p.add_argument("--max-seconds", type=float, default=900.0, help="hard bound on the whole run")
    p.add_argument("--write-readme", action="store_true", help="write the results into benchmarks/README.md")
    p.add_argument("--keep", type=Path, default=None, metavar="DIR",
                   help="run in DIR and keep its records (logs, audit logs, outcomes.json)")
    args = p.parse_args(argv)
    if args.incidents < 1 or args.failsafe < 0 or args.incidents + args.failsafe > len(SHIPPED_GPUS):
        p.error(f"--incidents (≥ 1) plus --failsafe must fit in the shipped stack's {len(SHIPPED_GPUS)} GPUs")
    if not 0 <= args.typical <= len(TYPICAL_GPUS):
        p.error(f"--typical must be 0 to {len(TYPICAL_GPUS)}")
    if args.stagger < 0 or args.max_seconds <= 0:
        p.error("--stagger and --max-seconds must be positive")
    if not MIN_AMBIENT_C <= args.ambient <= 80:
        p.error(f"--ambient must be {MIN_AMBIENT_C:.0f} to 80 °C: cooler, a capped H100 never reaches 85 °C")
    return args


def execute(args: argparse.Namespace, workdir: Path) -> int:
    node = SimNode.create(profile="scale-64", state_dir=workdir / "node", speed=1.0, latency=args.latency)
    with node:
        env = dict(node.env, NODE_NAME=NODE_NAME)
        with stk.Stack(workdir / "shipped", env) as shipped, stk.Stack(workdir / "typical", env) as typical:
            run = Run(args, node, shipped, typical)
            run.start_workloads()
            run.say("starting both stacks (exporter, receiver, Alertmanager, Prometheus each)")
            exp_a, _, prom_a = start_stack(shipped, typical=False, gpus=SHIPPED_GPUS)
            exp_b, _, prom_b = start_stack(typical, typical=True, gpus=TYPICAL_GPUS)
            prometheus = {"shipped": prom_a.url, "typical": prom_b.url}
            watch = rec.ExporterWatch(
                {"shipped": (exp_a.url, 0.3), "typical": (exp_b.url, 2.0)},
                {"shipped": set(SHIPPED_GPUS), "typical": set(TYPICAL_GPUS)},
            ).start()
            try:
                run.wait_ready(prometheus)
                run.run_incidents()
                run.run_failsafe()
            finally:
                watch.stop()
            outcomes = run.analyse(watch, prometheus)
            problems = run.problems()
    (workdir / "outcomes.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    command = ".venv/bin/python benchmarks/remediation_latency.py " + " ".join(sys.argv[1:])
    text = report.markdown(outcomes, args, command.strip(), problems)
    print("\n" + text)
    if args.write_readme:
        report.write_section(Path(__file__).with_name("README.md"), text)
        print("results written to benchmarks/README.md")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            return execute(args, args.keep)
        with tempfile.TemporaryDirectory(prefix="gpuguard-latency-") as folder:
            return execute(args, Path(folder))
    except KeyboardInterrupt:
        print("\ninterrupted: everything started was stopped", file=sys.stderr)
        return 130
    except (RunFailed, stk.StackError, SimError) as error:
        print(f"remediation_latency: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
