/*
 * The control API of libgpuguard_sim.so: what the `gpuguard sim` CLI (Python, via ctypes) uses to
 * create a node, change the scenario, inject faults, register workloads and read status.
 *
 * It lives in its own library, built from the same model sources, so that libnvidia-ml.so.1 exports
 * exactly the NVML names a real driver exports and nothing else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "nvml.h"
#include "sim_state.h"

#define API __attribute__((visibility("default")))

typedef struct {
    const char *key;
    char type; /* d double, u unsigned int, i int, q unsigned long long, s string */
    size_t offset;
    size_t size;
} field;

#define F(key, type) {#key, type, offsetof(sim_gpu_config, key), sizeof(((sim_gpu_config *)0)->key)}
static const field k_fields[] = {
    F(name, 's'), F(uuid, 's'), F(serial, 's'), F(pci_bus_id, 's'), F(vbios, 's'),
    F(pci_domain, 'u'), F(pci_bus, 'u'), F(pci_device, 'u'), F(pci_device_id, 'u'), F(pci_subsystem_id, 'u'),
    F(minor_number, 'u'), F(brand, 'u'), F(architecture, 'u'), F(cc_major, 'i'), F(cc_minor, 'i'),
    F(memory_total_mib, 'q'), F(memory_reserved_mib, 'q'), F(memory_is_hbm, 'i'), F(fan_count, 'u'),
    F(fan_min_percent, 'd'), F(fan_max_percent, 'd'), F(fan_curve_low_c, 'd'), F(fan_curve_high_c, 'd'),
    F(idle_w, 'd'), F(default_limit_w, 'd'), F(min_limit_w, 'd'), F(max_limit_w, 'd'),
    F(heat_capacity_j_per_k, 'd'), F(conductance_base_w_per_k, 'd'), F(conductance_fan_w_per_k, 'd'),
    F(threshold_shutdown, 'i'), F(threshold_slowdown, 'i'), F(threshold_gpu_max, 'i'),
    F(threshold_memory_max, 'i'), F(threshold_acoustic_min, 'i'), F(threshold_acoustic_curr, 'i'),
    F(threshold_acoustic_max, 'i'), F(clock_graphics_max, 'u'), F(clock_sm_max, 'u'), F(clock_mem_max, 'u'),
    F(clock_video_max, 'u'), F(clock_graphics_idle, 'u'), F(clock_mem_idle, 'u'), F(pcie_gen, 'u'),
    F(pcie_width, 'u'), F(gpm_supported, 'i'), F(mig_capable, 'i'), F(mig_enabled, 'i'),
    /* exports (issue 11) */
    F(nvlink_count, 'u'), F(num_gpu_cores, 'u'), F(memory_bus_width, 'u'), F(board_part_number, 's'),
    F(inforom_image, 's'), F(threshold_gps_curr, 'i'),
};
#undef F

static const field *find_field(const char *key) {
    for (size_t i = 0; i < sizeof k_fields / sizeof k_fields[0]; i++)
        if (strcmp(k_fields[i].key, key) == 0) return &k_fields[i];
    return NULL;
}

static int valid_gpu(sim_node *node, int gpu) { return node && gpu >= 0 && (unsigned int)gpu < node->gpu_count; }

API void *ggsim_create(const char *dir, const char *profile, double speed, int latency, int latency_busy,
                       unsigned int gpu_count, const char *driver_version, const char *nvml_version,
                       int cuda_version, int *err) {
    if (gpu_count == 0 || gpu_count > SIM_MAX_GPUS || speed <= 0) {
        *err = EINVAL;
        return NULL;
    }
    sim_node *node = sim_map(dir, 1, err);
    if (!node) return NULL;
    snprintf(node->profile, sizeof node->profile, "%s", profile);
    snprintf(node->driver_version, sizeof node->driver_version, "%s", driver_version);
    snprintf(node->nvml_version, sizeof node->nvml_version, "%s", nvml_version);
    node->cuda_version = cuda_version;
    node->speed = speed;
    node->latency = latency;
    node->latency_busy = latency_busy;
    node->gpu_count = gpu_count;
    return node;
}

