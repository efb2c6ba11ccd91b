/* NVML init/shutdown, the per-call prologue (faults, latency, counters), and the setter log. */
#define _GNU_SOURCE
#include "nvml_common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HANDLE_MAGIC 0x6e766d6cU /* "nvml" */

sim_node *g_node;
static int g_refcount;
static unsigned long long g_generation;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvmlDevice_st g_devices[SIM_MAX_GPUS];
static struct nvmlDevice_st g_mig_devices[SIM_MAX_GPUS][SIM_MAX_MIG];

/* Microseconds per latency class in the `realistic` profile, from measurements people publish of
 * real drivers: cheap getters tens of µs, fan calls ~150 µs, process lists a few ms, and
 * nvmlDeviceGetPcieThroughput which samples the link for 20 ms. */
static const unsigned int k_latency_us[] = {
    [LAT_NONE] = 0, [LAT_CHEAP] = 40, [LAT_FAN] = 150, [LAT_SETTER] = 1000, [LAT_PROCS] = 2500, [LAT_PCIE] = 20000,
};

static void sleep_us(unsigned long us) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void simulate_latency(sim_latency_class latency) {
    if (!g_node->latency || latency == LAT_NONE) return;
    unsigned int us = k_latency_us[latency];
    /* Held while "working", like the real driver's RM lock: concurrent callers queue up behind it. */
    sim_rm_lock(g_node);
    if (g_node->latency_busy) {
        double until = sim_mono_now() + us / 1e6;
        while (sim_mono_now() < until) {
        }
    } else {
        sleep_us(us);
    }
    sim_rm_unlock(g_node);
}

static int initialised(void) {
    return g_node != NULL && g_refcount > 0 && g_generation == g_node->generation;
}

nvmlReturn_t sim_enter(const char *func, sim_latency_class latency) {
    if (!initialised()) return NVML_ERROR_UNINITIALIZED;
    sim_count_call(g_node, func);
    simulate_latency(latency);
    return NVML_SUCCESS;
}

static int names_match(const char *fault, const char *func) {
    if (strcmp(fault, func) == 0) return 1;
    /* "nvmlDeviceGetFanSpeed" also covers nvmlDeviceGetFanSpeed_v2: a fault names the operation. */
    size_t n = strlen(fault);
    return strncmp(fault, func, n) == 0 && strncmp(func + n, "_v", 2) == 0;
}

nvmlReturn_t sim_enter_device(const char *func, nvmlDevice_t device, sim_latency_class latency, int mig_ok,
                              int *gpu, int *mig) {
    if (!initialised()) return NVML_ERROR_UNINITIALIZED;
    sim_count_call(g_node, func);
    if (device == NULL || device->magic != HANDLE_MAGIC || device->gpu < 0 ||
        (unsigned int)device->gpu >= g_node->gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *gpu = device->gpu;
    *mig = device->mig;
    sim_gpu_state *st = &g_node->st[*gpu];
    /* A hang happens before any node-wide lock: other GPUs keep answering meanwhile. */
    int hang = __atomic_load_n(&st->hang_ms, __ATOMIC_ACQUIRE);
    if (hang > 0) sleep_us((unsigned long)hang * 1000UL);
    simulate_latency(latency);
    if (__atomic_load_n(&st->lost, __ATOMIC_ACQUIRE) || __atomic_load_n(&st->shut_down, __ATOMIC_ACQUIRE))
        return NVML_ERROR_GPU_IS_LOST;
    nvmlReturn_t rc = NVML_SUCCESS;
    sim_lock(g_node);
    for (int i = 0; i < SIM_MAX_NOT_SUPPORTED; i++)
        if (st->not_supported[i][0] && names_match(st->not_supported[i], func)) rc = NVML_ERROR_NOT_SUPPORTED;
    sim_unlock(g_node);
    if (rc == NVML_SUCCESS && *mig >= 0 && !mig_ok) rc = NVML_ERROR_NOT_SUPPORTED;
    return rc;
}

nvmlDevice_t sim_device_handle(int gpu, int mig) {
    struct nvmlDevice_st *d = mig < 0 ? &g_devices[gpu] : &g_mig_devices[gpu][mig];
    d->magic = HANDLE_MAGIC;
    d->gpu = gpu;
    d->mig = mig;
    return d;
}

nvmlReturn_t sim_copy_string(char *dst, unsigned int length, const char *src) {
    if (dst == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    size_t need = strlen(src) + 1;
    if (length < need) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, need);
    return NVML_SUCCESS;
}

const char *sim_return_name(nvmlReturn_t rc) {
    switch (rc) {
    case NVML_SUCCESS: return "SUCCESS";
    case NVML_ERROR_UNINITIALIZED: return "UNINITIALIZED";
    case NVML_ERROR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case NVML_ERROR_NOT_SUPPORTED: return "NOT_SUPPORTED";
    case NVML_ERROR_NO_PERMISSION: return "NO_PERMISSION";
    case NVML_ERROR_NOT_FOUND: return "NOT_FOUND";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "INSUFFICIENT_SIZE";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "DRIVER_NOT_LOADED";
    case NVML_ERROR_TIMEOUT: return "TIMEOUT";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "FUNCTION_NOT_FOUND";
    case NVML_ERROR_GPU_IS_LOST: return "GPU_IS_LOST";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "ARGUMENT_VERSION_MISMATCH";
    case NVML_ERROR_NO_DATA: return "NO_DATA";
    default: return "UNKNOWN";
    }
}

void sim_log_setter(const char *func, int gpu, const char *args_json, nvmlReturn_t result) {
    char json[1024];
    sim_lock(g_node);
    sim_advance(g_node);
    double sim_time = g_node->sim_time;
    sim_unlock(g_node);
    snprintf(json, sizeof json,
             "{\"wall\": %.6f, \"sim_time\": %.6f, \"pid\": %d, \"call\": \"%s\", \"gpu\": %d, \"args\": {%s}, "
             "\"result\": \"%s\"}",
             sim_wall_now(), sim_time, (int)getpid(), func, gpu, args_json, sim_return_name(result));
    sim_append_record(g_node, "setters.jsonl", json);
}

/* ---- init / shutdown ---- */

static nvmlReturn_t do_init(void) {
    pthread_mutex_lock(&g_init_lock);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (g_node == NULL) {
        const char *dir = getenv("GPUGUARD_SIM_STATE");
        int err = 0;
        sim_node *node = dir && *dir ? sim_map(dir, 0, &err) : NULL;
        /* No simulated node: the same answer as a machine whose kernel module is not loaded. */
        if (node == NULL || !node->ready) {
            if (node) sim_unmap(node);
            rc = NVML_ERROR_DRIVER_NOT_LOADED;
        } else {
            g_node = node;
        }
    }
    if (rc == NVML_SUCCESS) {
        g_refcount++;
        g_generation = g_node->generation;
        sim_count_call(g_node, "nvmlInit_v2");
    }
    pthread_mutex_unlock(&g_init_lock);
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init(); }
NVML_EXPORT nvmlReturn_t nvmlInit(void) { return do_init(); }
NVML_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    return do_init();
}

NVML_EXPORT nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&g_init_lock);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (g_refcount <= 0) rc = NVML_ERROR_UNINITIALIZED;
    else g_refcount--;
    /* The mapping stays: it is cheap, and a later nvmlInit in this process reuses it. */
    pthread_mutex_unlock(&g_init_lock);
    return rc;
}

NVML_EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not Ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    default: return "Unknown Error";
    }
}
