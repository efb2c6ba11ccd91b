"""Done-means 6: each fault mode reaches unchanged pynvml as the right NVMLError subclass."""

from __future__ import annotations

from tests.simulator.pynvml_run import run_pynvml, run_pynvml_with_action


def test_lost_gpu_raises_gpu_is_lost_and_other_gpus_still_answer(sim_node) -> None:
    node = sim_node()
    node.fault(0, lost=True)
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        h0, h1 = (pynvml.nvmlDeviceGetHandleByIndex(i) for i in (0, 1))
        out([err_name(pynvml.nvmlDeviceGetTemperature, h0, 0), err_name(pynvml.nvmlDeviceGetPowerUsage, h0),
             pynvml.nvmlDeviceGetTemperature(h1, 0) > 0])
    """)
    assert seen == ["NVMLError_GpuIsLost", "NVMLError_GpuIsLost", True]
    assert node.status()["gpus"][0]["lost"] is True
    node.fault(0, lost=False)
    assert node.status()["gpus"][0]["lost"] is False


def test_not_supported_on_a_chosen_call_only(sim_node) -> None:
    node = sim_node()
    node.fault(1, not_supported=["nvmlDeviceGetPowerUsage"])
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        h0, h1 = (pynvml.nvmlDeviceGetHandleByIndex(i) for i in (0, 1))
        out([err_name(pynvml.nvmlDeviceGetPowerUsage, h1), err_name(pynvml.nvmlDeviceGetTemperature, h1, 0),
             err_name(pynvml.nvmlDeviceGetPowerUsage, h0)])
    """)
    assert seen == ["NVMLError_NotSupported", "no error", "no error"]


def test_hang_holds_no_node_wide_lock(sim_node) -> None:
    node = sim_node()
    node.fault(0, hang_ms=3000)
    seen = run_pynvml(node.env, """
        import threading
        pynvml.nvmlInit()
        h0, h1 = (pynvml.nvmlDeviceGetHandleByIndex(i) for i in (0, 1))
        hung = threading.Thread(target=pynvml.nvmlDeviceGetTemperature, args=(h0, 0))
        hung.start()
        import time; time.sleep(0.3)  # let the GPU 0 call enter its 3 s hang
        other = pynvml.nvmlDeviceGetTemperature(h1, 0)
        still_hanging = hung.is_alive()
        hung.join()
        out([other > 0, still_hanging, hung.is_alive()])
    """)
    assert seen == [True, True, False]


def test_hang_ms_zero_ends_the_hang(sim_node) -> None:
    node = sim_node()
    node.fault(0, hang_ms=60000)
    node.fault(0, hang_ms=0)
    assert node.status()["gpus"][0]["hang_ms"] == 0
    seen = run_pynvml(node.env, """
        pynvml.nvmlInit()
        out(pynvml.nvmlDeviceGetTemperature(pynvml.nvmlDeviceGetHandleByIndex(0), 0) > 0)
    """, timeout=30)
    assert seen is True


def test_clear_ends_every_fault_of_the_gpu(sim_node) -> None:
    node = sim_node()
    node.fault(0, lost=True, not_supported=["nvmlDeviceGetTemperature"], hang_ms=100)
    node.fault(0, clear=True)
    gpu = node.status()["gpus"][0]
    assert (gpu["lost"], gpu["hang_ms"], gpu["not_supported"]) == (False, 0, [])


def test_xid_is_delivered_through_the_event_set(sim_node) -> None:
    node = sim_node("dgx-h100")
    seen = run_pynvml_with_action(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(3)
        events = pynvml.nvmlEventSetCreate()
        pynvml.nvmlDeviceRegisterEvents(h, pynvml.nvmlEventTypeXidCriticalError, events)
        timeout = err_name(pynvml.nvmlEventSetWait_v2, events, 50)
    """, lambda: node.fault(3, xid=79), """
        data = pynvml.nvmlEventSetWait_v2(events, 10000)
        out([timeout, pynvml.nvmlDeviceGetIndex(data.device), data.eventType, data.eventData])
    """)
    assert seen == ["NVMLError_Timeout", 3, 0x8, 79]  # nvmlEventTypeXidCriticalError


def test_driver_reload_invalidates_until_init_again(sim_node) -> None:
    node = sim_node()
    seen = run_pynvml_with_action(node.env, """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        before = pynvml.nvmlDeviceGetTemperature(h, 0) > 0
    """, node.driver_reload, """
        stale = err_name(pynvml.nvmlDeviceGetTemperature, h, 0)
        count = err_name(pynvml.nvmlDeviceGetCount)
        pynvml.nvmlInit()
        again = pynvml.nvmlDeviceGetTemperature(pynvml.nvmlDeviceGetHandleByIndex(0), 0) > 0
        out([before, stale, count, again])
    """)
    assert seen == [True, "NVMLError_Uninitialized", "NVMLError_Uninitialized", True]


def test_fan_failure_fan_commanded_but_not_turning(sim_node) -> None:
    node = sim_node(speed=20.0)
    node.set(0, fan_failure=True)
    seen = run_pynvml(node.env, """
        import time
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        pynvml.nvmlDeviceSetFanSpeed_v2(h, 0, 100)
        time.sleep(0.5)  # 10 simulated seconds: a healthy fan would be at 100 %
        out([pynvml.nvmlDeviceGetTargetFanSpeed(h, 0), pynvml.nvmlDeviceGetFanSpeed_v2(h, 0)])
    """)
    assert seen == [100, 0]


def test_bad_arguments_get_the_real_drivers_codes(sim_node) -> None:
    node = sim_node()
    seen = run_pynvml(node.env, """
        before_init = err_name(pynvml.nvmlDeviceGetCount)
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        out([before_init,
             err_name(pynvml.nvmlDeviceSetFanSpeed_v2, h, 0, 101),
             err_name(pynvml.nvmlDeviceSetFanSpeed_v2, h, 2, 50),
             err_name(pynvml.nvmlDeviceGetFanSpeed_v2, h, 7),
             err_name(pynvml.nvmlDeviceGetHandleByIndex, 2),
             err_name(pynvml.nvmlDeviceGetHandleByUUID, "GPU-00000000-0000-0000-0000-000000000000"),
             err_name(pynvml.nvmlDeviceGetHandleByPciBusId, "00000000:99:00.0"),
             err_name(pynvml.nvmlDeviceSetPowerManagementLimit, h, 700000)])
    """)
    assert seen == ["NVMLError_Uninitialized", "NVMLError_InvalidArgument", "NVMLError_InvalidArgument",
                    "NVMLError_InvalidArgument", "NVMLError_InvalidArgument", "NVMLError_NotFound",
                    "NVMLError_NotFound", "NVMLError_InvalidArgument"]
