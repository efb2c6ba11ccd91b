/* Clock tables, application clocks, PCIe link speeds, P-states, samples and the video-engine session
 * queries (issue 11). Values come from the profile's clocks and PCIe generation. */
#include <math.h>
#include <string.h>

#include "nvml_common.h"

/* Real drivers list graphics clocks in 15 MHz steps from the maximum down. */
#define GRAPHICS_STEP_MHZ 15

static int is_geforce(int gpu) { return g_node->cfg[gpu].brand == NVML_BRAND_GEFORCE; }

/* HBM boards have one memory clock; GDDR boards add the idle one. */
static unsigned int memory_clocks(int gpu, unsigned int *out) {
    const sim_gpu_config *cfg = &g_node->cfg[gpu];
    out[0] = cfg->clock_mem_max;
    if (cfg->memory_is_hbm || cfg->clock_mem_idle == 0 || cfg->clock_mem_idle >= cfg->clock_mem_max) return 1;
    out[1] = cfg->clock_mem_idle;
    return 2;
}

static nvmlReturn_t copy_clocks(const unsigned int *clocks, unsigned int n, unsigned int *count, unsigned int *out) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (*count < n || !out) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(out, clocks, n * sizeof *clocks);
    *count = n;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedMemoryClocks(nvmlDevice_t device, unsigned int *count,
                                                            unsigned int *clocksMHz) {
    DEVICE_ENTER(device, LAT_CHEAP);
    unsigned int clocks[2];
    return copy_clocks(clocks, memory_clocks(gpu, clocks), count, clocksMHz);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedGraphicsClocks(nvmlDevice_t device, unsigned int memoryClockMHz,
                                                              unsigned int *count, unsigned int *clocksMHz) {
    DEVICE_ENTER(device, LAT_CHEAP);
    unsigned int mem[2], n_mem = memory_clocks(gpu, mem), known = 0;
    for (unsigned int i = 0; i < n_mem; i++) known |= mem[i] == memoryClockMHz;
    if (!known) return NVML_ERROR_NOT_FOUND;
    unsigned int clocks[512], n = 0;
    unsigned int low = CFG->clock_graphics_idle ? CFG->clock_graphics_idle : 210;
    for (unsigned int c = CFG->clock_graphics_max; c >= low && n < 512; c -= GRAPHICS_STEP_MHZ) clocks[n++] = c;
    return copy_clocks(clocks, n, count, clocksMHz);
}

/* Application clocks: data-centre and workstation boards default to their maximum; GeForce has none. */
static nvmlReturn_t app_clock(int gpu, nvmlClockType_t type, unsigned int *clock) {
    if (!clock) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    switch (type) {
    case NVML_CLOCK_GRAPHICS: *clock = CFG->clock_graphics_max; return NVML_SUCCESS;
    case NVML_CLOCK_SM: *clock = CFG->clock_sm_max; return NVML_SUCCESS;
    case NVML_CLOCK_MEM: *clock = CFG->clock_mem_max; return NVML_SUCCESS;
    case NVML_CLOCK_VIDEO: *clock = CFG->clock_video_max; return NVML_SUCCESS;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
                                                        unsigned int *clockMHz) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return app_clock(gpu, clockType, clockMHz);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
                                                               unsigned int *clockMHz) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return app_clock(gpu, clockType, clockMHz);
}

/* Auto boost is a pre-Volta control: NOT_SUPPORTED on every current board. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetAutoBoostedClocksEnabled(nvmlDevice_t device, nvmlEnableState_t *isEnabled,
                                                               nvmlEnableState_t *defaultIsEnabled) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isEnabled || !defaultIsEnabled) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

/* ---- PCIe ---- */

static const unsigned int k_gen_mbps[] = {0, 2500, 5000, 8000, 16000, 32000, 64000};

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBusType(nvmlDevice_t device, nvmlBusType_t *type) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!type) return NVML_ERROR_INVALID_ARGUMENT;
    *type = NVML_BUS_TYPE_PCIE; /* SXM modules too: the host link is PCIe */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGenDevice) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!maxLinkGenDevice) return NVML_ERROR_INVALID_ARGUMENT;
    *maxLinkGenDevice = CFG->pcie_gen;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPcieLinkMaxSpeed(nvmlDevice_t device, unsigned int *maxSpeed) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!maxSpeed) return NVML_ERROR_INVALID_ARGUMENT;
    *maxSpeed = CFG->pcie_gen < 7 ? k_gen_mbps[CFG->pcie_gen] : 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPcieSpeed(nvmlDevice_t device, unsigned int *pcieSpeed) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pcieSpeed) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int gen = 0;
    nvmlReturn_t rc = nvmlDeviceGetCurrPcieLinkGeneration(device, &gen); /* whatever the link runs at now */
    if (rc != NVML_SUCCESS) return rc;
    *pcieSpeed = gen < 7 ? k_gen_mbps[gen] : 0;
    return NVML_SUCCESS;
}

