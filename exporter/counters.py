"""The counters CSV: which DCGM fields to export, in dcgm-exporter's own file format.

Format (as dcgm-exporter reads it with Go's encoding/csv, `Comment = '#'`): one row per field,
`FIELD, prometheus type, help text`; every cell is trimmed of surrounding spaces; a line starting with
`#` is a comment; blank lines are skipped; a cell may be double-quoted to hold a comma. The type
`label` turns a field into a label on every series instead of a series of its own
(`DCGM_FI_DRIVER_VERSION, label, Driver Version`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PROMETHEUS_TYPES = ("gauge", "counter", "histogram", "summary", "label")
DEFAULT_COUNTERS = "default-counters.csv"


class CountersError(ValueError):
    """A counters file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Counter:
    field: str
    prom_type: str
    help: str
    source: str  # "file:line", for messages about this row

    @property
    def is_label(self) -> bool:
        return self.prom_type == "label"


def parse(text: str, source: str = "<counters>") -> list[Counter]:
    """Rows of a counters CSV, in file order. Raises CountersError naming `source` and the line."""
    counters: list[Counter] = []
    seen: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            cells = next(csv.reader(io.StringIO(line), skipinitialspace=True))
        except csv.Error as error:
            raise CountersError(f"{where}: malformed CSV row: {error}") from None
        cells = [cell.strip(" \t") for cell in cells]
        if len(cells) != 3:
            raise CountersError(f"{where}: expected 3 fields (FIELD, type, help), got {len(cells)}: {line!r}")
        field, prom_type, help_text = cells
        if prom_type not in PROMETHEUS_TYPES:
            raise CountersError(
                f"{where}: unknown Prometheus type {prom_type!r} for {field} "
                f"(one of: {', '.join(PROMETHEUS_TYPES)})"
            )
        if field in seen:
            raise CountersError(f"{where}: {field} is listed twice (first at {seen[field]})")
        seen[field] = where
        counters.append(Counter(field, prom_type, help_text, where))
    return counters


def load(path: str | Path | None) -> list[Counter]:
    """The counters of `path`, or of the shipped default CSV when `path` is None."""
    if path is None:
        text = resources.files("gpuguard.exporter").joinpath(DEFAULT_COUNTERS).read_text()
        return parse(text, DEFAULT_COUNTERS)
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise CountersError(f"{path}: cannot read counters file: {error.strerror or error}") from None
    return parse(text, str(path))