API void *ggsim_open(const char *dir, int *err) { return sim_map(dir, 0, err); }

API void ggsim_close(void *node) { sim_unmap(node); }

API int ggsim_config_num(void *handle, int gpu, const char *key, double value) {
    sim_node *node = handle;
    const field *f = find_field(key);
    if (!valid_gpu(node, gpu) || !f || f->type == 's') return -1;
    char *p = (char *)&node->cfg[gpu] + f->offset;
    switch (f->type) {
    case 'd': *(double *)p = value; break;
    case 'u': *(unsigned int *)p = (unsigned int)value; break;
    case 'i': *(int *)p = (int)value; break;
    case 'q': *(unsigned long long *)p = (unsigned long long)value; break;
    default: return -1;
    }
    return 0;
}

API int ggsim_config_str(void *handle, int gpu, const char *key, const char *value) {
    sim_node *node = handle;
    const field *f = find_field(key);
    if (!valid_gpu(node, gpu) || !f || f->type != 's' || strlen(value) >= f->size) return -1;
    snprintf((char *)&node->cfg[gpu] + f->offset, f->size, "%s", value);
    return 0;
}

API int ggsim_config_mig(void *handle, int gpu, unsigned int index, unsigned int gi, unsigned int ci,
                         unsigned int profile_id, unsigned int slices, unsigned long long memory_mib,
                         const char *profile, const char *uuid) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu) || index >= SIM_MAX_MIG) return -1;
    sim_mig_config *m = &node->cfg[gpu].mig[index];
    m->gpu_instance_id = gi;
    m->compute_instance_id = ci;
    m->profile_id = profile_id;
    m->slices = slices;
    m->memory_mib = memory_mib;
    snprintf(m->profile, sizeof m->profile, "%s", profile);
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    if (node->cfg[gpu].mig_count < index + 1) node->cfg[gpu].mig_count = index + 1;
    return 0;
}

/* Start the clock: from here on every process sees the node. */
API int ggsim_commit(void *handle, double ambient_c) {
    sim_node *node = handle;
    sim_lock(node);
    for (unsigned int g = 0; g < node->gpu_count; g++) {
        node->st[g].ambient_c = ambient_c;
        sim_physics_init_gpu(node, g);
    }
    node->start_mono = sim_mono_now();
    node->start_wall = sim_wall_now();
    node->sim_time = 0;
    __atomic_store_n(&node->ready, 1, __ATOMIC_RELEASE);
    sim_unlock(node);
    return 0;
}

static void log_set(sim_node *node, int gpu, const char *extra) {
    sim_log_event(node, node->sim_time, gpu, "set", extra);
}

API int ggsim_set_ambient(void *handle, int gpu, double celsius) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu)) return -1;
    char extra[64];
    sim_lock(node);
    sim_advance(node);
    node->st[gpu].ambient_c = celsius;
    snprintf(extra, sizeof extra, "\"ambient_c\": %.2f", celsius);
    log_set(node, gpu, extra);
    sim_unlock(node);
    return 0;
}

API int ggsim_set_fan_failure(void *handle, int gpu, int on) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu)) return -1;
    sim_lock(node);
    sim_advance(node);
    node->st[gpu].fan_failure = on != 0;
    log_set(node, gpu, on ? "\"fan_failure\": true" : "\"fan_failure\": false");
    sim_unlock(node);
    return 0;
}

static void log_fault(sim_node *node, int gpu, const char *fault, const char *value_json) {
    char extra[256];
    snprintf(extra, sizeof extra, "\"fault\": \"%s\", \"value\": %s", fault, value_json);
    sim_log_event(node, node->sim_time, gpu, "fault", extra);
}

API int ggsim_fault_lost(void *handle, int gpu, int on) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu)) return -1;
    sim_lock(node);
    sim_advance(node);
    __atomic_store_n(&node->st[gpu].lost, on != 0, __ATOMIC_RELEASE);
    log_fault(node, gpu, "lost", on ? "true" : "false");
    sim_unlock(node);
    return 0;
}

