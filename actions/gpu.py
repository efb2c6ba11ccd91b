"""The NVML calls the receiver makes: fans, power limits, processes, temperatures.

Only this module talks to the driver. Setters are verified by reading back, because the driver (and
pynvml's `_v2` wrappers) can report success for a limit that did not take.
"""

from __future__ import annotations

import threading

import pynvml

from gpuguard import nvml
from gpuguard.actions.policy import PowerSetting

_NO_INSTANCE = 0xFFFFFFFF


class ActionFailed(RuntimeError):
    """An NVML action did not take effect; the message names the call and the driver's error."""


class NotSupported(ActionFailed):
    """The GPU does not have the feature (a fanless board, a locked power limit)."""


class GpuOps:
    """NVML opened lazily: the receiver starts, and says so, even while the driver is not loaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gpus: dict[str, nvml.Gpu] | None = None
        self.last_error: str | None = None

    def gpus(self) -> dict[str, nvml.Gpu]:
        """This node's GPUs by UUID; empty while NVML cannot be opened."""
        with self._lock:
            if self._gpus is None:
                try:
                    nvml.init()
                    self._gpus = {gpu.uuid: gpu for gpu in nvml.list_gpus()}
                    self.last_error = None
                except (nvml.NvmlUnavailable, pynvml.NVMLError) as error:
                    self.last_error = str(error)
                    return {}
            return self._gpus

    def gpu(self, uuid: str) -> nvml.Gpu | None:
        return self.gpus().get(uuid)

    # --- fans -----------------------------------------------------------------------------------
    def fan_boost(self, gpu: nvml.Gpu, speed: float | str) -> list[int]:
        """Every fan to `speed` percent (or the maximum), clamped to the driver's range."""
        count = self._fan_count(gpu)
        try:
            low, high = pynvml.nvmlDeviceGetMinMaxFanSpeed(gpu.handle)
        except pynvml.NVMLError:
            low, high = 0, 100
        target = int(high if speed == "max" else min(max(round(float(speed)), low), high))
        applied = []
        for fan in range(count):
            _call(pynvml.nvmlDeviceSetFanSpeed_v2, gpu.handle, fan, target)
            applied.append(target)
        return applied

    def fan_restore(self, gpu: nvml.Gpu) -> int:
        """Default (automatic) fan control on every fan; returns how many fans."""
        count = self._fan_count(gpu)
        for fan in range(count):
            _call(pynvml.nvmlDeviceSetDefaultFanSpeed_v2, gpu.handle, fan)
        return count

    def _fan_count(self, gpu: nvml.Gpu) -> int:
        count = _call(pynvml.nvmlDeviceGetNumFans, gpu.handle)
        if not count:
            raise NotSupported("the GPU has no fans")
        return int(count)

    # --- power ----------------------------------------------------------------------------------
    def power_limit_mw(self, gpu: nvml.Gpu) -> int:
        return int(_call(pynvml.nvmlDeviceGetPowerManagementLimit, gpu.handle))

    def power_target_mw(self, gpu: nvml.Gpu, setting: PowerSetting) -> int:
        """The limit `setting` asks for on this GPU, clamped to the driver's constraints."""
        low, high = _call(pynvml.nvmlDeviceGetPowerManagementLimitConstraints, gpu.handle)
        if setting.watts is not None:
            wanted = setting.watts * 1000
        else:
            default = _call(pynvml.nvmlDeviceGetPowerManagementDefaultLimit, gpu.handle)
            wanted = default * float(setting.fraction_of_default or 1.0)
        return int(min(max(round(wanted), low), high))

    def set_power_limit(self, gpu: nvml.Gpu, milliwatts: int) -> int:
        _call(pynvml.nvmlDeviceSetPowerManagementLimit, gpu.handle, milliwatts)
        now = self.power_limit_mw(gpu)
        if abs(now - milliwatts) > 1000:
            raise ActionFailed(f"power limit reads back {now} mW after setting {milliwatts} mW")
        return now

    # --- processes and sensors ------------------------------------------------------------------
    def processes(self, gpu: nvml.Gpu, instance: int | None = None) -> set[int]:
        """PIDs NVML reports on the GPU (compute and graphics); with `instance`, on that MIG instance."""
        pids: set[int] = set()
        for handle, filter_instance in self._handles(gpu, instance):
            for getter in (pynvml.nvmlDeviceGetComputeRunningProcesses,
                           pynvml.nvmlDeviceGetGraphicsRunningProcesses):
                try:
                    infos = getter(handle)
                except pynvml.NVMLError as error:
                    if nvml.is_error(error, "NOT_SUPPORTED"):
                        continue
                    raise ActionFailed(f"{getter.__name__}: {nvml.error_name(error)}") from None
                for info in infos:
                    gi = getattr(info, "gpuInstanceId", _NO_INSTANCE)
                    if filter_instance and gi != instance:
                        continue
                    if info.pid > 0:
                        pids.add(int(info.pid))
        return pids

    def _handles(self, gpu: nvml.Gpu, instance: int | None) -> list[tuple[object, bool]]:
        if instance is None:
            return [(gpu.handle, False)]
        handles: list[tuple[object, bool]] = [(gpu.handle, True)]
        try:
            count = pynvml.nvmlDeviceGetMaxMigDeviceCount(gpu.handle)
        except pynvml.NVMLError:
            return handles
        for index in range(count):
            try:
                mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, index)
                if pynvml.nvmlDeviceGetGpuInstanceId(mig) == instance:
                    handles.append((mig, False))
            except pynvml.NVMLError:
                continue
        return handles

    def has_instance(self, gpu: nvml.Gpu, instance: int) -> bool:
        return len(self._handles(gpu, instance)) > 1

    def temperature(self, gpu: nvml.Gpu) -> float:
        return float(_call(pynvml.nvmlDeviceGetTemperature, gpu.handle, pynvml.NVML_TEMPERATURE_GPU))


def _call(function, *args):  # thin wrapper over pynvml's untyped calls
    try:
        return function(*args)
    except pynvml.NVMLError as error:
        name = nvml.error_name(error)
        if name == "NOT_SUPPORTED":
            raise NotSupported(f"{function.__name__}: NOT_SUPPORTED") from None
        raise ActionFailed(f"{function.__name__}: {name}") from None
