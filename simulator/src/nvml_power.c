/* Power, energy, clocks, clock event (throttle) reasons, violations, performance state, PCIe, ECC. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nvml_common.h"

static unsigned int milliwatts(double watts) { return (unsigned int)lround(watts * 1000.0); }

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!power) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *power = milliwatts(ST->power_w);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!energy) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *energy = (unsigned long long)llround(ST->energy_j * 1000.0);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementMode(nvmlDevice_t device, nvmlEnableState_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    *mode = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *limit = milliwatts(ST->power_limit_w);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *limit = milliwatts(ST->power_limit_w);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int *defaultLimit) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!defaultLimit) return NVML_ERROR_INVALID_ARGUMENT;
    *defaultLimit = milliwatts(CFG->default_limit_w);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit,
                                                                      unsigned int *maxLimit) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!minLimit || !maxLimit) return NVML_ERROR_INVALID_ARGUMENT;
    *minLimit = milliwatts(CFG->min_limit_w);
    *maxLimit = milliwatts(CFG->max_limit_w);
    return NVML_SUCCESS;
}

static nvmlReturn_t set_limit(int gpu, unsigned int limit_mw) {
    if (limit_mw < milliwatts(CFG->min_limit_w) || limit_mw > milliwatts(CFG->max_limit_w))
        return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    ST->power_limit_w = limit_mw / 1000.0;
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned int limit) {
    char args[64];
    snprintf(args, sizeof args, "\"limit_mw\": %u", limit);
    SETTER_ENTER(device, args, LAT_SETTER);
    nvmlReturn_t rc = set_limit(gpu, limit);
    sim_log_setter(__func__, gpu, args, rc);
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit_v2(nvmlDevice_t device, nvmlPowerValue_v2_t *powerValue) {
    char args[96] = "";
    if (powerValue)
        snprintf(args, sizeof args, "\"limit_mw\": %u, \"scope\": %u", powerValue->powerValueMw,
                 (unsigned int)powerValue->powerScope);
    SETTER_ENTER(device, args, LAT_SETTER);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (!powerValue) rc = NVML_ERROR_INVALID_ARGUMENT;
    else if (powerValue->version != nvmlPowerValue_v2) rc = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    else if (powerValue->powerScope != NVML_POWER_SCOPE_GPU) rc = NVML_ERROR_NOT_SUPPORTED;
    else rc = set_limit(gpu, powerValue->powerValueMw);
    sim_log_setter(__func__, gpu, args, rc);
    return rc;
}

/* ---- clocks ---- */

static nvmlReturn_t clock_value(int gpu, nvmlClockType_t type, int current, unsigned int *clock) {
    if (!clock) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int max;
    switch (type) {
    case NVML_CLOCK_GRAPHICS: max = CFG->clock_graphics_max; break;
    case NVML_CLOCK_SM: max = CFG->clock_sm_max; break;
    case NVML_CLOCK_MEM: max = CFG->clock_mem_max; break;
    case NVML_CLOCK_VIDEO: max = CFG->clock_video_max; break;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
    if (!current) {
        *clock = max;
        return NVML_SUCCESS;
    }
    MODEL_BEGIN();
    double graphics_share = CFG->clock_graphics_max ? ST->clock_graphics / CFG->clock_graphics_max : 0;
    double value = type == NVML_CLOCK_MEM ? ST->clock_mem : max * graphics_share;
    MODEL_END();
    *clock = (unsigned int)lround(value);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return clock_value(gpu, type, 1, clock);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return clock_value(gpu, type, 0, clock);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t device, nvmlClockType_t type,
                                                            unsigned int *clock) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return clock_value(gpu, type, 0, clock);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t device, nvmlClockType_t type, nvmlClockId_t id,
                                            unsigned int *clock) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (id == NVML_CLOCK_ID_CURRENT) return clock_value(gpu, type, 1, clock);
    if (id == NVML_CLOCK_ID_APP_CLOCK_TARGET || id == NVML_CLOCK_ID_APP_CLOCK_DEFAULT ||
        id == NVML_CLOCK_ID_CUSTOMER_BOOST_MAX)
        return clock_value(gpu, type, 0, clock);
    return NVML_ERROR_INVALID_ARGUMENT;
}