API int ggsim_fault_hang(void *handle, int gpu, int ms) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu) || ms < 0) return -1;
    char value[32];
    snprintf(value, sizeof value, "%d", ms);
    sim_lock(node);
    sim_advance(node);
    __atomic_store_n(&node->st[gpu].hang_ms, ms, __ATOMIC_RELEASE);
    log_fault(node, gpu, "hang_ms", value);
    sim_unlock(node);
    return 0;
}

API int ggsim_fault_not_supported(void *handle, int gpu, const char *func) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu) || strlen(func) >= SIM_FUNC_LEN || strncmp(func, "nvml", 4) != 0) return -1;
    int rc = -2; /* no free slot */
    char value[SIM_FUNC_LEN + 4];
    snprintf(value, sizeof value, "\"%s\"", func);
    sim_lock(node);
    sim_advance(node);
    for (int i = 0; i < SIM_MAX_NOT_SUPPORTED; i++) {
        char *slot = node->st[gpu].not_supported[i];
        if (slot[0] == '\0' || strcmp(slot, func) == 0) {
            snprintf(slot, SIM_FUNC_LEN, "%s", func);
            rc = 0;
            break;
        }
    }
    if (rc == 0) log_fault(node, gpu, "not_supported", value);
    sim_unlock(node);
    return rc;
}

API int ggsim_fault_clear(void *handle, int gpu) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu)) return -1;
    sim_lock(node);
    sim_advance(node);
    sim_gpu_state *st = &node->st[gpu];
    __atomic_store_n(&st->lost, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&st->hang_ms, 0, __ATOMIC_RELEASE);
    memset(st->not_supported, 0, sizeof st->not_supported);
    log_fault(node, gpu, "clear", "true");
    sim_unlock(node);
    return 0;
}

API int ggsim_fault_xid(void *handle, int gpu, unsigned long long code) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu)) return -1;
    char value[32];
    snprintf(value, sizeof value, "%llu", code);
    sim_lock(node);
    sim_advance(node);
    sim_gpu_state *st = &node->st[gpu];
    unsigned long long seq = st->xid_seq + 1;
    sim_xid *x = &st->xid[seq % SIM_XID_RING];
    x->code = code;
    x->sim_time = node->sim_time;
    x->seq = seq;
    __atomic_store_n(&st->xid_seq, seq, __ATOMIC_RELEASE);
    log_fault(node, gpu, "xid", value);
    sim_unlock(node);
    return 0;
}

API int ggsim_driver_reload(void *handle) {
    sim_node *node = handle;
    sim_lock(node);
    sim_advance(node);
    __atomic_fetch_add(&node->generation, 1, __ATOMIC_ACQ_REL);
    log_fault(node, -1, "driver_reload", "true");
    sim_unlock(node);
    return 0;
}

API unsigned long long ggsim_proc_start_ticks(int pid) { return sim_proc_start_ticks(pid); }

/* The compute instance a workload on GPU instance `gi` runs on (the GI's first), or -1 if the GPU has
 * no such GI. A real process runs on one compute instance; the profiles have one per GI. */
static int mig_compute_instance(const sim_gpu_config *cfg, unsigned int gi) {
    for (unsigned int m = 0; m < cfg->mig_count && m < SIM_MAX_MIG; m++)
        if (cfg->mig[m].gpu_instance_id == gi) return (int)cfg->mig[m].compute_instance_id;
    return -1;
}

/* Returns the slot, or -1 bad arguments, -2 no free slot, -3 the GPU is not in MIG mode, -4 no such GI.
 * `gpu_instance` SIM_NO_INSTANCE: the workload runs on no MIG instance. */
