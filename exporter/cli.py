"""`gpuguard exporter`: flags and `DCGM_EXPORTER_*` variables as dcgm-exporter has them."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from gpuguard import nvml, webconfig
from gpuguard.exporter import counters, fields
from gpuguard.exporter.engine import Engine
from gpuguard.exporter.server import ExporterServer
from gpuguard.exporter.topology import LabelSettings

log = logging.getLogger("gpuguard.exporter")
HOST_LABELS = ("Hostname", "hostname")
# Process lists are NVML's dearest reads (the bulk of the driver time at a 1 s interval); see
# collectors/processes.py and the benchmark in benchmarks/README.md.
PROCESS_INTERVAL_MS = 5000


def _env(name: str, default: str | None) -> str | None:
    return os.environ.get(name, default)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpuguard exporter",
        description="Serve DCGM-compatible GPU metrics from NVML (a drop-in for dcgm-exporter).",
    )
    p.add_argument("-a", "--address", default=_env("DCGM_EXPORTER_LISTEN", ":9400"),
                   help="address to listen on, HOST:PORT or :PORT (default :9400; $DCGM_EXPORTER_LISTEN)")
    p.add_argument("-f", "--collectors", default=_env("DCGM_EXPORTER_COLLECTORS", None),
                   help="counters CSV in dcgm-exporter's format (default: the shipped one; "
                        "$DCGM_EXPORTER_COLLECTORS)")
    p.add_argument("-c", "--collect-interval", type=int,
                   default=int(_env("DCGM_EXPORTER_INTERVAL", "1000") or 1000),
                   help="collection interval in ms (default 1000; $DCGM_EXPORTER_INTERVAL)")
    p.add_argument("--web-config-file", default=_env("DCGM_EXPORTER_WEB_CONFIG_FILE", None),
                   help="exporter-toolkit web config: TLS and basic auth ($DCGM_EXPORTER_WEB_CONFIG_FILE)")
    p.add_argument("--hostname-label", default=_env("DCGM_EXPORTER_HOSTNAME_LABEL", "Hostname"),
                   choices=HOST_LABELS, help="name of the host label (default Hostname; "
                                             "$DCGM_EXPORTER_HOSTNAME_LABEL)")
    p.add_argument("-n", "--no-hostname", action="store_true",
                   default=_env("DCGM_EXPORTER_NO_HOSTNAME", "") in ("1", "true", "True"),
                   help="leave the host label out ($DCGM_EXPORTER_NO_HOSTNAME)")
    p.add_argument("--process-interval", type=int, default=PROCESS_INTERVAL_MS, metavar="MS",
                   help="how often per-process GPU memory lists are read, in ms (default "
                        f"{PROCESS_INTERVAL_MS}; at or below --collect-interval: every cycle); the series "
                        "of an exited process goes away within this interval")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def parse_address(address: str) -> tuple[str, int]:
    """`:9400`, `127.0.0.1:9400`, `[::1]:9400` -> (host, port); ValueError with a clear message."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid --address {address!r}: expected HOST:PORT or :PORT")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")

    def fail(message: str) -> int:
        print(f"gpuguard exporter: {message}", file=sys.stderr)
        return 2

    if args.collect_interval < 1:
        return fail(f"invalid --collect-interval {args.collect_interval}: must be at least 1 ms")
    if args.process_interval < 1:
        return fail(f"invalid --process-interval {args.process_interval}: must be at least 1 ms")
    try:
        host, port = parse_address(args.address)
        selection = fields.select(counters.load(args.collectors))
        web = webconfig.load(args.web_config_file)
    except (ValueError, counters.CountersError, webconfig.WebConfigError) as error:
        return fail(str(error))
    for name in selection.unsupplied:
        log.info("%s: NVML cannot supply this DCGM field; left out", name)

    labels = LabelSettings(None if args.no_hostname else args.hostname_label, nvml.node_name(),
                           selection.label_fields)
    engine = Engine(selection, labels, args.collect_interval / 1000.0, args.process_interval / 1000.0)
    try:
        server = ExporterServer((host, port), engine, web)
    except OSError as error:
        return fail(f"cannot listen on {args.address}: {error.strerror or error}")

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine.start()
    scheme = "https" if web.tls else "http"
    log.info("serving %s://%s:%d/metrics every %d ms", scheme, host or "0.0.0.0", server.server_address[1],
             args.collect_interval)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        engine.stop()
    return 0
