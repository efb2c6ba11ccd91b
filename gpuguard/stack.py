"""The whole gpuguard stack as real processes on loopback: exporter, receiver, Prometheus, Alertmanager.

The demo and the end-to-end tests run the shipped configuration (`deploy/prometheus/prometheus.yml`,
`rules/gpuguard.rules.yml`, `alertmanager/alertmanager.yml`, `actions/policy.yml`) with only
addresses, ports and file paths overridden, on free ports of 127.0.0.1 (never the standard ones, which
the host may already use). Every process started here is stopped by `Stack.close()`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {
    "prometheus": REPO / "deploy" / "prometheus" / "prometheus.yml",
    "rules": REPO / "rules" / "gpuguard.rules.yml",
    "alertmanager": REPO / "alertmanager" / "alertmanager.yml",
    "policy": REPO / "actions" / "policy.yml",
}
EXPORTER_PORT, RECEIVER_PORT = 9400, 9401
RESEND_DELAY = "5s"


class StackError(RuntimeError):
    """A service did not start, or a shipped file is missing or malformed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def load_shipped(name: str) -> dict[str, Any]:
    path = SHIPPED[name]
    if not path.exists():
        raise StackError(f"{path} is missing: run `make render`")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise StackError(f"{path}: expected a YAML mapping")
    return data


def _port_of(target: str) -> int | None:
    host_port = target.rsplit(":", 1)
    return int(host_port[1]) if len(host_port) == 2 and host_port[1].isdigit() else None


def prometheus_config(
    shipped: dict[str, Any],
    exporter: str,
    receiver: str,
    alertmanagers: list[str],
    rule_files: list[Path],
) -> dict[str, Any]:
    """The shipped Prometheus config with its targets, Alertmanagers and rule files pointed here.

    Scrape targets on the exporter's standard port go to `exporter`, those on the receiver's to
    `receiver`; every other setting (intervals, relabelling, job names) is kept as shipped.
    """
    config = copy.deepcopy(shipped)
    config["rule_files"] = [str(path) for path in rule_files]
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            moved = []
            for target in static.get("targets", []):
                port = _port_of(target)
                moved.append(
                    exporter if port == EXPORTER_PORT else receiver if port == RECEIVER_PORT else target
                )
            static["targets"] = moved
    alerting = config.setdefault("alerting", {})
    alerting["alertmanagers"] = [{"static_configs": [{"targets": list(alertmanagers)}]}]
    return config


def alertmanager_config(shipped: dict[str, Any], receiver_url: str, token_file: Path) -> dict[str, Any]:
    """The shipped Alertmanager config with the receiver's webhook URL and token file pointed here."""
    config = copy.deepcopy(shipped)
    hooked = 0
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = receiver_url
            auth = webhook.setdefault("http_config", {}).setdefault("authorization", {})
            auth["credentials_file"] = str(token_file)
            hooked += 1
    if not hooked:
        raise StackError(f"{SHIPPED['alertmanager']}: no webhook receiver to point at the action receiver")
    return config


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    address: str
    ready_path: str
    log: Path
    args: list[str]

    @property
    def url(self) -> str:
        return f"http://{self.address}"


@dataclass
class Stack:
    """Starts services into `workdir` (configs, data, logs) with `env` (the simulated node's)."""

    workdir: Path
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token_file = self.workdir / "receiver-token"
        if not self.token_file.exists():
            self.token_file.write_text(secrets.token_hex(24) + "\n")
            self.token_file.chmod(0o600)

    # -- generic process handling -------------------------------------------------------------

    def start(self, name: str, args: list[str], port: int, ready_path: str, timeout: float = 60.0) -> Service:
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops these in order
            )
        service = Service(name, process, f"127.0.0.1:{port}", ready_path, log, args)
        self.services[name] = service
        self._wait_ready(service, timeout)
        return service

    def _wait_ready(self, service: Service, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while http_status(service.url + service.ready_path) != 200:
            if service.process.poll() is not None:
                tail = service.log.read_text(errors="replace")[-2000:]
                raise StackError(f"{service.name} exited with {service.process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name} not ready on {service.url}{service.ready_path} in {timeout:.0f}s"
                )
            time.sleep(0.1)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        service = self.services.pop(name)
        if service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(sig)
            try:
                service.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()

    def restart(self, name: str, timeout: float = 60.0) -> Service:
        """Stop a service and start it again with the same arguments and port."""
        old = self.services[name]
        self.stop(name)
        port = int(old.address.rsplit(":", 1)[1])
        return self.start(name, old.args, port, old.ready_path, timeout)

    def close(self) -> None:
        for name in reversed(list(self.services)):
            self.stop(name)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the four services ----------------------------------------------------------------------

    def gpuguard(self) -> str:
        cli = shutil.which(
            "gpuguard", path=str(Path(sys.executable).parent) + os.pathsep + self.env.get("PATH", "")
        )
        if cli is None:
            raise StackError("the gpuguard CLI is not installed: run `make venv`")
        return cli

    def start_exporter(self, extra: list[str] | None = None) -> Service:
        port = free_port()
        args = [self.gpuguard(), "exporter", "--address", f"127.0.0.1:{port}", *(extra or [])]
        return self.start("exporter", args, port, "/health")

    def start_receiver(
        self, policy: Path, node_name: str, name: str = "receiver", extra: list[str] | None = None
    ) -> Service:
        port = free_port()
        args = [
            self.gpuguard(),
            "actions",
            "--listen",
            f"127.0.0.1:{port}",
            "--policy",
            str(policy),
            "--auth-token-file",
            str(self.token_file),
            "--state-dir",
            str(self.workdir / f"{name}-state"),
            "--audit-log",
            str(self.workdir / f"{name}-audit.jsonl"),
            "--node-name",
            node_name,
            *(extra or []),
        ]
        return self.start(name, args, port, "/health")

    def start_alertmanager(self, config: dict[str, Any], name: str = "alertmanager") -> Service:
        port = free_port()
        path = self.workdir / f"{name}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        args = [
            "prometheus-alertmanager",
            f"--config.file={path}",
            f"--storage.path={self.workdir / (name + '-data')}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        return self.start(name, args, port, "/-/ready")

    def start_prometheus(self, config: dict[str, Any]) -> Service:
        port = free_port()
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        args = [
            "prometheus",
            f"--config.file={path}",
            f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            # Alert notifications sent before Alertmanager is discovered (up to 5 s after start) are
            # dropped and re-sent only after this delay (default 1m): the Watchdog heartbeat would be
            # late by a minute. deploy/prometheus/README.md recommends the same flag.
            f"--rules.alert.resend-delay={RESEND_DELAY}",
        ]
        return self.start("prometheus", args, port, "/-/ready")
