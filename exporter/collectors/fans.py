"""Fans: DCGM's average speed plus, per fan, speed, target and whether it is under manual control.

Passive boards (H100 SXM) answer NOT_SUPPORTED: the fan count is asked once and the series stay absent.
"""

from __future__ import annotations

import pynvml

from gpuguard.exporter.collectors.base import GpuReader, Output, fresh_uint

FIELDS = {
    "DCGM_FI_DEV_FAN_SPEED",
    "gpuguard_fan_speed_percent",
    "gpuguard_fan_target_percent",
    "gpuguard_fan_manual",
}


def collect(gpu: GpuReader, out: Output) -> None:
    if not any(out.wants(name) for name in FIELDS):
        return
    count = gpu.cached("fan_count", pynvml.nvmlDeviceGetNumFans, gpu.handle)
    if not count:
        return
    speeds = []
    for fan in range(count):
        labels = (("fan", str(fan)),)
        speed = gpu.read(pynvml.nvmlDeviceGetFanSpeed_v2, gpu.handle, fan, key="fan_speed")
        if speed is not None:
            speeds.append(speed)
        out.add("gpuguard_fan_speed_percent", speed, labels)
        if out.wants("gpuguard_fan_target_percent"):
            out.add("gpuguard_fan_target_percent",
                    gpu.read(pynvml.nvmlDeviceGetTargetFanSpeed, gpu.handle, fan, key="fan_target"), labels)
        if out.wants("gpuguard_fan_manual"):
            policy = gpu.read(pynvml.nvmlDeviceGetFanControlPolicy_v2, gpu.handle, fan, fresh_uint(),
                              key="fan_policy")
            out.add("gpuguard_fan_manual",
                    None if policy is None else int(policy == pynvml.NVML_FAN_POLICY_MANUAL), labels)
    if speeds:
        out.add("DCGM_FI_DEV_FAN_SPEED", round(sum(speeds) / len(speeds)))
