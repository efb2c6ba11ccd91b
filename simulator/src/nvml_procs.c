/* Memory, utilization and the process lists (every struct version real drivers still export). */
#include <math.h>
#include <string.h>

#include "nvml_common.h"

#define MIB (1024ULL * 1024ULL)

typedef struct {
    unsigned int pid;
    unsigned long long memory_bytes;
    unsigned int util;
    unsigned int gpu_instance_id, compute_instance_id; /* SIM_NO_INSTANCE off MIG */
} proc_row;

/* Snapshot the workloads a handle sees (the caller holds the model lock). As a real driver: the GPU's
 * own handle (`mig` -1) sees every process, whatever its MIG instance (the aggregate a privileged
 * caller gets); a MIG device handle sees only the processes on its GPU and compute instance. */
static unsigned int collect(int gpu, int mig, proc_row *rows, unsigned int max) {
    unsigned int n = 0;
    if (g_node->st[gpu].shut_down) return 0;
    const sim_mig_config *instance = mig >= 0 ? &CFG->mig[mig] : NULL;
    for (int i = 0; i < SIM_MAX_WORKLOADS && n < max; i++) {
        const sim_workload *w = &g_node->workloads[i];
        if (!w->used || w->gpu != gpu) continue;
        if (instance && (w->gpu_instance_id != instance->gpu_instance_id ||
                         w->compute_instance_id != instance->compute_instance_id))
            continue;
        rows[n].pid = (unsigned int)w->pid;
        rows[n].memory_bytes = w->memory_mib * MIB;
        rows[n].gpu_instance_id = w->gpu_instance_id;
        rows[n].compute_instance_id = w->compute_instance_id;
        double usable = g_node->cfg[gpu].default_limit_w - g_node->cfg[gpu].idle_w;
        double util = 100.0 * w->watts / (usable > 1 ? usable : 1);
        rows[n].util = (unsigned int)lround(util > 100 ? 100 : util < 1 ? 1 : util);
        n++;
    }
    return n;
}

/* Memory the workloads seen by this handle hold, capped at what it has (GPU or MIG instance). */
static unsigned long long used_bytes(int gpu, int mig) {
    proc_row rows[SIM_MAX_WORKLOADS];
    unsigned int n = collect(gpu, mig, rows, SIM_MAX_WORKLOADS);
    unsigned long long used = 0;
    for (unsigned int i = 0; i < n; i++) used += rows[i].memory_bytes;
    unsigned long long room = mig >= 0 ? CFG->mig[mig].memory_mib * MIB
                                       : (CFG->memory_total_mib - CFG->memory_reserved_mib) * MIB;
    return used > room ? room : used;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    if (mig >= 0) {
        memory->total = CFG->mig[mig].memory_mib * MIB;
        memory->used = used_bytes(gpu, mig);
        memory->free = memory->total - memory->used;
        MODEL_END();
        return NVML_SUCCESS;
    }
    /* v1 counts the driver's reservation as used, as real drivers do. */
    memory->total = CFG->memory_total_mib * MIB;
    memory->used = used_bytes(gpu, -1) + CFG->memory_reserved_mib * MIB;
    memory->free = memory->total - memory->used;
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    MODEL_BEGIN();
    if (mig >= 0) {
        memory->total = CFG->mig[mig].memory_mib * MIB;
        memory->reserved = 0;
        memory->used = used_bytes(gpu, mig);
        memory->free = memory->total - memory->used;
        MODEL_END();
        return NVML_SUCCESS;
    }
    memory->total = CFG->memory_total_mib * MIB;
    memory->reserved = CFG->memory_reserved_mib * MIB;
    memory->used = used_bytes(gpu, -1);
    memory->free = memory->total - memory->reserved - memory->used;
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1Memory) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (!bar1Memory) return NVML_ERROR_INVALID_ARGUMENT;
    bar1Memory->bar1Total = CFG->memory_total_mib * MIB + 256 * MIB; /* resizable BAR covers the memory */
    if (mig >= 0) /* a MIG device gets the aperture in proportion to its memory, as real drivers split it */
        bar1Memory->bar1Total = bar1Memory->bar1Total / MIB * CFG->mig[mig].memory_mib / CFG->memory_total_mib * MIB;
    bar1Memory->bar1Used = 16 * MIB;
    bar1Memory->bar1Free = bar1Memory->bar1Total - bar1Memory->bar1Used;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->mig_enabled) return NVML_ERROR_NOT_SUPPORTED; /* real drivers: no whole-GPU utilization in MIG mode */
    MODEL_BEGIN();
    utilization->gpu = (unsigned int)lround(ST->util_gpu);
    utilization->memory = (unsigned int)lround(ST->util_mem);
    MODEL_END();
    return NVML_SUCCESS;
}

/* No video work is simulated: the engines are there and idle. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                         unsigned int *samplingPeriodUs) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->mig_enabled) return NVML_ERROR_NOT_SUPPORTED; /* real drivers: no whole-GPU utilization in MIG mode */
    *utilization = 0;
    *samplingPeriodUs = 167000;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                         unsigned int *samplingPeriodUs) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->mig_enabled) return NVML_ERROR_NOT_SUPPORTED; /* real drivers: no whole-GPU utilization in MIG mode */
    *utilization = 0;
    *samplingPeriodUs = 167000;
    return NVML_SUCCESS;
}

/* ---- process lists: the INSUFFICIENT_SIZE protocol of the real driver ---- */

typedef enum { LIST_COMPUTE, LIST_GRAPHICS, LIST_MPS } list_kind;

