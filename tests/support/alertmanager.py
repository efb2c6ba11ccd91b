"""A real Alertmanager 0.25 (`/usr/bin/prometheus-alertmanager`) on free loopback ports, for tests.

Reuse it for anything that needs Alertmanager to route, group, inhibit or deliver alerts:

```python
from tests.support.alertmanager import run_alertmanager, alert

def test_something(tmp_path):
    with run_alertmanager(tmp_path, Path("alertmanager/alertmanager.yml")) as am:   # or a dict
        am.post([alert("GPUTemperatureCritical", severity="critical", UUID="GPU-1")])
        am.wait_for_alerts(lambda alerts: len(alerts) == 1)
        am.alerts()                       # GET /api/v2/alerts: [{"labels", "status": {"inhibitedBy"}...}]
        am.inhibited_by("GPUTemperatureHigh", UUID="GPU-1")   # fingerprints muting it, [] if none
```

Clustering is off (`--cluster.listen-address=`: Alertmanager would otherwise bind 0.0.0.0:9094),
the web server listens on a free 127.0.0.1 port, state lives under `tmp_path/alertmanager`, output
goes to `tmp_path/alertmanager/alertmanager.log`, which failures quote. `ALERTMANAGER` overrides the
binary. Tests that need it skip when it is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import file_tail, free_port, http_get, running, wait_for, wait_server_ready

ALERTMANAGER = os.environ.get("ALERTMANAGER") or shutil.which("prometheus-alertmanager") or shutil.which(
    "alertmanager"
) or "/usr/bin/prometheus-alertmanager"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert(alertname: str, ends_in: float = 300.0, annotations: dict[str, str] | None = None,
          **labels: str) -> dict[str, Any]:
    """One firing alert as Prometheus posts it to /api/v2/alerts (ending `ends_in` seconds from now;
    a negative value posts it resolved)."""
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": alertname, **labels},
        "annotations": annotations or {},
        "startsAt": _timestamp(now - timedelta(seconds=1)),
        "endsAt": _timestamp(now + timedelta(seconds=ends_in)),
        "generatorURL": "http://127.0.0.1/graph",
    }


class Alertmanager:
    def __init__(self, process: subprocess.Popen, port: int, workdir: Path, config: Path, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.address = f"127.0.0.1:{port}"
        self.workdir = workdir
        self.config = config
        self.log = log

    def log_tail(self, lines: int = 30) -> str:
        return file_tail(self.log, lines)

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """POST alerts to /api/v2/alerts, as Prometheus does."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200, response.status
        except urllib.error.HTTPError as error:
            raise AssertionError(f"Alertmanager refused the alerts: {error.code} {error.read()!r}") from None

    def alerts(self, active: bool = True, inhibited: bool = True, silenced: bool = True,
               receiver: str | None = None) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: each with `labels`, `receivers` and `status` (`state`, `inhibitedBy`)."""
        params: dict[str, Any] = {
            "active": str(active).lower(),
            "inhibited": str(inhibited).lower(),
            "silenced": str(silenced).lower(),
        }
        if receiver is not None:
            params["receiver"] = receiver
        status, body = http_get(f"{self.url}/api/v2/alerts?{urllib.parse.urlencode(params)}", timeout=10)
        if status != 200:
            raise AssertionError(f"Alertmanager /api/v2/alerts: {status} {body!r}")
        return json.loads(body)

    def find(self, alertname: str, **labels: str) -> dict[str, Any] | None:
        """The one alert with this name and these labels, or None."""
        matches = [
            a for a in self.alerts()
            if a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]
        assert len(matches) <= 1, f"{len(matches)} alerts match {alertname} {labels}"
        return matches[0] if matches else None

    def inhibited_by(self, alertname: str, **labels: str) -> list[str]:
        """Fingerprints of the alerts that inhibit this one ([] when it is not inhibited)."""
        found = self.find(alertname, **labels)
        if found is None:
            raise AssertionError(f"Alertmanager has no alert {alertname} {labels}")
        return list(found["status"].get("inhibitedBy") or [])

    def wait_for_alerts(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Poll /api/v2/alerts until `predicate(alerts)` holds; returns those alerts."""

        def check() -> list[dict[str, Any]] | None:
            alerts = self.alerts()
            return alerts if predicate(alerts) else None

        try:
            return wait_for(check, timeout=timeout, interval=0.1, what="Alertmanager alerts")
        except TimeoutError as error:
            raise AssertionError(f"{error}; alerts: {self.alerts()!r}\n{self.log_tail()}") from None


@contextlib.contextmanager
def run_alertmanager(
    tmp_path: Path,
    config: dict[str, Any] | Path,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 60.0,
) -> Iterator[Alertmanager]:
    """Start Alertmanager with `config` (a dict, or a file copied into its folder), wait until it is
    ready, stop it afterwards."""
    if not os.access(ALERTMANAGER, os.X_OK):
        pytest.skip(f"{ALERTMANAGER} not installed (Debian package prometheus-alertmanager; `make tools`)")
    workdir = tmp_path / "alertmanager"
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    if isinstance(config, Path):
        shutil.copyfile(config, config_path)
    else:
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log = workdir / "alertmanager.log"
    args = [
        ALERTMANAGER,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        *extra_args,
    ]
    with running(args, log, cwd=workdir) as process:
        am = Alertmanager(process, port, workdir, config_path, log)
        wait_server_ready("Alertmanager", f"{am.url}/-/ready", process, log, startup_timeout)
        yield am
