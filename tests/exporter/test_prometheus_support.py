"""The reusable Prometheus helper works: it starts, scrapes a real target, answers queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.prometheus import run_prometheus, static_job


def test_prometheus_scrapes_itself_and_answers_queries(tmp_path: Path) -> None:
    with run_prometheus(tmp_path) as prom:
        # Prometheus scraping its own /metrics: a target that exists as soon as it is ready.
        prom_self = f"127.0.0.1:{prom.port}"
        (prom.workdir / "prometheus.yml").write_text(
            (prom.workdir / "prometheus.yml").read_text().replace("scrape_configs: []", "scrape_configs:\n"
            f"- job_name: self\n  static_configs:\n  - targets: ['{prom_self}']"))
        prom.reload()
        targets = prom.wait_targets_up(count=1)
        assert [t["labels"]["job"] for t in targets] == ["self"]
        result = prom.wait_for_query('up{job="self"} == 1')
        assert result[0]["metric"]["instance"] == prom_self
        assert prom.query("vector(42)")[0]["value"][1] == "42"


def test_bad_query_fails_with_prometheus_error(tmp_path: Path) -> None:
    jobs = [static_job("none", ["127.0.0.1:1"])]
    with run_prometheus(tmp_path, scrape_configs=jobs) as prom, pytest.raises(AssertionError, match="parse"):
        prom.query("sum(")
