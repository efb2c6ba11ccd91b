"""The other profiles of DESIGN.md: dgx-h100 (no fans, HBM, GPM), dgx-h100-mig, scale-64."""

from __future__ import annotations

from tests.simulator.pynvml_run import run_pynvml


def test_dgx_h100_has_no_fans_and_reports_hbm_temperature(sim_node) -> None:
    node = sim_node("dgx-h100")
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            memory_temp, = pynvml.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_MEMORY_TEMP])
            gpus.append([pynvml.nvmlDeviceGetName(h), pynvml.nvmlDeviceGetPowerManagementLimit(h),
                         pynvml.nvmlDeviceGetMemoryInfo(h).total // 2**20,
                         err_name(pynvml.nvmlDeviceGetFanSpeed, h),
                         err_name(pynvml.nvmlDeviceGetNumFans, h),
                         err_name(pynvml.nvmlDeviceSetFanSpeed_v2, h, 0, 100),
                         memory_temp.nvmlReturn,
                         memory_temp.value.uiVal > pynvml.nvmlDeviceGetTemperature(h, 0),
                         pynvml.nvmlDeviceGetMigMode(h)])
        out(gpus)
    """)
    assert len(seen) == 8
    for gpu in seen:
        assert gpu == ["NVIDIA H100 80GB HBM3", 700000, 81559, "NVMLError_NotSupported",
                       "NVMLError_NotSupported", "NVMLError_NotSupported", 0, True, [0, 0]]


def test_dgx_h100_mig_devices_and_instance_ids_enumerate(sim_node) -> None:
    node = sim_node("dgx-h100-mig")
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        gpus = []
        for i in range(3):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mode = pynvml.nvmlDeviceGetMigMode(h)
            instances = []
            for m in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(h)):
                try:
                    mh = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, m)
                except pynvml.NVMLError_NotFound:
                    break
                except pynvml.NVMLError_InvalidArgument:
                    break
                parent = pynvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mh)
                is_mig = pynvml.nvmlDeviceIsMigDeviceHandle(mh)
                instances.append([int(getattr(is_mig, "value", is_mig)),
                                  pynvml.nvmlDeviceGetGpuInstanceId(mh),
                                  pynvml.nvmlDeviceGetComputeInstanceId(mh), pynvml.nvmlDeviceGetName(mh),
                                  pynvml.nvmlDeviceGetUUID(mh).startswith("MIG-"),
                                  pynvml.nvmlDeviceGetIndex(parent)])
            gpus.append([mode, instances])
        out(gpus)
    """)
    gpu0, gpu1, gpu2 = seen
    assert gpu0[0] == [1, 1] and gpu1[0] == [1, 1] and gpu2 == [[0, 0], []]
    assert [(gi, ci) for _, gi, ci, *_ in gpu0[1]] == [(1, 0), (2, 0)]
    assert [name for *_, name, _, _ in gpu0[1]] == ["NVIDIA H100 80GB HBM3 MIG 3g.40gb"] * 2
    assert [(gi, ci) for _, gi, ci, *_ in gpu1[1]] == [(1, 0), (5, 0), (13, 0)]
    assert all(is_mig == 1 and mig_uuid and parent == index
               for index, gpu in enumerate(seen[:2]) for is_mig, _, _, _, mig_uuid, parent in gpu[1])


def test_scale_64_has_64_distinct_gpus(sim_node) -> None:
    node = sim_node("scale-64")
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        out([[pynvml.nvmlDeviceGetUUID(h), pynvml.nvmlDeviceGetPciInfo(h).busId] for h in handles])
    """)
    assert len(seen) == 64
    assert len({uuid for uuid, _ in seen}) == 64 and len({bus for _, bus in seen}) == 64


def test_gpm_metrics_follow_the_workload_on_h100_only(sim_node) -> None:
    node = sim_node("dgx-h100", speed=10.0)
    node.start_workload(2, watts=630.0)  # 630 of the 700 - 70 W the board can add: 100 % busy
    seen = run_pynvml(node.env, """
        import time
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(2)
        idle = pynvml.nvmlDeviceGetHandleByIndex(5)
        def metrics(handle):
            a, b = pynvml.nvmlGpmSampleAlloc(), pynvml.nvmlGpmSampleAlloc()
            pynvml.nvmlGpmSampleGet(handle, a)
            time.sleep(0.2)
            pynvml.nvmlGpmSampleGet(handle, b)
            get = pynvml.c_nvmlGpmMetricsGet_t()
            get.version = pynvml.NVML_GPM_METRICS_GET_VERSION
            get.sample1, get.sample2 = a, b
            ids = [pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL, pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL,
                   pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL, pynvml.NVML_GPM_METRIC_PCIE_TX_PER_SEC,
                   pynvml.NVML_GPM_METRIC_PCIE_RX_PER_SEC]
            get.numMetrics = len(ids)
            for i, metric in enumerate(ids):
                get.metrics[i].metricId = metric
            pynvml.nvmlGpmMetricsGet(get)
            pynvml.nvmlGpmSampleFree(a); pynvml.nvmlGpmSampleFree(b)
            return [[get.metrics[i].nvmlReturn, round(get.metrics[i].value, 1)] for i in range(len(ids))]
        out([pynvml.nvmlGpmQueryDeviceSupport(h).isSupportedDevice, metrics(h), metrics(idle)])
    """)
    supported, busy, idle = seen
    assert supported == 1
    assert all(rc == 0 for rc, _ in busy + idle)
    assert [value for _, value in busy[:3]] == [100.0, 70.0, 60.0]
    assert busy[4][1] > busy[3][1] > idle[3][1]
    assert [value for _, value in idle[:3]] == [0.0, 0.0, 0.0]


def test_seed_boards_have_no_gpm(sim_node) -> None:
    node = sim_node()
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        out([pynvml.nvmlDeviceGetGpuInstanceId.__name__ and err_name(pynvml.nvmlDeviceGetGpuInstanceId, h),
             pynvml.nvmlGpmQueryDeviceSupport(h).isSupportedDevice,
             err_name(pynvml.nvmlGpmSampleGet, h, pynvml.nvmlGpmSampleAlloc())])
    """)
    assert seen == ["NVMLError_NotSupported", 0, "NVMLError_NotSupported"]
