/* GPM (GPU performance monitoring) on boards that have it (H100): samples of the model's activity
 * accumulators, and metrics computed from two samples as rates over the simulated time between them.
 * Workloads drive them: graphics/tensor activity follows GPU utilization, DRAM bandwidth memory
 * utilization, PCIe traffic the workload's data feed. */
#include <stdlib.h>
#include <string.h>

#include "nvml_common.h"

#define SAMPLE_MAGIC 0x67706d73U /* "gpms" */
#define MIB_F (1024.0 * 1024.0)

struct nvmlGpmSample_st {
    unsigned int magic;
    int valid;
    int gpu;
    double share; /* 1 for the whole GPU; slices/7 for a MIG GPU instance */
    double sim_time;
    double gr_active_s, tensor_active_s, dram_active_s, pcie_rx_bytes, pcie_tx_bytes;
};

NVML_EXPORT nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *gpmSupport) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!gpmSupport) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpmSupport->version != NVML_GPM_SUPPORT_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    gpmSupport->isSupportedDevice = CFG->gpm_supported ? 1 : 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *gpmSample) {
    SYSTEM_ENTER(LAT_NONE);
    if (!gpmSample) return NVML_ERROR_INVALID_ARGUMENT;
    struct nvmlGpmSample_st *s = calloc(1, sizeof *s);
    if (!s) return NVML_ERROR_MEMORY;
    s->magic = SAMPLE_MAGIC;
    *gpmSample = s;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t gpmSample) {
    SYSTEM_ENTER(LAT_NONE);
    if (!gpmSample || gpmSample->magic != SAMPLE_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    gpmSample->magic = 0;
    free(gpmSample);
    return NVML_SUCCESS;
}

static nvmlReturn_t take_sample(int gpu, double share, nvmlGpmSample_t s) {
    if (!s || s->magic != SAMPLE_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->gpm_supported) return NVML_ERROR_NOT_SUPPORTED;
    MODEL_BEGIN();
    s->gpu = gpu;
    s->share = share;
    s->sim_time = g_node->sim_time;
    s->gr_active_s = ST->gpm_gr_active_s;
    s->tensor_active_s = ST->gpm_tensor_active_s;
    s->dram_active_s = ST->gpm_dram_active_s;
    s->pcie_rx_bytes = ST->gpm_pcie_rx_bytes;
    s->pcie_tx_bytes = ST->gpm_pcie_tx_bytes;
    s->valid = 1;
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t gpmSample) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return take_sample(gpu, 1.0, gpmSample);
}

NVML_EXPORT nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t device, unsigned int gpuInstanceId,
                                             nvmlGpmSample_t gpmSample) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!CFG->gpm_supported) return NVML_ERROR_NOT_SUPPORTED;
    if (!CFG->mig_enabled) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int m = 0; m < CFG->mig_count; m++)
        if (CFG->mig[m].gpu_instance_id == gpuInstanceId)
            return take_sample(gpu, CFG->mig[m].slices / 7.0, gpmSample);
    return NVML_ERROR_NOT_FOUND;
}

static void metric_info(nvmlGpmMetric_t *m, const char *short_name, const char *long_name, const char *unit) {
    m->metricInfo.shortName = (char *)short_name;
    m->metricInfo.longName = (char *)long_name;
    m->metricInfo.unit = (char *)unit;
}

NVML_EXPORT nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *metricsGet) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!metricsGet) return NVML_ERROR_INVALID_ARGUMENT;
    if (metricsGet->version != NVML_GPM_METRICS_GET_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct nvmlGpmSample_st *a = metricsGet->sample1, *b = metricsGet->sample2;
    if (metricsGet->numMetrics > NVML_GPM_METRIC_MAX || !a || !b || a->magic != SAMPLE_MAGIC ||
        b->magic != SAMPLE_MAGIC || !a->valid || !b->valid || a->gpu != b->gpu)
        return NVML_ERROR_INVALID_ARGUMENT;
    double dt = b->sim_time - a->sim_time;
    for (unsigned int i = 0; i < metricsGet->numMetrics; i++) {
        nvmlGpmMetric_t *m = &metricsGet->metrics[i];
        m->nvmlReturn = NVML_SUCCESS;
        if (dt <= 0) {
            m->nvmlReturn = NVML_ERROR_INVALID_ARGUMENT; /* samples must be taken in order, time apart */
            continue;
        }
        switch (m->metricId) {
        case NVML_GPM_METRIC_GRAPHICS_UTIL:
            m->value = 100.0 * (b->gr_active_s - a->gr_active_s) / dt;
            metric_info(m, "gr_util", "Graphics engine activity", "%");
            break;
        case NVML_GPM_METRIC_SM_UTIL:
            m->value = 95.0 * (b->gr_active_s - a->gr_active_s) / dt;
            metric_info(m, "sm_util", "SM activity", "%");
            break;
        case NVML_GPM_METRIC_ANY_TENSOR_UTIL:
            m->value = 100.0 * (b->tensor_active_s - a->tensor_active_s) / dt;
            metric_info(m, "any_tensor_util", "Any tensor pipe activity", "%");
            break;
        case NVML_GPM_METRIC_DRAM_BW_UTIL:
            m->value = 100.0 * (b->dram_active_s - a->dram_active_s) / dt;
            metric_info(m, "dram_bw_util", "DRAM bandwidth utilization", "%");
            break;
        case NVML_GPM_METRIC_PCIE_TX_PER_SEC:
            m->value = b->share * (b->pcie_tx_bytes - a->pcie_tx_bytes) / dt / MIB_F;
            metric_info(m, "pcie_tx", "PCIe traffic from the GPU", "MiB/sec");
            break;
        case NVML_GPM_METRIC_PCIE_RX_PER_SEC:
            m->value = b->share * (b->pcie_rx_bytes - a->pcie_rx_bytes) / dt / MIB_F;
            metric_info(m, "pcie_rx", "PCIe traffic to the GPU", "MiB/sec");
            break;
        default: m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; metric_info(m, NULL, NULL, NULL);
        }
    }
    return NVML_SUCCESS;
}
