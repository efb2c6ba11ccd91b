"""Issue 11: values of the new and fixed entry points, through unchanged pynvml, per board class."""

from __future__ import annotations

from tests.simulator.pynvml_run import run_pynvml


def test_pci_info_versions_and_bus_numbers(sim_node) -> None:
    node = sim_node("dgx-h100")
    got = run_pynvml(node.env, """
        import ctypes
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(1)
        v3 = pynvml.nvmlDeviceGetPciInfo_v3(h)
        # the 52-byte struct older bindings pass to _v2, inside a buffer that shows any overrun
        buf = (ctypes.c_ubyte * 128)(*([0xA5] * 128))
        rc = pynvml.nvmlLib.nvmlDeviceGetPciInfo_v2(h, ctypes.byref(buf))
        v2_bus = bytes(buf[:16]).split(b"\\0")[0].decode()
        out({"bus": v3.bus, "device": v3.device, "domain": v3.domain, "busId": v3.busId,
             "rc": rc, "v2_bus": v2_bus, "tail": list(buf[52:60]), "v2_fields": list(buf[16:28])})
    """)
    assert got["bus"] == int(got["busId"].split(":")[1], 16)
    assert got["device"] == int(got["busId"].split(":")[2].split(".")[0], 16)
    assert got["bus"] != 0 and got["domain"] == int(got["busId"].split(":")[0], 16)
    assert got["rc"] == 0 and got["tail"] == [0xA5] * 8
    assert got["v2_bus"].lower() == got["busId"][4:].lower()
    assert got["v2_fields"][4] == got["bus"]


def test_board_answers_by_class(sim_node) -> None:
    got = {}
    for profile in ("seed", "dgx-h100"):
        node = sim_node(profile)
        got[profile] = run_pynvml(node.env, """
            pynvml.nvmlInit()
            h = pynvml.nvmlDeviceGetHandleByIndex(0)
            fields = pynvml.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_TEMPERATURE_SLOWDOWN_TLIMIT])
            out({"driver_model": err_name(pynvml.nvmlDeviceGetDriverModel, h),
                 "accounting": err_name(pynvml.nvmlDeviceGetAccountingMode, h),
                 "retired": err_name(pynvml.nvmlDeviceGetRetiredPagesPendingStatus, h),
                 "nvlink0": err_name(pynvml.nvmlDeviceGetNvLinkState, h, 0),
                 "nvlink18": err_name(pynvml.nvmlDeviceGetNvLinkState, h, 18),
                 "nvlink17": err_name(pynvml.nvmlDeviceGetNvLinkState, h, 17),
                 "reasons": pynvml.nvmlDeviceGetSupportedClocksEventReasons(h),
                 "events": pynvml.nvmlDeviceGetSupportedEventTypes(h),
                 "tlimit_rc": fields[0].nvmlReturn,
                 "tlimit": fields[0].value.siVal,
                 "temp": pynvml.nvmlDeviceGetTemperature(h, 0),
                 "slowdown": pynvml.nvmlDeviceGetTemperatureThreshold(h, 1),
                 "gps": err_name(pynvml.nvmlDeviceGetTemperatureThreshold, h, 7),
                 "cores": pynvml.nvmlDeviceGetNumGpuCores(h),
                 "mem_clocks": pynvml.nvmlDeviceGetSupportedMemoryClocks(h)})
        """)
    seed, h100 = got["seed"], got["dgx-h100"]
    for board in (seed, h100):
        assert board["driver_model"] == "NVMLError_NotSupported"  # Windows only
        assert board["retired"] == "NVMLError_NotSupported"  # row remapping on Ampere and later
        assert board["reasons"] & 0x10 and board["reasons"] & 0x100  # SyncBoost, DisplayClockSetting
        assert board["events"] & 0x4 and board["events"] & 0x8  # P-state and Xid
        assert board["tlimit_rc"] == 0 and board["tlimit"] == board["slowdown"] - board["temp"]
    assert seed["accounting"] == "NVMLError_NotSupported" and h100["accounting"] == "no error"  # GeForce
    assert seed["nvlink0"] == "NVMLError_NotSupported"
    assert h100["nvlink0"] == h100["nvlink17"] == "no error"
    assert h100["nvlink18"] == "NVMLError_InvalidArgument"
    assert seed["events"] & 0x3 == 0 and h100["events"] & 0x3 == 0x3  # ECC events only with ECC
    assert seed["gps"] == "no error" and h100["gps"] == "NVMLError_NotSupported"
    assert seed["cores"] == 21760 and h100["cores"] == 16896
    assert len(h100["mem_clocks"]) == 1 and len(seed["mem_clocks"]) == 2  # HBM: one memory clock


def test_mig_bar1_share_and_no_parent_utilization(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    got = run_pynvml(node.env, """
        pynvml.nvmlInit()
        parent = pynvml.nvmlDeviceGetHandleByIndex(0)
        mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, 0)
        plain = pynvml.nvmlDeviceGetHandleByIndex(2)
        out({"parent_bar1": pynvml.nvmlDeviceGetBAR1MemoryInfo(parent).bar1Total,
             "mig_bar1": pynvml.nvmlDeviceGetBAR1MemoryInfo(mig).bar1Total,
             "mig_mem": pynvml.nvmlDeviceGetMemoryInfo(mig).total,
             "parent_mem": pynvml.nvmlDeviceGetMemoryInfo(parent).total,
             "util": err_name(pynvml.nvmlDeviceGetUtilizationRates, parent),
             "enc": err_name(pynvml.nvmlDeviceGetEncoderUtilization, parent),
             "dec": err_name(pynvml.nvmlDeviceGetDecoderUtilization, parent),
             "procutil": err_name(pynvml.nvmlDeviceGetProcessUtilization, parent, 0),
             "plain_util": err_name(pynvml.nvmlDeviceGetUtilizationRates, plain)})
    """)
    share = got["mig_mem"] / got["parent_mem"]
    assert 0 < got["mig_bar1"] < got["parent_bar1"]
    assert abs(got["mig_bar1"] / got["parent_bar1"] - share) < 0.01
    for key in ("util", "enc", "dec", "procutil"):
        assert got[key] == "NVMLError_NotSupported", key
    assert got["plain_util"] == "no error"
