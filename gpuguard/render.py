"""Render the thermal policy (jsonnet) into the files Prometheus, Alertmanager, Grafana and the receiver read.

    python -m gpuguard.render                  # rewrite every rendered file in the repository
    python -m gpuguard.render --check          # exit 1 if any rendered file is stale or a source unformatted
    python -m gpuguard.render --out DIR --overrides '{"receiverUrl": "http://127.0.0.1:5001/alerts"}'

`render.jsonnet` names every rendered file and `rules/tests/*.jsonnet` the promtool unit tests. The
`overrides` object is merged over `config.libsonnet`'s `_config` field by field, which is how the demo
and the end-to-end tests move addresses, ports and paths while keeping the shipped policy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ENTRY = "render.jsonnet"
PROMTOOL_TESTS = "rules/tests"
# The jsonnet sources this module renders from; `--check` also wants them `jsonnetfmt`-clean.
SOURCE_GLOBS = (
    "*.libsonnet",
    "*.jsonnet",
    "rules/**/*.*sonnet",
    "alertmanager/**/*.*sonnet",
    "dashboards/**/*.*sonnet",
    "deploy/prometheus/**/*.*sonnet",
)
YAML_HEADER = "# Rendered by `make render` from the jsonnet sources (config.libsonnet); do not edit.\n"
# Keys that read best first, in this order (rules, groups, routes, scrape jobs); the rest sorted.
LEADING_KEYS = [
    "version", "name", "interval", "record", "alert", "expr", "for", "keep_firing_for", "labels",
    "annotations", "summary", "description", "job_name", "receiver", "matchers", "global", "route",
    "rule_files", "evaluation_interval", "tests", "input_series", "series", "values",
]
KEY_RANK = {key: rank for rank, key in enumerate(LEADING_KEYS)}


class RenderError(Exception):
    """A one-line reason the rendering failed."""


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (KEY_RANK.get(k, len(KEY_RANK)), k))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as `|` blocks, everything else plain."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def to_text(path: str, value: Any) -> str:
    """The file content for `value` at `path`: YAML with a header, or indented JSON."""
    if path.endswith(".json"):
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    body = yaml.dump(
        _ordered(value), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110,
        default_flow_style=False,
    )
    return YAML_HEADER + body


def _evaluate(path: Path, tla_codes: dict[str, str] | None = None) -> Any:
    import _jsonnet  # the `jsonnet` package; imported here so `--help` works without it

    try:
        text = _jsonnet.evaluate_file(str(path), jpathdir=[str(REPO)], tla_codes=tla_codes or {})
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "jsonnet failed"
        raise RenderError(f"{path.relative_to(REPO)}: {first}") from None
    return json.loads(text)


def render(overrides: dict[str, Any] | None = None, with_tests: bool = True) -> dict[str, str]:
    """Every rendered file as {repository-relative path: text}, with `overrides` merged over `_config`."""
    if overrides is not None and not isinstance(overrides, dict):
        raise RenderError(f"overrides must be a JSON object, got {type(overrides).__name__}")
    files = _evaluate(REPO / ENTRY, {"overrides": json.dumps(overrides or {})})
    out = {path: to_text(path, value) for path, value in files.items()}
    if with_tests:
        for source in sorted((REPO / PROMTOOL_TESTS).glob("*.jsonnet")):
            out[f"{PROMTOOL_TESTS}/{source.stem}.yml"] = to_text(".yml", _evaluate(source))
    return out


def sources() -> list[Path]:
    """The jsonnet sources, for the formatting check."""
    found: set[Path] = set()
    for pattern in SOURCE_GLOBS:
        found.update(p for p in REPO.glob(pattern) if p.suffix in (".jsonnet", ".libsonnet"))
    return sorted(found)


def unformatted(paths: Iterable[Path]) -> list[Path]:
    """Sources `jsonnetfmt --test` rejects."""
    jsonnetfmt = shutil.which("jsonnetfmt")
    if jsonnetfmt is None:
        raise RenderError("jsonnetfmt not found: install Debian's `jsonnet` package (make tools)")
    bad = []
    for path in paths:
        result = subprocess.run([jsonnetfmt, "--test", str(path)], capture_output=True, timeout=60)
        if result.returncode != 0:
            bad.append(path)
    return bad


def stale(rendered: dict[str, str], root: Path = REPO) -> list[str]:
    """Rendered paths whose file under `root` is missing or differs."""
    out = []
    for path, text in rendered.items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    return sorted(out)


def write(rendered: dict[str, str], root: Path) -> list[Path]:
    written = []
    for path, text in rendered.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpuguard.render", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a rendered file is stale or a source is not "
                        "jsonnetfmt-clean")
    parser.add_argument("--out", type=Path, default=None,
                        help="write under this folder instead of the repository (keeps its layout)")
    parser.add_argument("--overrides", default=None, metavar="JSON",
                        help="a JSON object merged over _config (addresses, ports, paths)")
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.overrides) if args.overrides else None
    except json.JSONDecodeError as error:
        print(f"gpuguard.render: --overrides is not valid JSON: {error}", file=sys.stderr)
        return 2
    try:
        rendered = render(overrides)
        if args.check:
            problems = [f"stale: {p} (run `make render`)" for p in stale(rendered, args.out or REPO)]
            problems += [f"not jsonnetfmt-clean: {p.relative_to(REPO)}" for p in unformatted(sources())]
            for problem in problems:
                print(problem, file=sys.stderr)
            if not problems:
                print(f"{len(rendered)} rendered files up to date")
            return 1 if problems else 0
        for target in write(rendered, args.out or REPO):
            print(f"rendered {target}")
    except RenderError as error:
        print(f"gpuguard.render: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
