"""Drop-in proof: a real Prometheus 2.42 scrapes our exporter on the simulated dgx-h100, and every
panel query and template-variable query of dcgm-exporter's Grafana dashboard returns data for every
GPU. The queries are written here (facts about our compatibility target) and checked against the
dashboard JSON so that none is forgotten."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.exporter.conftest import require_simulator
from tests.support.prometheus import run_prometheus, static_job

DASHBOARD = (Path(__file__).resolve().parents[3] / "shared" / "compat" / "dcgm-exporter" / "grafana"
             / "dcgm-exporter-dashboard.json")
PANEL_QUERIES = [
    'DCGM_FI_DEV_GPU_TEMP{instance=~"$instance", gpu=~"$gpu"}',
    'avg(DCGM_FI_DEV_GPU_TEMP{instance=~"$instance", gpu=~"$gpu"})',
    'DCGM_FI_DEV_POWER_USAGE{instance=~"$instance", gpu=~"$gpu"}',
    'sum(DCGM_FI_DEV_POWER_USAGE{instance=~"$instance", gpu=~"$gpu"})',
    'DCGM_FI_DEV_SM_CLOCK{instance=~"$instance", gpu=~"$gpu"} * 1000000',
    'DCGM_FI_DEV_GPU_UTIL{instance=~"$instance", gpu=~"$gpu"}',
    'DCGM_FI_DEV_FB_USED{instance=~"$instance", gpu=~"$gpu"}',
    'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{instance=~"$instance", gpu=~"$gpu"}',
]
VARIABLE_QUERIES = {
    "instance": "label_values(DCGM_FI_DEV_GPU_TEMP, instance)",
    "gpu": "label_values(DCGM_FI_DEV_GPU_TEMP, gpu)",
}
GPUS = [str(i) for i in range(8)]


def _dashboard() -> dict[str, Any]:
    if not DASHBOARD.exists():
        pytest.skip(f"{DASHBOARD} absent (the shared compat folder beside the repo)")
    return json.loads(DASHBOARD.read_text())


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def test_query_list_matches_the_dashboard() -> None:
    dashboard = _dashboard()
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", []) if t.get("expr")]
    assert sorted(exprs) == sorted(PANEL_QUERIES)
    variables = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            variables[variable["name"]] = query["query"] if isinstance(query, dict) else query
    assert variables == VARIABLE_QUERIES


def _label_values(prom, query: str) -> list[str]:
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", query).groups()
    return prom.api(f"label/{label}/values", **{"match[]": metric})


@pytest.mark.e2e
def test_every_dashboard_query_returns_data_for_every_gpu(sim_node, exporter, tmp_path: Path) -> None:
    require_simulator()
    node = sim_node(profile="dgx-h100")
    node.start_workload(0, watts=400.0)  # something for the tensor pipe and power panels to show
    with exporter(env=node.env, interval_ms=1000) as exp:
        exp.wait(lambda m: set(m.gpus("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE")) == set(GPUS), what="all series")
        target = f"127.0.0.1:{exp.port}"
        with run_prometheus(tmp_path, scrape_configs=[static_job("dcgm", [target])]) as prom:
            prom.wait_targets_up(count=1)
            prom.wait_for_query('count(DCGM_FI_PROF_PIPE_TENSOR_ACTIVE) == 8')
            values = {name: _label_values(prom, query) for name, query in VARIABLE_QUERIES.items()}
            assert values["instance"] == [target]
            assert sorted(values["gpu"], key=int) == GPUS
            # Grafana's "All" for a multi-value variable: the values joined as a regex alternation
            all_gpus = "(" + "|".join(values["gpu"]) + ")"
            for template in PANEL_QUERIES:
                aggregate = template.startswith(("avg(", "sum("))
                # Grafana escapes regex characters, then PromQL string escaping doubles the backslash
                on_target = template.replace("$instance", re.escape(target).replace("\\", "\\\\"))
                query = on_target.replace("$gpu", all_gpus)
                result = prom.query(query)
                if aggregate:
                    assert len(result) == 1 and result[0]["value"][1] not in ("NaN", ""), query
                    for gpu in GPUS:  # and with one GPU picked
                        one = prom.query(on_target.replace("$gpu", gpu))
                        assert len(one) == 1, (query, gpu)
                else:
                    assert sorted((s["metric"]["gpu"] for s in result), key=int) == GPUS, query