API int ggsim_workload_register(void *handle, int gpu, int pid, unsigned long long start_ticks, int supervisor_pid,
                                unsigned long long supervisor_start_ticks, double watts,
                                unsigned long long memory_mib, unsigned int gpu_instance) {
    sim_node *node = handle;
    if (!valid_gpu(node, gpu) || pid <= 0 || watts < 0) return -1;
    unsigned int compute_instance = SIM_NO_INSTANCE;
    if (gpu_instance != SIM_NO_INSTANCE) {
        if (!node->cfg[gpu].mig_enabled) return -3;
        int ci = mig_compute_instance(&node->cfg[gpu], gpu_instance);
        if (ci < 0) return -4;
        compute_instance = (unsigned int)ci;
    }
    int slot = -2;
    sim_lock(node);
    sim_advance(node);
    for (int i = 0; i < SIM_MAX_WORKLOADS; i++) {
        if (!node->workloads[i].used) {
            sim_workload *w = &node->workloads[i];
            w->gpu = gpu;
            w->pid = pid;
            w->start_ticks = start_ticks;
            w->supervisor_pid = supervisor_pid;
            w->supervisor_start_ticks = supervisor_start_ticks;
            w->watts = watts;
            w->memory_mib = memory_mib;
            w->start_sim = node->sim_time;
            w->gpu_instance_id = gpu_instance;
            w->compute_instance_id = compute_instance;
            w->used = 1;
            slot = i;
            char extra[224];
            int len = snprintf(extra, sizeof extra, "\"pid\": %d, \"watts\": %.1f, \"memory_mib\": %llu", pid,
                               watts, memory_mib);
            if (gpu_instance != SIM_NO_INSTANCE && len > 0 && (size_t)len < sizeof extra)
                snprintf(extra + len, sizeof extra - (size_t)len,
                         ", \"gpu_instance_id\": %u, \"compute_instance_id\": %u", gpu_instance, compute_instance);
            sim_log_event(node, node->sim_time, gpu, "workload_start", extra);
            break;
        }
    }
    sim_unlock(node);
    return slot;
}

/* The supervisor's exact record of its child's exit. `returncode` as Popen reports it. */
API int ggsim_workload_exit(void *handle, int pid, int returncode) {
    sim_node *node = handle;
    int found = -1;
    char rc[32];
    snprintf(rc, sizeof rc, "%d", returncode);
    sim_lock(node);
    sim_advance(node);
    for (int i = 0; i < SIM_MAX_WORKLOADS; i++) {
        if (node->workloads[i].used && node->workloads[i].pid == pid) {
            sim_workload_exit(node, i, rc);
            found = 0;
        }
    }
    sim_unlock(node);
    return found;
}

/* PIDs of live workloads and their supervisors, for tear-down. Returns how many were written. */
API int ggsim_workload_pids(void *handle, int *pids, unsigned long long *ticks, int max) {
    sim_node *node = handle;
    int n = 0;
    sim_lock(node);
    for (int i = 0; i < SIM_MAX_WORKLOADS && n + 2 <= max; i++) {
        const sim_workload *w = &node->workloads[i];
        if (!w->used) continue;
        pids[n] = w->pid;
        ticks[n++] = w->start_ticks;
        if (w->supervisor_pid > 0) {
            pids[n] = w->supervisor_pid;
            ticks[n++] = w->supervisor_start_ticks;
        }
    }
    sim_unlock(node);
    return n;
}

/* ---- JSON out ---- */

typedef struct {
    char *buf;
    size_t size, len;
} out;

static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->size ? o->size - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void put_str(out *o, const char *s) {
    char escaped[512];
    sim_json_escape(escaped, sizeof escaped, s);
    put(o, "\"%s\"", escaped);
}

