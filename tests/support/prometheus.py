"""A real Prometheus 2.42 (`/usr/bin/prometheus`) on a free loopback port, for tests.

Reuse it for anything that needs Prometheus to scrape, evaluate rules or send alerts:

```python
from tests.support.prometheus import run_prometheus, static_job

def test_something(tmp_path):
    with run_prometheus(
        tmp_path,
        scrape_configs=[static_job("gpu", ["127.0.0.1:9400"])],   # or your own scrape_config dicts
        rule_files=[Path("rules/gpuguard.rules.yml")],              # copied into Prometheus' folder
        alertmanagers=["127.0.0.1:9093"],                           # optional
        scrape_interval="1s", evaluation_interval="1s",
    ) as prom:
        prom.wait_targets_up()                       # every configured target healthy
        prom.query('up{job="gpu"}')                  # instant query -> list of {"metric", "value"}
        prom.wait_for_query('ALERTS{alertstate="firing"}', timeout=60)   # until non-empty
        prom.alerts()                                # /api/v1/alerts
```

Prometheus runs with its own data folder under `tmp_path`, `--web.enable-lifecycle` (so
`prom.reload()` works) and the flags in `extra_args`; its output goes to `tmp_path/prometheus.log`,
which failures quote. `PROMETHEUS` overrides the binary. Tests that need it skip when it is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import file_tail, free_port, http_get, running, wait_for, wait_server_ready

PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")


def static_job(name: str, targets: Sequence[str], **options: Any) -> dict[str, Any]:
    """A scrape config for fixed targets; `options` are further scrape_config keys
    (`scheme="https"`, `tls_config={...}`, `basic_auth={...}`, `scrape_interval="500ms"`)."""
    return {"job_name": name, "static_configs": [{"targets": list(targets)}], **options}


class Prometheus:
    def __init__(self, process: subprocess.Popen, port: int, workdir: Path, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.log = log

    def log_tail(self, lines: int = 30) -> str:
        return file_tail(self.log, lines)

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>; returns `data`; raises AssertionError with Prometheus' error."""
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""), timeout=10)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            error = answer.get("error", body)
            raise AssertionError(f"Prometheus /api/v1/{path} {params}: {status} {error!r}")
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list (vector: [{"metric": {...}, "value": [ts, "v"]}, ...])."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self.api("query", **params)
        result = data["result"]
        return result if data["resultType"] in ("vector", "matrix") else [{"metric": {}, "value": result}]

    def wait_for_query(
        self,
        expr: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 60.0,
    ) -> list[dict[str, Any]]:
        """Poll `expr` until `predicate(result)` holds (default: non-empty); returns that result."""
        last: list[list[dict[str, Any]]] = [[]]

        def check() -> list[dict[str, Any]] | None:
            result = self.query(expr)
            last[0] = result
            return result if predicate(result) else None

        try:
            return wait_for(check, timeout=timeout, interval=0.2, what=f"query {expr!r}")
        except TimeoutError as error:
            raise AssertionError(f"{error}; last result: {last[0]!r}\n{self.log_tail()}") from None

    def targets(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def wait_targets_up(self, timeout: float = 60.0, count: int | None = None) -> list[dict[str, Any]]:
        """Wait until every active target (at least `count`, if given) was scraped successfully."""

        def all_up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            enough = len(targets) >= (count or 1)
            return targets if enough and all(t["health"] == "up" for t in targets) else None

        try:
            return wait_for(all_up, timeout=timeout, interval=0.2, what="all Prometheus targets up")
        except TimeoutError as error:
            detail = [(t["scrapeUrl"], t["health"], t.get("lastError")) for t in self.targets()]
            raise AssertionError(f"{error}: {detail}\n{self.log_tail()}") from None

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def rules(self) -> list[dict[str, Any]]:
        return self.api("rules")["groups"]

    def reload(self) -> None:
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


def write_config(
    workdir: Path,
    scrape_configs: Sequence[dict[str, Any]],
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    external_labels: dict[str, str] | None = None,
) -> Path:
    """prometheus.yml in `workdir`; rule files are copied beside it so the test owns them."""
    rules = []
    for index, rule_file in enumerate(rule_files):
        target = workdir / f"rules-{index}-{Path(rule_file).name}"
        shutil.copyfile(rule_file, target)
        rules.append(target.name)
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                   "scrape_timeout": scrape_interval},
        "scrape_configs": list(scrape_configs),
    }
    if external_labels:
        config["global"]["external_labels"] = external_labels
    if rules:
        config["rule_files"] = rules
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def run_prometheus(
    tmp_path: Path,
    scrape_configs: Sequence[dict[str, Any]] = (),
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    external_labels: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> Iterator[Prometheus]:
    """Start Prometheus with this configuration, wait until it is ready, stop it afterwards."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip(f"{PROMETHEUS} not installed (Debian package prometheus; `make tools`)")
    workdir = tmp_path / "prometheus"
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir, scrape_configs, rule_files, alertmanagers, scrape_interval,
                          evaluation_interval, external_labels)
    port = free_port()
    log = workdir / "prometheus.log"
    args = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1d",
        *extra_args,
    ]
    with running(args, log, cwd=workdir) as process:
        prom = Prometheus(process, port, workdir, log)
        wait_server_ready("Prometheus", f"{prom.url}/-/ready", process, log, startup_timeout)
        yield prom
