"""Every dashboard panel query returns data in a real Prometheus scraping the real exporter on the
simulated `seed` node, and the real receiver, with the shipped scrape jobs and rules.

Grafana's own variables are replaced as Grafana would with everything selected. A panel may stay
empty only if it is listed in EMPTY_ON_SEED with the reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gpuguard import render
from tests.rules.shipped import DASHBOARDS, REPO
from tests.support.procs import free_port, running, wait_for, wait_http_ok
from tests.support.prometheus import run_prometheus

pytestmark = pytest.mark.e2e

GPUGUARD = Path(sys.executable).with_name("gpuguard")
DRIVER = REPO / "simulator" / "build" / "libnvidia-ml.so.1"
TOKEN = "dashboard-test-token"
# What Grafana substitutes with every value selected.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1s", "$host": ".*", "$gpu": ".*"}
EMPTY_ON_SEED = {
    ("gpuguard-thermal.json", "Memory temperature"):
        "the seed's GDDR7 boards (RTX 5090, RTX PRO 6000) report no memory temperature; HBM boards do",
}


def substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unsubstituted variable in {expr!r}"
    return expr


def panel_queries() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], substitute(target["expr"])))
        for annotation in dashboard["annotations"]["list"]:
            if "expr" in annotation:
                out.append((path.name, f"annotation {annotation['name']}", substitute(annotation["expr"])))
    return out


def webhook(host: str, uuid: str) -> dict[str, Any]:
    """An Alertmanager (version 4) notification asking the receiver for a fan boost on one GPU."""
    labels = {"alertname": "GPUTemperatureHigh", "severity": "warning", "gpuguard_action": "fan_boost",
              "Hostname": host, "UUID": uuid, "gpu": "0"}
    return {
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "gpuguard-actions", "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [{"status": "firing", "labels": labels, "annotations": {},
                    "startsAt": "2026-11-30T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "0123456789abcdef"}],
    }


def test_every_panel_query_returns_data(tmp_path: Path, sim_node: Callable[..., Any]) -> None:
    if not DRIVER.exists():
        pytest.skip(f"{DRIVER} not built (make driver)")
    node = sim_node("seed")
    node.start_workload(0, watts=400.0, memory_mib=4096)
    exporter_port, receiver_port = free_port(), free_port()
    # The shipped config with only addresses moved, and rules evaluated every second so the test
    # does not wait out the 15 s health interval.
    rendered = render.render({
        "exporterAddress": f"127.0.0.1:{exporter_port}",
        "receiverAddress": f"127.0.0.1:{receiver_port}",
        "intervals": {"evaluation": "1s", "scrape": "1s"},
    }, with_tests=False)
    rules = tmp_path / "gpuguard.rules.yml"
    rules.write_text(rendered["rules/gpuguard.rules.yml"])
    scrape_configs = yaml.safe_load(rendered["deploy/prometheus/prometheus.yml"])["scrape_configs"]
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)

    exporter_args = [GPUGUARD, "exporter", "-a", f"127.0.0.1:{exporter_port}", "-c", "500"]
    with running(exporter_args, tmp_path / "exporter.log", env=node.env) as exporter, \
            run_prometheus(tmp_path, scrape_configs=scrape_configs, rule_files=[rules]) as prom:
        wait_http_ok(f"http://127.0.0.1:{exporter_port}/health", process=exporter)
        temps = prom.wait_for_query("DCGM_FI_DEV_GPU_TEMP")
        host = temps[0]["metric"]["Hostname"]
        gpu0 = next(t["metric"]["UUID"] for t in temps if t["metric"]["gpu"] == "0")

        receiver_args = [GPUGUARD, "actions", "--listen", f"127.0.0.1:{receiver_port}",
                         "--policy", REPO / "actions" / "policy.yml", "--auth-token-file", token,
                         "--state-dir", tmp_path / "receiver-state", "--audit-log", tmp_path / "audit.jsonl",
                         "--node-name", host]
        with running(receiver_args, tmp_path / "receiver.log", env=node.env) as receiver:
            wait_http_ok(f"http://127.0.0.1:{receiver_port}/health", process=receiver)
            # Something for the XID panels and the firing-alerts table (GPUXidCritical), and for the
            # receiver's action panels: a real fan boost through its webhook.
            node.fault(1, xid=48)
            answer = requests.post(f"http://127.0.0.1:{receiver_port}/alerts", json=webhook(host, gpu0),
                                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert answer.status_code // 100 == 2, answer.text
            prom.wait_targets_up(count=3)

            empty: dict[tuple[str, str], str] = {}
            for dashboard, title, expr in panel_queries():
                if (dashboard, title) in EMPTY_ON_SEED:
                    assert prom.query(expr) == [], f"{title} has data now: take it off EMPTY_ON_SEED"
                    continue
                try:
                    wait_for(lambda expr=expr: prom.query(expr), timeout=45, interval=0.5,
                             what=f"{dashboard} / {title}: {expr}")
                except TimeoutError as error:
                    empty[(dashboard, title)] = str(error)
            assert not empty, "panels without data:\n" + "\n".join(empty.values()) + "\n" + prom.log_tail()