/* Writes the status object into buf; returns the length it needs (call again when larger). */
API size_t ggsim_status_json(void *handle, char *buf, size_t size) {
    sim_node *node = handle;
    out o = {buf, size, 0};
    sim_lock(node);
    sim_advance(node);
    put(&o, "{\"profile\": ");
    put_str(&o, node->profile);
    put(&o, ", \"speed\": %.6f, \"sim_time\": %.3f, \"wall\": %.6f, \"driver_version\": ", node->speed, node->sim_time,
        sim_wall_at(node, node->sim_time));
    put_str(&o, node->driver_version);
    put(&o, ", \"generation\": %llu, \"gpus\": [", node->generation);
    for (unsigned int g = 0; g < node->gpu_count; g++) {
        const sim_gpu_config *cfg = &node->cfg[g];
        const sim_gpu_state *st = &node->st[g];
        put(&o, "%s{\"index\": %u, \"name\": ", g ? ", " : "", g);
        put_str(&o, cfg->name);
        put(&o, ", \"uuid\": ");
        put_str(&o, cfg->uuid);
        put(&o, ", \"pci_bus_id\": ");
        put_str(&o, cfg->pci_bus_id);
        put(&o, ", \"temperature_c\": %.2f, \"memory_temperature_c\": ", st->temp_c);
        if (cfg->memory_is_hbm) put(&o, "%.2f", sim_memory_temp(node, g));
        else put(&o, "null");
        put(&o, ", \"ambient_c\": %.2f, \"fan_failure\": %s, \"fans\": [", st->ambient_c,
            st->fan_failure ? "true" : "false");
        for (unsigned int f = 0; f < cfg->fan_count && f < SIM_MAX_FANS; f++)
            put(&o, "%s{\"speed_percent\": %ld, \"target_percent\": %ld, \"manual\": %s}", f ? ", " : "",
                lround(st->fan_speed[f]), lround(st->fan_target[f]), st->fan_manual[f] ? "true" : "false");
        put(&o,
            "], \"power_w\": %.2f, \"power_limit_w\": %.1f, \"default_power_limit_w\": %.1f, "
            "\"throttle_reasons\": %llu, \"utilization_gpu\": %.0f, \"energy_j\": %.1f, "
            "\"lost\": %s, \"shut_down\": %s, \"hang_ms\": %d, \"not_supported\": [",
            st->power_w, st->power_limit_w, cfg->default_limit_w, st->throttle_reasons, st->util_gpu,
            st->energy_j, st->lost || st->shut_down ? "true" : "false", st->shut_down ? "true" : "false",
            st->hang_ms);
        int first = 1;
        for (int i = 0; i < SIM_MAX_NOT_SUPPORTED; i++) {
            if (!st->not_supported[i][0]) continue;
            put(&o, "%s", first ? "" : ", ");
            put_str(&o, st->not_supported[i]);
            first = 0;
        }
        put(&o, "], \"mig\": [");
        for (unsigned int m = 0; cfg->mig_enabled && m < cfg->mig_count; m++) {
            put(&o, "%s{\"gpu_instance_id\": %u, \"compute_instance_id\": %u, \"profile\": ", m ? ", " : "",
                cfg->mig[m].gpu_instance_id, cfg->mig[m].compute_instance_id);
            put_str(&o, cfg->mig[m].profile);
            put(&o, ", \"uuid\": ");
            put_str(&o, cfg->mig[m].uuid);
            put(&o, "}");
        }
        put(&o, "], \"processes\": [");
        first = 1;
        for (int i = 0; i < SIM_MAX_WORKLOADS; i++) {
            const sim_workload *w = &node->workloads[i];
            if (!w->used || w->gpu != (int)g) continue;
            put(&o, "%s{\"pid\": %d, \"watts\": %.1f, \"memory_mib\": %llu, ", first ? "" : ", ", w->pid, w->watts,
                w->memory_mib);
            if (w->gpu_instance_id == SIM_NO_INSTANCE)
                put(&o, "\"gpu_instance_id\": null, \"compute_instance_id\": null}");
            else
                put(&o, "\"gpu_instance_id\": %u, \"compute_instance_id\": %u}", w->gpu_instance_id,
                    w->compute_instance_id);
            first = 0;
        }
        put(&o, "]}");
    }
    put(&o, "]}");
    sim_unlock(node);
    return o.len + 1;
}

API size_t ggsim_calls_json(void *handle, char *buf, size_t size) {
    sim_node *node = handle;
    out o = {buf, size, 0};
    put(&o, "{");
    unsigned int n = __atomic_load_n(&node->call_count, __ATOMIC_ACQUIRE);
    for (unsigned int i = 0; i < n; i++) {
        put(&o, "%s", i ? ", " : "");
        put_str(&o, node->calls[i].name);
        put(&o, ": %llu", __atomic_load_n(&node->calls[i].count, __ATOMIC_RELAXED));
    }
    put(&o, "}");
    return o.len + 1;
}
