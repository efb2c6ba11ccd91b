/* nvmlDeviceGetFieldValues for the fields the model has; any other field answers NOT_SUPPORTED in
 * its own entry (the call itself succeeds), as a real driver does for fields a board lacks. */
#include <math.h>
#include <string.h>

#include "nvml_common.h"

static void set_ull(nvmlFieldValue_t *v, unsigned long long value) {
    v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
    v->value.ullVal = value;
}

static void set_uint(nvmlFieldValue_t *v, unsigned int value) {
    v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    v->value.uiVal = value;
}

static int has_ecc(int gpu) { return g_node->cfg[gpu].brand != NVML_BRAND_GEFORCE; }

/* T.Limit fields: degrees left to a threshold (negative past it), Ada and later. */
static nvmlReturn_t tlimit(int gpu, nvmlFieldValue_t *v) {
    const sim_gpu_config *cfg = &g_node->cfg[gpu];
    if (cfg->architecture < NVML_DEVICE_ARCH_ADA) return NVML_ERROR_NOT_SUPPORTED;
    int threshold = v->fieldId == NVML_FI_DEV_TEMPERATURE_SHUTDOWN_TLIMIT   ? cfg->threshold_shutdown
                    : v->fieldId == NVML_FI_DEV_TEMPERATURE_SLOWDOWN_TLIMIT ? cfg->threshold_slowdown
                    : v->fieldId == NVML_FI_DEV_TEMPERATURE_MEM_MAX_TLIMIT  ? cfg->threshold_memory_max
                                                                            : cfg->threshold_gpu_max;
    if (threshold <= 0) return NVML_ERROR_NOT_SUPPORTED;
    v->valueType = NVML_VALUE_TYPE_SIGNED_INT;
    v->value.siVal = threshold - (int)floor(g_node->st[gpu].temp_c);
    return NVML_SUCCESS;
}

/* One field from the model (caller holds the lock). */
static nvmlReturn_t field_value(int gpu, nvmlFieldValue_t *v) {
    const sim_gpu_config *cfg = &g_node->cfg[gpu];
    const sim_gpu_state *st = &g_node->st[gpu];
    switch (v->fieldId) {
    case NVML_FI_DEV_MEMORY_TEMP:
        if (!cfg->memory_is_hbm) return NVML_ERROR_NOT_SUPPORTED;
        set_uint(v, (unsigned int)floor(sim_memory_temp(g_node, (unsigned int)gpu)));
        return NVML_SUCCESS;
    case NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: set_ull(v, (unsigned long long)llround(st->energy_j * 1000)); return NVML_SUCCESS;
    case NVML_FI_DEV_POWER_INSTANT:
    case NVML_FI_DEV_POWER_AVERAGE: set_uint(v, (unsigned int)lround(st->power_w * 1000)); return NVML_SUCCESS;
    case NVML_FI_DEV_POWER_CURRENT_LIMIT: set_uint(v, (unsigned int)lround(st->power_limit_w * 1000)); return NVML_SUCCESS;
    case NVML_FI_DEV_POWER_DEFAULT_LIMIT: set_uint(v, (unsigned int)lround(cfg->default_limit_w * 1000)); return NVML_SUCCESS;
    case NVML_FI_DEV_PCIE_REPLAY_COUNTER: set_ull(v, st->pcie_replay); return NVML_SUCCESS;
    case NVML_FI_DEV_PERF_POLICY_POWER: set_ull(v, (unsigned long long)(st->power_violation_s * 1e9)); return NVML_SUCCESS;
    case NVML_FI_DEV_PERF_POLICY_THERMAL: set_ull(v, (unsigned long long)(st->thermal_violation_s * 1e9)); return NVML_SUCCESS;
    case NVML_FI_DEV_ECC_CURRENT:
        if (!has_ecc(gpu)) return NVML_ERROR_NOT_SUPPORTED;
        set_uint(v, 1);
        return NVML_SUCCESS;
    case NVML_FI_DEV_ECC_SBE_VOL_TOTAL:
    case NVML_FI_DEV_ECC_DBE_VOL_TOTAL:
    case NVML_FI_DEV_ECC_SBE_AGG_TOTAL:
    case NVML_FI_DEV_ECC_DBE_AGG_TOTAL:
    case NVML_FI_DEV_REMAPPED_COR:
    case NVML_FI_DEV_REMAPPED_UNC:
    case NVML_FI_DEV_REMAPPED_PENDING:
    case NVML_FI_DEV_REMAPPED_FAILURE:
        if (!has_ecc(gpu)) return NVML_ERROR_NOT_SUPPORTED;
        set_ull(v, 0);
        return NVML_SUCCESS;
    case NVML_FI_DEV_TEMPERATURE_SHUTDOWN_TLIMIT:
    case NVML_FI_DEV_TEMPERATURE_SLOWDOWN_TLIMIT:
    case NVML_FI_DEV_TEMPERATURE_MEM_MAX_TLIMIT:
    case NVML_FI_DEV_TEMPERATURE_GPU_MAX_TLIMIT: return tlimit(gpu, v);
    default: return NVML_ERROR_NOT_SUPPORTED;
    }
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (valuesCount < 0 || (valuesCount > 0 && !values)) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    long long now_us = (long long)(sim_wall_at(g_node, g_node->sim_time) * 1e6);
    for (int i = 0; i < valuesCount; i++) {
        values[i].timestamp = now_us;
        values[i].latencyUsec = 0;
        values[i].nvmlReturn = field_value(gpu, &values[i]);
    }
    MODEL_END();
    return NVML_SUCCESS;
}
