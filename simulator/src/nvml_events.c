/* Event sets: XID critical errors injected with `gpuguard sim fault --xid CODE`.
 *
 * XIDs live in a per-GPU ring in the shared state with increasing sequence numbers; an event set (a
 * process-local object, like the real one) remembers per GPU the last sequence it has delivered, so
 * every set sees every XID raised after it registered, exactly once. Waiting polls without holding
 * any lock, so a waiting exporter thread never blocks other callers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "nvml_common.h"

#define EVENT_SET_MAGIC 0x65767374U /* "evst" */
#define POLL_INTERVAL_MS 5

struct nvmlEventSet_st {
    unsigned int magic;
    unsigned long long types[SIM_MAX_GPUS];
    unsigned long long seen[SIM_MAX_GPUS];
};

/* What real boards report as supported: P-state and clock changes everywhere, ECC events where the
 * board has ECC. Only XIDs are ever raised by the simulator; the others register and stay quiet. */
static unsigned long long supported_events(int gpu) {
    unsigned long long types = nvmlEventTypeXidCriticalError | nvmlEventTypePState | nvmlEventTypeClock;
    if (g_node->cfg[gpu].brand != NVML_BRAND_GEFORCE) types |= nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError;
    return types;
}

NVML_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    struct nvmlEventSet_st *s = calloc(1, sizeof *s);
    if (!s) return NVML_ERROR_MEMORY;
    s->magic = EVENT_SET_MAGIC;
    *set = s;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!set || set->magic != EVENT_SET_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    set->magic = 0;
    free(set);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!eventTypes) return NVML_ERROR_INVALID_ARGUMENT;
    *eventTypes = supported_events(gpu);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes,
                                                  nvmlEventSet_t set) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!set || set->magic != EVENT_SET_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    if (eventTypes & ~supported_events(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    set->types[gpu] |= eventTypes;
    set->seen[gpu] = __atomic_load_n(&ST->xid_seq, __ATOMIC_ACQUIRE);
    return NVML_SUCCESS;
}

/* The next undelivered XID of a registered GPU, or 0. */
/* `v2`: the caller's struct has gpuInstanceId/computeInstanceId (nvmlEventSetWait_v2); the v1 one ends
 * after eventData. */
static int next_event(nvmlEventSet_t set, nvmlEventData_t *data, int v2) {
    for (unsigned int g = 0; g < g_node->gpu_count; g++) {
        if (!(set->types[g] & nvmlEventTypeXidCriticalError)) continue;
        sim_gpu_state *st = &g_node->st[g];
        unsigned long long latest = __atomic_load_n(&st->xid_seq, __ATOMIC_ACQUIRE);
        if (latest <= set->seen[g]) continue;
        unsigned long long seq = set->seen[g] + 1;
        if (latest - seq >= SIM_XID_RING) seq = latest - SIM_XID_RING + 1; /* overrun: oldest kept */
        sim_lock(g_node);
        const sim_xid *x = &st->xid[seq % SIM_XID_RING];
        data->eventData = x->code;
        sim_unlock(g_node);
        set->seen[g] = seq;
        data->device = sim_device_handle((int)g, -1);
        data->eventType = nvmlEventTypeXidCriticalError;
        if (v2) {
            data->gpuInstanceId = 0xFFFFFFFFu;
            data->computeInstanceId = 0xFFFFFFFFu;
        }
        return 1;
    }
    return 0;
}

static nvmlReturn_t wait_event(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms, int v2) {
    if (!set || set->magic != EVENT_SET_MAGIC || !data) return NVML_ERROR_INVALID_ARGUMENT;
    double deadline = sim_mono_now() + timeoutms / 1000.0;
    for (;;) {
        if (next_event(set, data, v2)) return NVML_SUCCESS;
        if (sim_mono_now() >= deadline) return NVML_ERROR_TIMEOUT;
        struct timespec ts = {0, POLL_INTERVAL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NVML_ERROR_TIMEOUT;
}

NVML_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    SYSTEM_ENTER(LAT_NONE);
    return wait_event(set, data, timeoutms, 1);
}

NVML_EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    SYSTEM_ENTER(LAT_NONE);
    return wait_event(set, data, timeoutms, 0);
}
