"""`gpuguard demo`: the overheat incident, end to end, on a simulated node and the shipped stack.

Starts the `seed` node, exporter, receiver, Prometheus 2.42 and Alertmanager 0.25 on free loopback
ports with the shipped rules, routes and policy, runs the incident (see gpuguard.incident), prints
`kill latency: X.Y s`, writes `demo-report/report.md` and `demo-report/timeline.png`, and exits 0 only
if every step happened in order.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from gpuguard import incident as scenario
from gpuguard import report
from gpuguard.observe import StepFailed
from gpuguard.stack import StackError

REQUIRED = ("prometheus", "prometheus-alertmanager")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpuguard demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--speed",
        type=float,
        default=2.0,
        help="simulated time per wall-clock second (default 2: the heating takes a minute)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("demo-report"),
        help="where report.md and timeline.png go, replaced each run (default ./demo-report)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the incident, leave the stack up and print its URLs until Ctrl-C",
    )
    args = parser.parse_args(argv)
    if not 0.1 <= args.speed <= 20:
        parser.error("--speed must be between 0.1 and 20")
    return args


class Progress:
    """One live line while the incident runs: temperatures, fans, power, alerts, actions."""

    def __init__(self, incident: scenario.Incident) -> None:
        self.incident = incident
        self.tty = sys.stdout.isatty()
        self.last_print = 0.0

    def line(self) -> str | None:
        sample = self.incident.observer.latest()
        if sample is None or not sample.gpus:
            return None
        parts = [f"[{sample.wall - self.incident.started:6.1f}s]"]
        for gpu in sample.gpus:
            fan = max((f["speed_percent"] for f in gpu["fans"]), default=0)
            procs = len(gpu["processes"])
            parts.append(
                f"GPU{gpu['index']} {gpu['temperature_c']:5.1f}°C fan {fan:3d}% "
                f"{gpu['power_w']:5.0f}W {procs}p"
            )
        firing = sorted(
            {f"{n}({g})" for n, g, s in sample.prometheus_alerts if s == "firing" and n != "Watchdog"}
        )
        parts.append("alerts: " + (",".join(firing) or "-"))
        parts.append("step: " + (self.incident.steps[-1].name if self.incident.steps else "starting"))
        return " | ".join(parts)

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_print < (0.5 if self.tty else 5.0):
            return
        self.last_print = now
        text = self.line()
        if text is None:
            return
        if self.tty:
            columns = shutil.get_terminal_size((160, 20)).columns
            sys.stdout.write("\r" + text[: columns - 1].ljust(columns - 1))
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def done(self) -> None:
        if self.tty:
            sys.stdout.write("\n")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv or [])
    missing = [tool for tool in REQUIRED if shutil.which(tool) is None]
    if missing:
        print(f"gpuguard demo: {', '.join(missing)} not installed (make demo installs them)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="gpuguard-demo-"))
    outcome, code = "every step happened in order", 0
    try:
        print(f"starting the seed node, exporter, receiver, Prometheus and Alertmanager in {workdir}")
        with scenario.running_stack(workdir, speed=args.speed) as incident:
            progress = Progress(incident)
            incident.on_tick = progress.tick
            try:
                scenario.run(incident)
            except StepFailed as failed:
                outcome, code = f"FAILED: {failed}", 1
            progress.done()
            for step in incident.steps:
                print(f"  {step.wall - incident.started:6.1f}s  {step.name}: {step.detail}")
            latency = incident.kill_latency()
            if latency is not None:
                print(f"kill latency: {latency:.1f} s")
            report.write(incident, args.report_dir, outcome)
            print(f"report: {args.report_dir / 'report.md'}, {args.report_dir / 'timeline.png'}")
            if code:
                print(f"demo failed: {outcome.removeprefix('FAILED: ')}", file=sys.stderr)
                print(f"service logs: {incident.stack.workdir}", file=sys.stderr)
            if args.keep_running:
                keep_running(incident)
    except StackError as error:
        print(f"gpuguard demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started is stopped", file=sys.stderr)
        return 130
    finally:
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


def keep_running(incident: scenario.Incident) -> None:
    services = incident.stack.services
    print("the stack stays up until Ctrl-C:")
    for name in ("prometheus", "alertmanager", "exporter", "receiver"):
        if name in services:
            print(f"  {name:<13} {services[name].url}")
    print(f"  simulated node: GPUGUARD_SIM_STATE={incident.node.state_dir}")
    while True:
        time.sleep(3600)
