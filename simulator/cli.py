"""`gpuguard sim`: run, drive and inspect a simulated GPU node (DESIGN.md, docs/contracts.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpuguard.simulator.native import NodeHandle, SimError, driver_dir
from gpuguard.simulator.profiles import profile_names
from gpuguard.simulator.runtime import (
    LATENCIES,
    LATENCY_MODES,
    create_node,
    kill_leftovers,
    node_env,
    read_records,
    state_dir_from,
)
from gpuguard.simulator.workload import run_workload


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line on bad input (no usage dump to wade through)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"gpuguard sim {self.prog.split()[-1]}: {message}\n")


def _on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, not {value!r}")
    return value == "on"


def _node_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="seed", help=f"node profile ({', '.join(profile_names())})")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--latency", choices=LATENCIES, default="none", help="per-call latency profile")
    parser.add_argument("--latency-mode", choices=LATENCY_MODES, default="sleep",
                        help="how a call waits out its latency")


def _state_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="the node's state folder (default: $GPUGUARD_SIM_STATE)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpuguard sim", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    p = verbs.add_parser("exec", help="run CMD on a fresh node")
    _node_flags(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")

    p = verbs.add_parser("node", help="a long-lived node, until SIGTERM/SIGINT")
    _node_flags(p)
    p.add_argument("--state-dir", help="create the node here (default: a temporary folder)")

    p = verbs.add_parser("workload", help="a process NVML lists as a compute process on GPU N")
    _state_flag(p)
    p.add_argument("--gpu", type=int, required=True)
    p.add_argument("--gpu-instance", type=int, metavar="GI",
                   help="run on this MIG GPU instance of the GPU (default: on no instance)")
    p.add_argument("--watts", type=float, help="power drawn (default: the GPU's power limit)")
    p.add_argument("--memory-mib", type=int, default=1024, help="GPU memory it holds (default 1024)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="[-- CMD ARGS...] (default: an idle loop)")

    p = verbs.add_parser("set", help="change the scenario of one GPU (or all)")
    _state_flag(p)
    p.add_argument("--gpu", required=True, help="GPU index, or `all`")
    p.add_argument("--ambient", type=float, metavar="CELSIUS")
    p.add_argument("--fan-failure", type=_on_off, metavar="on|off")

    p = verbs.add_parser("fault", help="inject or clear faults")
    _state_flag(p)
    p.add_argument("--gpu", type=int)
    p.add_argument("--lost", type=_on_off, metavar="on|off")
    p.add_argument("--hang-ms", type=int, metavar="MS")
    p.add_argument("--not-supported", action="append", default=[], metavar="FUNC")
    p.add_argument("--clear", action="store_true")
    p.add_argument("--xid", type=int, metavar="CODE")
    p.add_argument("--driver-reload", action="store_true")

    for verb, text in (("status", "each GPU's temperature, fans, power and processes"),
                       ("setters", "the NVML setter log"), ("calls", "NVML calls per function"),
                       ("events", "the event log")):
        p = verbs.add_parser(verb, help=text)
        _state_flag(p)
        p.add_argument("--json", action="store_true")
    return parser


def _command(args: argparse.Namespace) -> list[str]:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return command


def _gpu_count(node: NodeHandle) -> int:
    return len(node.status()["gpus"])


def _check_gpu(node: NodeHandle, gpu: int) -> None:
    count = _gpu_count(node)
    if not 0 <= gpu < count:
        raise SimError(f"no GPU {gpu} on this node (it has {count}: 0..{count - 1})")


def cmd_exec(args: argparse.Namespace) -> int:
    command = _command(args)
    if not command:
        raise SimError("exec needs a command: gpuguard sim exec [FLAGS] -- CMD [ARGS...]")
    state_dir = Path(tempfile.mkdtemp(prefix="gpuguard-sim-"))
    try:
        node = create_node(state_dir, args.profile, args.speed, args.latency, args.latency_mode)
        try:
            try:
                child = subprocess.Popen(command, env=node_env(state_dir))
            except OSError as error:
                raise SimError(f"cannot run {command[0]!r}: {error.strerror}") from None

            def forward(signum: int, _frame: object) -> None:
                if child.poll() is None:
                    child.send_signal(signum)

            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, forward)
            returncode = child.wait()
            kill_leftovers(node)
        finally:
            node.close()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return returncode if returncode >= 0 else 128 - returncode


def cmd_node(args: argparse.Namespace) -> int:
    temporary = args.state_dir is None
    if temporary:
        state_dir = Path(tempfile.mkdtemp(prefix="gpuguard-sim-"))
    else:
        state_dir = Path(args.state_dir).resolve()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        node = create_node(state_dir, args.profile, args.speed, args.latency, args.latency_mode)
        try:
            print(f"GPUGUARD_SIM_STATE={state_dir}")
            print(f"LD_LIBRARY_PATH={driver_dir()}", flush=True)
            while not stop.wait(0.5):
                pass
            kill_leftovers(node)
        finally:
            node.close()
    finally:
        if temporary:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _open(args: argparse.Namespace) -> NodeHandle:
    return NodeHandle.open(state_dir_from(args.state))


def cmd_workload(args: argparse.Namespace) -> int:
    node = _open(args)
    try:
        return run_workload(node, args.gpu, args.watts, args.memory_mib, _command(args), args.gpu_instance)
    finally:
        node.close()


def cmd_set(args: argparse.Namespace) -> int:
    if args.ambient is None and args.fan_failure is None:
        raise SimError("set needs --ambient and/or --fan-failure")
    node = _open(args)
    try:
        if args.gpu == "all":
            gpus = list(range(_gpu_count(node)))
        else:
            try:
                gpus = [int(args.gpu)]
            except ValueError:
                raise SimError(f"--gpu must be an index or `all`, not {args.gpu!r}") from None
            _check_gpu(node, gpus[0])
        for gpu in gpus:
            if args.ambient is not None:
                node.set_ambient(gpu, args.ambient)
            if args.fan_failure is not None:
                node.set_fan_failure(gpu, args.fan_failure)
    finally:
        node.close()
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    node = _open(args)
    try:
        if args.driver_reload:
            node.driver_reload()
            if args.gpu is None:
                return 0
        if args.gpu is None:
            raise SimError("fault needs --gpu N (or --driver-reload)")
        _check_gpu(node, args.gpu)
        gpu_faults = (args.lost, args.hang_ms, args.xid)
        if not args.clear and not args.not_supported and all(v is None for v in gpu_faults):
            raise SimError("fault needs at least one of --lost, --hang-ms, --not-supported, --clear, --xid")
        if args.clear:
            node.fault_clear(args.gpu)
        if args.lost is not None:
            node.fault_lost(args.gpu, args.lost)
        if args.hang_ms is not None:
            node.fault_hang(args.gpu, args.hang_ms)
        for function in args.not_supported:
            node.fault_not_supported(args.gpu, function)
        if args.xid is not None:
            node.fault_xid(args.gpu, args.xid)
    finally:
        node.close()
    return 0


def _print_status(status: dict[str, Any]) -> None:
    print(f"node {status['profile']}  driver {status['driver_version']}  speed {status['speed']:g}x  "
          f"sim time {status['sim_time']:.1f} s")
    for gpu in status["gpus"]:
        fans = " ".join(f"{f['speed_percent']}%{'(manual)' if f['manual'] else ''}" for f in gpu["fans"])
        processes = ", ".join(
            f"{p['pid']} ({p['watts']:.0f} W, {p['memory_mib']} MiB"
            f"{'' if p.get('gpu_instance_id') is None else ', GI ' + str(p['gpu_instance_id'])})"
            for p in gpu["processes"]
        )
        state = "LOST" if gpu["lost"] else "ok"
        print(f"GPU {gpu['index']} {gpu['name']} [{state}]  {gpu['temperature_c']:.1f} °C  "
              f"ambient {gpu['ambient_c']:.1f} °C  fans {fans or 'none'}  power {gpu['power_w']:.0f}/"
              f"{gpu['power_limit_w']:.0f} W  processes {processes or 'none'}")


def cmd_show(args: argparse.Namespace) -> int:
    node = _open(args)
    try:
        if args.verb == "status":
            data: Any = node.status()
        elif args.verb == "calls":
            data = node.calls()
        else:
            data = read_records(node.state_dir, f"{args.verb}.jsonl")
    finally:
        node.close()
    if args.json:
        print(json.dumps(data, indent=None if args.verb != "status" else 2))
    elif args.verb == "status":
        _print_status(data)
    elif args.verb == "calls":
        for name, count in sorted(data.items()):
            print(f"{count:>10}  {name}")
    else:
        for record in data:
            print(json.dumps(record))
    return 0


HANDLERS = {"exec": cmd_exec, "node": cmd_node, "workload": cmd_workload, "set": cmd_set, "fault": cmd_fault,
            "status": cmd_show, "setters": cmd_show, "calls": cmd_show, "events": cmd_show}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return HANDLERS[args.verb](args)
    except SimError as error:
        print(f"gpuguard sim {args.verb}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os._exit(1)
