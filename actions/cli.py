"""`gpuguard actions`: the Alertmanager webhook receiver that acts on this node's GPUs."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from pathlib import Path

from prometheus_client import disable_created_metrics

from gpuguard import httpserver, nvml
from gpuguard.actions.audit import AuditLog
from gpuguard.actions.auth import AuthConfigError, load_credentials
from gpuguard.actions.engine import Engine
from gpuguard.actions.failsafe import Failsafe
from gpuguard.actions.gpu import GpuOps
from gpuguard.actions.metrics import Metrics
from gpuguard.actions.policy import PolicyError, default_policy_path, load_policy
from gpuguard.actions.server import ReceiverServer
from gpuguard.actions.state import StateError, StateStore
from gpuguard.webconfig import WebConfigError

DEFAULT_LISTEN = "127.0.0.1:9401"
DEFAULT_STATE_DIR = "/var/lib/gpuguard/actions"
DEFAULT_MAX_BODY = 4 * 1024 * 1024


class UsageError(ValueError):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpuguard actions",
        description="Alertmanager webhook receiver: fan boost, power cap and workload kill on this node's "
        "GPUs while an alert fires, restored when it resolves; a local failsafe when the Watchdog "
        "heartbeat goes silent.")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR",
                   help=f"address to listen on, HOST:PORT (default {DEFAULT_LISTEN}: loopback only)")
    p.add_argument("--policy", type=Path, default=None, metavar="FILE",
                   help="policy file (default: the packaged policy.yml rendered from config.libsonnet)")
    p.add_argument("--auth-token-file", type=Path, metavar="FILE",
                   help="file holding the bearer token Alertmanager sends")
    p.add_argument("--web-config-file", type=Path, metavar="FILE",
                   help="exporter-toolkit web config: tls_server_config, basic_auth_users (bcrypt)")
    p.add_argument("--state-dir", type=Path, default=Path(DEFAULT_STATE_DIR), metavar="DIR",
                   help=f"where overrides in force are kept across restarts (default {DEFAULT_STATE_DIR})")
    p.add_argument("--audit-log", type=Path, metavar="FILE",
                   help="JSON-lines audit log (default: STATE_DIR/audit.jsonl)")
    p.add_argument("--node-name", metavar="NAME",
                   help="this node's name as alerts carry it (default: $NODE_NAME, else the hostname)")
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                   help=f"largest notification accepted (default {DEFAULT_MAX_BODY})")
    p.add_argument("--max-connections", type=int, default=httpserver.MAX_CONNECTIONS, metavar="N",
                   help=f"most HTTP connections held at once (default {httpserver.MAX_CONNECTIONS}, lowered "
                   f"to fit the file limit less {httpserver.FD_RESERVE} kept for actions); at the cap the "
                   "oldest idle one is closed")
    p.add_argument("--dry-run", action="store_true",
                   help="decide and log every action, change nothing")
    return p


def parse_listen(value: str) -> tuple[str, int, int]:
    """HOST:PORT, [V6]:PORT or :PORT (all interfaces, which must be asked for explicitly)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen {value!r}: expected HOST:PORT")
    family = socket.AF_INET
    if host.startswith("[") and host.endswith("]"):
        host, family = host[1:-1], socket.AF_INET6
    elif host == "":
        host = "0.0.0.0"
    return host, int(port_text), family


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (UsageError, PolicyError, AuthConfigError, WebConfigError, StateError) as error:
        print(f"gpuguard actions: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    host, port, family = parse_listen(args.listen)
    if args.max_body <= 0:
        raise UsageError("--max-body must be a positive number of bytes")
    if args.max_connections < 1:
        raise UsageError("--max-connections must be at least 1")
    policy_path = args.policy or default_policy_path()
    if args.policy is None and not policy_path.exists():
        raise UsageError(f"no packaged policy at {policy_path}: pass --policy FILE")
    policy = load_policy(policy_path)
    credentials = load_credentials(args.auth_token_file, args.web_config_file)
    store = StateStore(args.state_dir, persist=not args.dry_run)
    store.check_writable()
    audit = AuditLog(args.audit_log or args.state_dir / "audit.jsonl")
    disable_created_metrics()
    # The decision worker is CPU-bound between NVML calls; with the default 5 ms GIL switch interval
    # each socket read of the HTTP thread can wait that long behind it (a convoy: a 0.5 MiB body is
    # a dozen reads). A shorter interval keeps answers fast while decisions run.
    sys.setswitchinterval(0.0005)
    metrics = Metrics()
    ops = GpuOps()
    node = nvml.node_name(args.node_name)
    engine = Engine(policy, node, ops, store, audit, metrics, dry_run=args.dry_run)
    try:
        server = ReceiverServer((host, port), engine, credentials, metrics, args.max_body, family,
                                httpserver.Limits(max_connections=args.max_connections))
    except OSError as error:
        raise UsageError(f"cannot listen on {args.listen}: {error.strerror or error}") from None
    gpus = ops.gpus()
    audit.record("start", node=node, listen=args.listen, policy=str(policy_path), gpus=sorted(gpus),
                 dry_run=args.dry_run, nvml_error=ops.last_error)
    engine.start()
    failsafe = Failsafe(engine)
    failsafe.start()

    def shut_down(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    bound_host, bound_port = server.server_address[:2]
    scheme = "https" if credentials.tls else "http"
    nvml_note = f"{len(gpus)} GPUs" if not ops.last_error else f"NVML unavailable: {ops.last_error}"
    print(f"gpuguard actions: listening on {scheme}://{bound_host}:{bound_port} (node {node}, {nvml_note}"
          f"{', dry-run' if args.dry_run else ''})", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        failsafe.stop()
        engine.stop()
        server.server_close()
        audit.record("stop")
    return 0
