"""The counters CSV: dcgm-exporter's exact format, and our default covering dcgm's default rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuguard.exporter import counters, fields
from gpuguard.exporter.counters import CountersError

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "dcgm-exporter"
OURS = Path(__file__).resolve().parents[2] / "exporter" / "default-counters.csv"

# DESIGN.md: thermal rows on by default, under DCGM names.
THERMAL_ROWS = [
    "DCGM_FI_DEV_FAN_SPEED", "DCGM_FI_DEV_SLOWDOWN_TEMP", "DCGM_FI_DEV_SHUTDOWN_TEMP",
    "DCGM_FI_DEV_GPU_MAX_OP_TEMP", "DCGM_FI_DEV_MEM_MAX_OP_TEMP", "DCGM_FI_DEV_GPU_TEMP_LIMIT",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT",
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_THERMAL_VIOLATION",
    "DCGM_FI_DEV_POWER_VIOLATION", "DCGM_FI_DEV_FB_TOTAL", "DCGM_FI_DEV_PSTATE",
]


def naive_rows(path: Path) -> list[tuple[str, str, str]]:
    """Active rows, read independently of the code under test (the compat files hold no quotes)."""
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        field, prom_type, help_text = (cell.strip() for cell in line.split(",", 2))
        rows.append((field, prom_type, help_text))
    return rows


def compat(name: str) -> Path:
    path = COMPAT / "etc" / name
    if not path.exists():
        pytest.skip(f"{path} absent (the shared compat folder beside the repo)")
    return path


def test_dcgm_default_csv_parses_exactly() -> None:
    path = compat("default-counters.csv")
    parsed = [(c.field, c.prom_type, c.help) for c in counters.load(path)]
    assert parsed == naive_rows(path)
    # stray space before the comma in dcgm's own file
    assert ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %).") in parsed
    assert ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version") in parsed


@pytest.mark.parametrize("name", ["default-counters.csv", "dcp-metrics-included.csv"])
def test_every_dcgm_csv_is_accepted(name: str) -> None:
    fields.select(counters.load(compat(name)))  # no unknown field


def test_our_default_repeats_every_active_dcgm_row_and_adds_the_thermal_rows() -> None:
    dcgm = naive_rows(compat("default-counters.csv"))
    ours = naive_rows(OURS)
    for row in dcgm:
        assert row in ours, f"dcgm-exporter's default row {row} missing from {OURS.name}"
    added = [row[0] for row in ours if row not in dcgm]
    assert added == THERMAL_ROWS
    violations = ("DCGM_FI_DEV_THERMAL_VIOLATION", "DCGM_FI_DEV_POWER_VIOLATION")
    assert {row[1] for row in ours if row[0] in violations} == {"counter"}
    # the shipped package data is this file
    assert [(c.field, c.prom_type, c.help) for c in counters.load(None)] == ours


def test_format_details() -> None:
    text = (
        "# a comment, with a comma\n"
        "\n"
        "   \n"
        "  DCGM_FI_DEV_GPU_TEMP ,   gauge  ,  GPU temperature (in C).  \n"
        'DCGM_FI_DEV_POWER_USAGE, gauge, "Power draw, in W"\n'
        "DCGM_FI_DRIVER_VERSION,label,Driver Version\n"
    )
    parsed = counters.parse(text, "x.csv")
    assert [(c.field, c.prom_type, c.help, c.source) for c in parsed] == [
        ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", "x.csv:4"),
        ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw, in W", "x.csv:5"),
        ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version", "x.csv:6"),
    ]
    assert [c.is_label for c in parsed] == [False, False, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# ok\nDCGM_FI_DEV_GPU_TEMP, gauge\n", "x.csv:2: expected 3 fields"),
        ("DCGM_FI_DEV_GPU_TEMP, gauge, a, b\n", "x.csv:1: expected 3 fields"),
        ("\nDCGM_FI_DEV_GPU_TEMP, gaug, GPU temperature\n", "x.csv:2: unknown Prometheus type 'gaug'"),
        ("DCGM_FI_DEV_GPU_TEMP, gauge, a\nDCGM_FI_DEV_GPU_TEMP, gauge, b\n",
         "x.csv:2: DCGM_FI_DEV_GPU_TEMP is listed twice"),
    ],
)
def test_malformed_rows_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(CountersError, match="^" + message.replace("(", r"\(")):
        counters.parse(text, "x.csv")


def test_unknown_field_names_file_and_line() -> None:
    parsed = counters.parse("# c\nDCGM_FI_DEV_GPU_TEMP, gauge, t\nDCGM_FI_DEV_NO_SUCH, gauge, x\n", "x.csv")
    with pytest.raises(CountersError, match="^x.csv:3: unknown field DCGM_FI_DEV_NO_SUCH$"):
        fields.select(parsed)
    with pytest.raises(CountersError, match="^x.csv:1: unknown label field DCGM_FI_NO_LABEL$"):
        fields.select(counters.parse("DCGM_FI_NO_LABEL, label, x\n", "x.csv"))
