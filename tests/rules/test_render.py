"""`make render`: the committed files are what the jsonnet sources render, and the sources are
`jsonnetfmt`-clean. Overrides move addresses and paths and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from gpuguard import render
from tests.rules.shipped import REPO, tool

# DESIGN.md, "Rendered files".
RENDERED = {
    "rules/gpuguard.rules.yml",
    "alertmanager/alertmanager.yml",
    "actions/policy.yml",
    "deploy/prometheus/prometheus.yml",
}


def run_render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gpuguard.render", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_committed_files_are_fresh_and_sources_formatted() -> None:
    tool("jsonnetfmt")
    result = run_render("--check")
    assert result.returncode == 0, f"run `make render` and `jsonnetfmt -i` on the sources:\n{result.stderr}"


def test_every_source_is_jsonnetfmt_clean() -> None:
    jsonnetfmt = tool("jsonnetfmt")
    sources = render.sources()
    assert REPO / "config.libsonnet" in sources
    assert any(p.parent.name == "dashboards" for p in sources)
    for source in sources:
        result = subprocess.run([jsonnetfmt, "--test", str(source)], capture_output=True, timeout=60)
        assert result.returncode == 0, f"{source.relative_to(REPO)} is not jsonnetfmt-clean"


def test_renders_every_file_design_lists(tmp_path: Path) -> None:
    result = run_render("--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert written >= RENDERED
    assert any(p.startswith("rules/tests/") and p.endswith(".yml") for p in written)
    assert any(p.startswith("dashboards/") and p.endswith(".json") for p in written)


def test_check_finds_a_stale_file(tmp_path: Path) -> None:
    tool("jsonnetfmt")
    assert run_render("--out", str(tmp_path)).returncode == 0
    stale = tmp_path / "alertmanager" / "alertmanager.yml"
    stale.write_text(stale.read_text().replace("group_wait: 0s", "group_wait: 30s"))
    result = run_render("--check", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "stale: alertmanager/alertmanager.yml" in result.stderr


def test_overrides_move_addresses_and_keep_the_policy() -> None:
    shipped = render.render()
    moved = render.render({"receiverUrl": "http://127.0.0.1:5001/alerts",
                           "receiverCredentialsFile": "/tmp/token",
                           "exporterAddress": "127.0.0.1:5002"})
    assert moved["rules/gpuguard.rules.yml"] == shipped["rules/gpuguard.rules.yml"]
    assert moved["actions/policy.yml"] == shipped["actions/policy.yml"]
    webhook = yaml.safe_load(moved["alertmanager/alertmanager.yml"])["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "http://127.0.0.1:5001/alerts"
    assert webhook["http_config"]["authorization"]["credentials_file"] == "/tmp/token"
    jobs = yaml.safe_load(moved["deploy/prometheus/prometheus.yml"])["scrape_configs"]
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in jobs}
    assert targets["gpuguard-thermal"] == targets["gpuguard"] == ["127.0.0.1:5002"]


def test_nested_override_merges_field_by_field() -> None:
    rendered = render.render({"temperatureLimits": {"default": {"criticalCelsius": 78},
                                                    "models": {"NVIDIA H200": {"criticalCelsius": 80}}}})
    rules = yaml.safe_load(rendered["rules/gpuguard.rules.yml"])
    named = {r.get("alert") or r["record"]: r for g in rules["groups"] for r in g["rules"]}
    critical = named["gpu:DCGM_FI_DEV_GPU_TEMP:critical_limit"]["expr"]
    warning = named["gpu:DCGM_FI_DEV_GPU_TEMP:warning_limit"]["expr"]
    assert '+ 78, "limit_source", "default"' in critical
    assert '+ 70, "limit_source", "default"' in warning  # the default's warning stays
    # a model named with its critical limit only: the warning tier 5 °C below
    assert 'modelName="NVIDIA H200"} + 80, "limit_source", "model"' in critical
    assert 'modelName="NVIDIA H200"} + 75, "limit_source", "model"' in warning
    assert 'modelName="NVIDIA GeForce RTX 5090"} + 75, "limit_source", "model"' in critical  # shipped stay
    assert ">= 85" in named["GPUMemoryTemperatureHigh"]["expr"]  # untouched siblings stay
    policy = yaml.safe_load(rendered["actions/policy.yml"])
    assert policy["temperature_limits"]["default"] == {"warning_celsius": 70, "critical_celsius": 78}
    h200 = policy["temperature_limits"]["models"]["NVIDIA H200"]
    assert h200 == {"warning_celsius": 75, "critical_celsius": 80}


def test_bad_overrides_are_one_line_errors() -> None:
    for overrides in ("{not json", "[1, 2]"):
        result = run_render("--overrides", overrides, "--out", "/nonexistent")
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