static const unsigned long long k_supported_reasons =
    nvmlClocksEventReasonGpuIdle | nvmlClocksEventReasonApplicationsClocksSetting | nvmlClocksEventReasonSwPowerCap |
    nvmlClocksThrottleReasonHwSlowdown | nvmlClocksEventReasonSwThermalSlowdown |
    nvmlClocksThrottleReasonHwThermalSlowdown | nvmlClocksThrottleReasonHwPowerBrakeSlowdown |
    nvmlClocksEventReasonSyncBoost | nvmlClocksEventReasonDisplayClockSetting;

static nvmlReturn_t current_reasons(int gpu, unsigned long long *reasons) {
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *reasons = ST->throttle_reasons;
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return current_reasons(gpu, reasons);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                                   unsigned long long *reasons) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return current_reasons(gpu, reasons);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = k_supported_reasons;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t device,
                                                                     unsigned long long *reasons) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = k_supported_reasons;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t device, nvmlPerfPolicyType_t perfPolicyType,
                                                      nvmlViolationTime_t *violTime) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!violTime) return NVML_ERROR_INVALID_ARGUMENT;
    double seconds;
    MODEL_BEGIN();
    switch (perfPolicyType) {
    case NVML_PERF_POLICY_POWER: seconds = ST->power_violation_s; break;
    case NVML_PERF_POLICY_THERMAL: seconds = ST->thermal_violation_s; break;
    case NVML_PERF_POLICY_SYNC_BOOST:
    case NVML_PERF_POLICY_BOARD_LIMIT:
    case NVML_PERF_POLICY_LOW_UTILIZATION:
    case NVML_PERF_POLICY_RELIABILITY: seconds = 0; break;
    case NVML_PERF_POLICY_TOTAL_APP_CLOCKS:
    case NVML_PERF_POLICY_TOTAL_BASE_CLOCKS: seconds = ST->power_violation_s + ST->thermal_violation_s; break;
    default: seconds = -1;
    }
    double wall = sim_wall_at(g_node, g_node->sim_time);
    MODEL_END();
    if (seconds < 0) return NVML_ERROR_INVALID_ARGUMENT;
    violTime->referenceTime = (unsigned long long)(wall * 1e6); /* µs */
    violTime->violationTime = (unsigned long long)(seconds * 1e9); /* ns */
    return NVML_SUCCESS;
}

static nvmlPstates_t pstate_of(int gpu) {
    return sim_gpu_workload_count(g_node, (unsigned int)gpu) ? NVML_PSTATE_0 : NVML_PSTATE_8;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pState) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *pState = pstate_of(gpu);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerState(nvmlDevice_t device, nvmlPstates_t *pState) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pState) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *pState = pstate_of(gpu);
    MODEL_END();
    return NVML_SUCCESS;
}

/* ---- PCIe and ECC ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter,
                                                     unsigned int *value) {
    DEVICE_ENTER(device, LAT_PCIE);
    if (!value || (counter != NVML_PCIE_UTIL_TX_BYTES && counter != NVML_PCIE_UTIL_RX_BYTES))
        return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    double busy = ST->util_gpu / 100.0;
    MODEL_END();
    /* KB/s over the 20 ms sample: host-to-device traffic dominates for compute work. */
    double kbps = counter == NVML_PCIE_UTIL_RX_BYTES ? 1000 + busy * 4e6 : 1000 + busy * 1e6;
    *value = (unsigned int)kbps;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned int *value) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!value) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *value = (unsigned int)ST->pcie_replay;
    MODEL_END();
    return NVML_SUCCESS;
}

/* GeForce boards have no ECC; the workstation and data-centre boards have it on, with no errors. */
static int has_ecc(int gpu) { return CFG->brand != NVML_BRAND_GEFORCE; }

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                     nvmlEccCounterType_t counterType, unsigned long long *eccCounts) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!eccCounts || errorType >= NVML_MEMORY_ERROR_TYPE_COUNT || counterType >= NVML_ECC_COUNTER_TYPE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!has_ecc(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *eccCounts = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
                                              nvmlEnableState_t *pending) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    if (!has_ecc(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *current = *pending = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                                   unsigned int *isPending, unsigned int *failureOccurred) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!corrRows || !uncRows || !isPending || !failureOccurred) return NVML_ERROR_INVALID_ARGUMENT;
    if (!has_ecc(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *corrRows = *uncRows = *isPending = *failureOccurred = 0;
    return NVML_SUCCESS;
}