/* ---- P-states ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedPerformanceStates(nvmlDevice_t device, nvmlPstates_t *pstates,
                                                                 unsigned int size) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pstates) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlPstates_t mine[] = {NVML_PSTATE_0, NVML_PSTATE_8};
    unsigned int n = 2;
    if (size < n) return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int i = 0; i < size; i++) pstates[i] = i < n ? mine[i] : NVML_PSTATE_UNKNOWN;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMinMaxClockOfPState(nvmlDevice_t device, nvmlClockType_t type,
                                                          nvmlPstates_t pstate, unsigned int *minClockMHz,
                                                          unsigned int *maxClockMHz) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!minClockMHz || !maxClockMHz) return NVML_ERROR_INVALID_ARGUMENT;
    if (pstate != NVML_PSTATE_0 && pstate != NVML_PSTATE_8) return NVML_ERROR_NOT_SUPPORTED;
    unsigned int max, idle;
    switch (type) {
    case NVML_CLOCK_GRAPHICS: case NVML_CLOCK_SM: case NVML_CLOCK_VIDEO:
        max = CFG->clock_graphics_max; idle = CFG->clock_graphics_idle; break;
    case NVML_CLOCK_MEM: max = CFG->clock_mem_max; idle = CFG->clock_mem_idle; break;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
    *minClockMHz = idle;
    *maxClockMHz = pstate == NVML_PSTATE_0 ? max : idle;
    return NVML_SUCCESS;
}

/* ---- samples: one sample, now, of what the model has ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t device, nvmlSamplingType_t type,
                                              unsigned long long lastSeenTimeStamp, nvmlValueType_t *sampleValType,
                                              unsigned int *sampleCount, nvmlSample_t *samples) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!sampleValType || !sampleCount || type >= NVML_SAMPLINGTYPE_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->mig_enabled && (type == NVML_GPU_UTILIZATION_SAMPLES || type == NVML_MEMORY_UTILIZATION_SAMPLES ||
                             type == NVML_ENC_UTILIZATION_SAMPLES || type == NVML_DEC_UTILIZATION_SAMPLES))
        return NVML_ERROR_NOT_SUPPORTED; /* as utilization on a MIG-enabled GPU */
    MODEL_BEGIN();
    unsigned long long now_us = (unsigned long long)(sim_wall_at(g_node, g_node->sim_time) * 1e6);
    double value = 0;
    switch (type) {
    case NVML_TOTAL_POWER_SAMPLES: value = ST->power_w * 1000.0; break;
    case NVML_GPU_UTILIZATION_SAMPLES: value = ST->util_gpu; break;
    case NVML_MEMORY_UTILIZATION_SAMPLES: value = ST->util_mem; break;
    case NVML_PROCESSOR_CLK_SAMPLES: value = ST->clock_graphics; break;
    case NVML_MEMORY_CLK_SAMPLES: value = ST->clock_mem; break;
    default: value = 0; /* video engines idle; no module power sensor beyond the board's */
    }
    MODEL_END();
    *sampleValType = NVML_VALUE_TYPE_UNSIGNED_INT;
    if (!samples) {
        *sampleCount = 1;
        return NVML_SUCCESS;
    }
    if (now_us <= lastSeenTimeStamp) return NVML_ERROR_NOT_FOUND;
    if (*sampleCount < 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    samples[0].timeStamp = now_us;
    samples[0].sampleValue.uiVal = (unsigned int)lround(value);
    *sampleCount = 1;
    return NVML_SUCCESS;
}

/* ---- video engines: no encode/decode sessions are simulated ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t device, nvmlEncoderType_t encoderQueryType,
                                                      unsigned int *encoderCapacity) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!encoderCapacity || encoderQueryType > NVML_ENCODER_QUERY_UNKNOWN) return NVML_ERROR_INVALID_ARGUMENT;
    *encoderCapacity = 100;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned int *sessionCount,
                                                   unsigned int *averageFps, unsigned int *averageLatency) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!sessionCount || !averageFps || !averageLatency) return NVML_ERROR_INVALID_ARGUMENT;
    *sessionCount = *averageFps = *averageLatency = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t device, unsigned int *sessionCount,
                                                      nvmlEncoderSessionInfo_t *sessionInfos) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!sessionCount) return NVML_ERROR_INVALID_ARGUMENT;
    *sessionCount = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFBCStats(nvmlDevice_t device, nvmlFBCStats_t *fbcStats) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!fbcStats) return NVML_ERROR_INVALID_ARGUMENT;
    memset(fbcStats, 0, sizeof *fbcStats);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFBCSessions(nvmlDevice_t device, unsigned int *sessionCount,
                                                  nvmlFBCSessionInfo_t *sessionInfo) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!sessionCount) return NVML_ERROR_INVALID_ARGUMENT;
    *sessionCount = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeedRPM(nvmlDevice_t device, nvmlFanSpeedInfo_t *fanSpeed) {
    DEVICE_ENTER(device, LAT_FAN);
    if (!fanSpeed) return NVML_ERROR_INVALID_ARGUMENT;
    if (fanSpeed->version != nvmlFanSpeedInfo_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (CFG->fan_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    if (fanSpeed->fan >= CFG->fan_count) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    double percent = ST->fan_speed[fanSpeed->fan];
    MODEL_END();
    fanSpeed->speed = (unsigned int)lround(percent * 30.0); /* 3000 RPM at 100 % */
    return NVML_SUCCESS;
}