/* Fill `infos` (layout v1 or v2) with the workloads the handle (`gpu`, `mig`) sees. */
static nvmlReturn_t process_list(int gpu, int mig, list_kind kind, unsigned int *count, void *infos, int v2) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    proc_row rows[SIM_MAX_WORKLOADS];
    unsigned int n = 0;
    if (kind == LIST_COMPUTE) {
        MODEL_BEGIN();
        n = collect(gpu, mig, rows, SIM_MAX_WORKLOADS);
        MODEL_END();
    }
    if (*count < n || (infos == NULL && n > 0)) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *count = n;
    for (unsigned int i = 0; i < n; i++) {
        if (v2) {
            nvmlProcessInfo_v2_t *p = (nvmlProcessInfo_v2_t *)infos + i;
            p->pid = rows[i].pid;
            p->usedGpuMemory = rows[i].memory_bytes;
            p->gpuInstanceId = rows[i].gpu_instance_id;
            p->computeInstanceId = rows[i].compute_instance_id;
        } else {
            nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
            p->pid = rows[i].pid;
            p->usedGpuMemory = rows[i].memory_bytes;
        }
    }
    return NVML_SUCCESS;
}

#define PROCESS_LIST_FN(name, kind, type, v2)                                                   \
    NVML_EXPORT nvmlReturn_t name(nvmlDevice_t device, unsigned int *infoCount, type *infos) { \
        DEVICE_ENTER_MIG_OK(device, LAT_PROCS);                                                \
        return process_list(gpu, mig, kind, infoCount, infos, v2);                             \
    }

PROCESS_LIST_FN(nvmlDeviceGetComputeRunningProcesses_v3, LIST_COMPUTE, nvmlProcessInfo_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetComputeRunningProcesses_v2, LIST_COMPUTE, nvmlProcessInfo_v2_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetComputeRunningProcesses, LIST_COMPUTE, nvmlProcessInfo_v1_t, 0)
PROCESS_LIST_FN(nvmlDeviceGetGraphicsRunningProcesses_v3, LIST_GRAPHICS, nvmlProcessInfo_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetGraphicsRunningProcesses_v2, LIST_GRAPHICS, nvmlProcessInfo_v2_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetGraphicsRunningProcesses, LIST_GRAPHICS, nvmlProcessInfo_v1_t, 0)
PROCESS_LIST_FN(nvmlDeviceGetMPSComputeRunningProcesses_v3, LIST_MPS, nvmlProcessInfo_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetMPSComputeRunningProcesses_v2, LIST_MPS, nvmlProcessInfo_v2_t, 1)
PROCESS_LIST_FN(nvmlDeviceGetMPSComputeRunningProcesses, LIST_MPS, nvmlProcessInfo_v1_t, 0)

/* Exported together with nvmlDeviceGetConfComputeMemSizeInfo: nvitop picks the current (v2-layout)
 * process struct from the presence of both. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t device, nvmlProcessDetailList_t *plist) {
    DEVICE_ENTER_MIG_OK(device, LAT_PROCS);
    if (!plist) return NVML_ERROR_INVALID_ARGUMENT;
    if (plist->version != nvmlProcessDetailList_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (plist->mode >= NVML_PROCESS_MODE_MAX) return NVML_ERROR_INVALID_ARGUMENT;
    proc_row rows[SIM_MAX_WORKLOADS];
    unsigned int n = 0;
    if (plist->mode == NVML_PROCESS_MODE_COMPUTE || plist->mode == NVML_PROCESS_MODE_ALL) {
        MODEL_BEGIN();
        n = collect(gpu, mig, rows, SIM_MAX_WORKLOADS);
        MODEL_END();
    }
    if (plist->numProcArrayEntries < n || (plist->procArray == NULL && n > 0)) {
        plist->numProcArrayEntries = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    plist->numProcArrayEntries = n;
    for (unsigned int i = 0; i < n; i++) {
        nvmlProcessDetail_v1_t *p = &plist->procArray[i];
        p->pid = rows[i].pid;
        p->usedGpuMemory = rows[i].memory_bytes;
        p->gpuInstanceId = rows[i].gpu_instance_id;
        p->computeInstanceId = rows[i].compute_instance_id;
        p->usedGpuCcProtectedMemory = 0;
    }
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetConfComputeMemSizeInfo(nvmlDevice_t device, nvmlConfComputeMemSizeInfo_t *memInfo) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!memInfo) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED; /* confidential computing is off on every simulated board */
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                                         unsigned int *processSamplesCount,
                                                         unsigned long long lastSeenTimeStamp) {
    DEVICE_ENTER(device, LAT_PROCS);
    if (!processSamplesCount) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->mig_enabled) return NVML_ERROR_NOT_SUPPORTED; /* real drivers: no whole-GPU utilization in MIG mode */
    proc_row rows[SIM_MAX_WORKLOADS];
    MODEL_BEGIN();
    unsigned int n = collect(gpu, -1, rows, SIM_MAX_WORKLOADS);
    unsigned long long now_us = (unsigned long long)(sim_wall_at(g_node, g_node->sim_time) * 1e6);
    MODEL_END();
    if (n == 0 || now_us <= lastSeenTimeStamp) return NVML_ERROR_NOT_FOUND; /* no samples since then */
    if (utilization == NULL || *processSamplesCount < n) {
        *processSamplesCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *processSamplesCount = n;
    for (unsigned int i = 0; i < n; i++) {
        utilization[i].pid = rows[i].pid;
        utilization[i].timeStamp = now_us;
        utilization[i].smUtil = rows[i].util;
        utilization[i].memUtil = (unsigned int)lround(rows[i].util * 0.6);
        utilization[i].encUtil = 0;
        utilization[i].decUtil = 0;
    }
    return NVML_SUCCESS;
}
