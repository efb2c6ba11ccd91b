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
# NVML's answers when the driver under it went away (unloaded, reloaded, upgraded): reopen and retry.
DRIVER_GONE = ("UNINITIALIZED", "DRIVER_NOT_LOADED", "LIB_RM_VERSION_MISMATCH")


class ActionFailed(RuntimeError):
    """An NVML action did not take effect; the message names the call and the driver's error."""


class NotSupported(ActionFailed):
    """The GPU does not have the feature (a fanless board, a locked power limit)."""


class GpuOps:
    """NVML opened lazily: the receiver starts, and says so, even while the driver is not loaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gpus: dict[str, nvml.Gpu] | None = None
        self._generation = 0  # bumped at each reopen, so racing callers reopen once, not each
        self.last_error: str | None = None
        self.reopens = 0
        self._thresholds: dict[tuple[int, str], dict[str, float | None]] = {}

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

    def _reopen(self, seen_generation: int) -> None:
        """The driver went away under us: close NVML and rediscover on the next call."""
        with self._lock:
            if self._generation != seen_generation:
                return  # another thread reopened already
            self._generation += 1
            self.reopens += 1
            self._gpus = None
            nvml.shutdown()

    def _call(self, gpu: nvml.Gpu, function, *args):  # pynvml's calls are untyped
        """`function(handle, *args)` on the GPU's current handle; reopens NVML once after a reload."""
        for attempt in (1, 2):
            generation = self._generation
            current = self.gpu(gpu.uuid)
            if current is None:
                raise ActionFailed(f"{function.__name__}: GPU {gpu.uuid} not found ({self.last_error})")
            try:
                return function(current.handle, *args)
            except pynvml.NVMLError as error:
                if attempt == 1 and nvml.is_error(error, *DRIVER_GONE):
                    self._reopen(generation)
                    continue
                raise _failure(function, error) from None
        raise AssertionError("unreachable")

    # --- fans -----------------------------------------------------------------------------------
    def fan_boost(self, gpu: nvml.Gpu, speed: float | str) -> list[int]:
        """Every fan to `speed` percent (or the maximum), clamped to the driver's range."""
        count = self._fan_count(gpu)
        try:
            low, high = self._call(gpu, pynvml.nvmlDeviceGetMinMaxFanSpeed)
        except ActionFailed:
            low, high = 0, 100
        target = int(high if speed == "max" else min(max(round(float(speed)), low), high))
        applied = []
        for fan in range(count):
            self._call(gpu, pynvml.nvmlDeviceSetFanSpeed_v2, fan, target)
            applied.append(target)
        return applied

    def fan_restore(self, gpu: nvml.Gpu) -> int:
        """Default (automatic) fan control on every fan; returns how many fans."""
        count = self._fan_count(gpu)
        for fan in range(count):
            self._call(gpu, pynvml.nvmlDeviceSetDefaultFanSpeed_v2, fan)
        return count

    def _fan_count(self, gpu: nvml.Gpu) -> int:
        count = self._call(gpu, pynvml.nvmlDeviceGetNumFans)
        if not count:
            raise NotSupported("the GPU has no fans")
        return int(count)

    # --- power ----------------------------------------------------------------------------------
    def power_limit_mw(self, gpu: nvml.Gpu) -> int:
        return int(self._call(gpu, pynvml.nvmlDeviceGetPowerManagementLimit))

    def power_target_mw(self, gpu: nvml.Gpu, setting: PowerSetting) -> int:
        """The limit `setting` asks for on this GPU, clamped to the driver's constraints."""
        low, high = self._call(gpu, pynvml.nvmlDeviceGetPowerManagementLimitConstraints)
        if setting.watts is not None:
            wanted = setting.watts * 1000
        else:
            default = self._call(gpu, pynvml.nvmlDeviceGetPowerManagementDefaultLimit)
            wanted = default * float(setting.fraction_of_default or 1.0)
        return int(min(max(round(wanted), low), high))

    def reset_power_limit_if_capped(self, gpu: nvml.Gpu) -> int | None:
        """The driver's default power limit back where the limit is below it; the new limit, or None."""
        default = int(self._call(gpu, pynvml.nvmlDeviceGetPowerManagementDefaultLimit))
        if self.power_limit_mw(gpu) >= default:
            return None
        return self.set_power_limit(gpu, default)

    def set_power_limit(self, gpu: nvml.Gpu, milliwatts: int) -> int:
        self._call(gpu, pynvml.nvmlDeviceSetPowerManagementLimit, milliwatts)
        now = self.power_limit_mw(gpu)
        if abs(now - milliwatts) > 1000:
            raise ActionFailed(f"power limit reads back {now} mW after setting {milliwatts} mW")
        return now

    # --- processes and sensors ------------------------------------------------------------------
    def processes(self, gpu: nvml.Gpu, instance: int | None = None) -> set[int]:
        """PIDs NVML reports on the GPU (compute and graphics); with `instance`, on that MIG instance."""
        generation = self._generation
        try:
            return self._processes(gpu, instance)
        except ActionFailed as error:
            if not any(name in str(error) for name in DRIVER_GONE):
                raise
        self._reopen(generation)
        return self._processes(gpu, instance)

    def _processes(self, gpu: nvml.Gpu, instance: int | None) -> set[int]:
        current = self.gpu(gpu.uuid)
        if current is None:
            raise ActionFailed(f"GPU {gpu.uuid} not found ({self.last_error})")
        pids: set[int] = set()
        for handle, filter_instance in self._handles(current, instance):
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

    def board_limits_readings(self, gpu: nvml.Gpu) -> dict[str, float | None]:
        """What the board reports for the per-board limits (None: not reported): its thermal margin
        (read each time: it moves with the temperature) and its slowdown and maximum operating
        temperatures (read once per NVML session)."""
        with self._lock:
            cached = self._thresholds.get((self._generation, gpu.uuid))
        if cached is None:
            cached = {}
            for key, kind in (("slowdown", pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN),
                              ("max_operating", pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX)):
                try:
                    cached[key] = float(self._call(gpu, pynvml.nvmlDeviceGetTemperatureThreshold, kind))
                except ActionFailed:
                    cached[key] = None
            with self._lock:
                self._thresholds[(self._generation, gpu.uuid)] = cached
        try:
            margin: float | None = float(self._call(gpu, pynvml.nvmlDeviceGetMarginTemperature))
        except ActionFailed:
            margin = None
        return {"margin": margin, **cached}

    def temperature(self, gpu: nvml.Gpu) -> float:
        return float(self._call(gpu, pynvml.nvmlDeviceGetTemperature, pynvml.NVML_TEMPERATURE_GPU))


def _failure(function, error: pynvml.NVMLError) -> ActionFailed:
    name = nvml.error_name(error)
    if name == "NOT_SUPPORTED":
        return NotSupported(f"{function.__name__}: NOT_SUPPORTED")
    return ActionFailed(f"{function.__name__}: {name}")
