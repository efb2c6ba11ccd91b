"""Issue 11: every symbol both real drivers export is implemented or listed in simulator/exports.csv
with a reason, and the table is what the code does now (regenerated from the guard harness)."""

from __future__ import annotations

import csv

from gpuguard.simulator import exports


def rows() -> dict[str, dict[str, str]]:
    with open(exports.TABLE, newline="") as table:
        return {row["function"]: row for row in csv.DictReader(table)}


def test_every_common_symbol_is_implemented_or_has_a_reason() -> None:
    table = rows()
    ours = exports.exported()
    for symbol in exports.both_lists():
        if symbol in ours:
            continue
        assert symbol in table, f"{symbol} is in both real lists but neither exported nor in exports.csv"
        assert table[symbol]["status"] == "not exported" and table[symbol]["reason"].strip(), symbol


def test_table_is_current() -> None:
    assert exports.TABLE.read_text() == exports.build_table(), \
        "simulator/exports.csv is stale: python -m gpuguard.simulator.exports"


def test_issue_list_is_exported() -> None:
    names = ("DriverModel SupportedMemoryClocks SupportedGraphicsClocks MultiGpuBoard BoardId "
             "BoardPartNumber InforomVersion InforomImageVersion AccountingMode AccountingBufferSize "
             "RetiredPages RetiredPagesPendingStatus MemoryErrorCounter ApplicationsClock "
             "DefaultApplicationsClock AutoBoostedClocksEnabled GpuOperationMode BridgeChipInfo "
             "VirtualizationMode CpuAffinity NumaNodeId MemoryBusWidth NumGpuCores BusType PcieLinkMaxSpeed "
             "PcieSpeed GpuMaxPcieLinkGeneration Samples NvLinkState NvLinkVersion NvLinkRemotePciInfo "
             "NvLinkCapability P2PStatus TopologyCommonAncestor")
    ours = exports.exported()
    missing = [n for n in names.split() if f"nvmlDeviceGet{n}" not in ours]
    assert not missing and "nvmlSystemGetTopologyGpuSet" in ours, missing
