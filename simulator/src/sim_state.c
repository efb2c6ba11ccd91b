/* Mapping the shared node, its locks, lazy advancing, and the JSON-lines records. */
#define _GNU_SOURCE
#include "sim_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How often (wall seconds) the lazy advance checks that registered workloads still exist. */
#define LIVENESS_INTERVAL_S 0.1
/* A node nobody touched for ages is not integrated substep by substep forever: past this many
 * substeps per advance the step grows (the model is at equilibrium long before). */
#define MAX_SUBSTEPS_PER_ADVANCE 200000

double sim_mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sim_wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int init_mutex(pthread_mutex_t *mutex) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

sim_node *sim_map(const char *dir, int create, int *err) {
    char path[PATH_MAX];
    *err = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, SIM_STATE_FILE) >= (int)sizeof path) {
        *err = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(path, create ? (O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC) : (O_RDWR | O_CLOEXEC), 0600);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    if (create && ftruncate(fd, sizeof(sim_node)) != 0) {
        *err = errno;
        close(fd);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof(sim_node)) {
        *err = EINVAL;
        close(fd);
        return NULL;
    }
    void *mem = mmap(NULL, sizeof(sim_node), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mem == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    sim_node *node = mem;
    if (create) {
        memset(node, 0, sizeof *node);
        if (init_mutex(&node->lock) != 0 || init_mutex(&node->rm_lock) != 0) {
            *err = EINVAL;
            munmap(mem, sizeof(sim_node));
            return NULL;
        }
        node->magic = SIM_MAGIC;
        node->layout_version = SIM_LAYOUT_VERSION;
        snprintf(node->dir, sizeof node->dir, "%s", dir);
    } else if (node->magic != SIM_MAGIC || node->layout_version != SIM_LAYOUT_VERSION) {
        *err = EPROTO;
        munmap(mem, sizeof(sim_node));
        return NULL;
    }
    return node;
}

void sim_unmap(sim_node *node) {
    if (node) munmap(node, sizeof(sim_node));
}

static void robust_lock(pthread_mutex_t *mutex) {
    int rc = pthread_mutex_lock(mutex);
    if (rc == EOWNERDEAD) {
        /* The previous owner died mid-section (SIGKILL). The model has no multi-step invariants that
         * a half-finished substep could break badly, so adopting the state is the right recovery. */
        pthread_mutex_consistent(mutex);
    }
}

void sim_lock(sim_node *node) { robust_lock(&node->lock); }
void sim_unlock(sim_node *node) { pthread_mutex_unlock(&node->lock); }
void sim_rm_lock(sim_node *node) { robust_lock(&node->rm_lock); }
void sim_rm_unlock(sim_node *node) { pthread_mutex_unlock(&node->rm_lock); }

double sim_wall_at(const sim_node *node, double sim_time) {
    return node->start_wall + sim_time / (node->speed > 0 ? node->speed : 1.0);
}

unsigned long long sim_proc_start_ticks(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    /* comm (field 2) may contain spaces and parentheses: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2; /* field 3: state */
    if (*p == 'Z' || *p == 'X') return 0; /* a zombie has exited: its load is gone */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

int sim_pid_alive(int pid, unsigned long long start_ticks) {
    if (pid <= 0) return 0;
    unsigned long long ticks = sim_proc_start_ticks(pid);
    return ticks != 0 && ticks == start_ticks;
}

int sim_count_call(sim_node *node, const char *func) {
    unsigned int n = __atomic_load_n(&node->call_count, __ATOMIC_ACQUIRE);
    for (unsigned int i = 0; i < n; i++) {
        if (strcmp(node->calls[i].name, func) == 0) {
            __atomic_fetch_add(&node->calls[i].count, 1, __ATOMIC_RELAXED);
            return (int)i;
        }
    }
    /* First call of this function on the node: insert under the lock (re-check, someone may race). */
    sim_lock(node);
    n = node->call_count;
    int slot = -1;
    for (unsigned int i = 0; i < n; i++)
        if (strcmp(node->calls[i].name, func) == 0) slot = (int)i;
    if (slot < 0 && n < SIM_MAX_CALLS) {
        snprintf(node->calls[n].name, SIM_FUNC_LEN, "%s", func);
        node->calls[n].count = 0;
        __atomic_store_n(&node->call_count, n + 1, __ATOMIC_RELEASE);
        slot = (int)n;
    }
    if (slot >= 0) __atomic_fetch_add(&node->calls[slot].count, 1, __ATOMIC_RELAXED);
    sim_unlock(node);
    return slot;
}

void sim_json_escape(char *out, size_t size, const char *in) {
    size_t o = 0;
    for (; *in && o + 7 < size; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

void sim_append_record(const sim_node *node, const char *file, const char *json) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", node->dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    size_t len = strlen(json);
    char *line = malloc(len + 2);
    if (line) {
        memcpy(line, json, len);
        line[len] = '\n';
        /* One write() of the whole line with O_APPEND: concurrent writers never interleave. */
        ssize_t ignored = write(fd, line, len + 1);
        (void)ignored;
        free(line);
    }
    close(fd);
}

void sim_log_event(sim_node *node, double sim_time, int gpu, const char *event, const char *extra_json) {
    char json[1024];
    char gpu_part[32] = "";
    if (gpu >= 0) snprintf(gpu_part, sizeof gpu_part, "\"gpu\": %d, ", gpu);
    snprintf(json, sizeof json, "{\"wall\": %.6f, \"sim_time\": %.6f, %s\"event\": \"%s\"%s%s}",
             sim_wall_at(node, sim_time), sim_time, gpu_part, event, extra_json && *extra_json ? ", " : "",
             extra_json ? extra_json : "");
    sim_append_record(node, "events.jsonl", json);
}

void sim_workload_exit(sim_node *node, int slot, const char *returncode_json) {
    sim_workload *w = &node->workloads[slot];
    if (!w->used) return;
    char extra[128];
    snprintf(extra, sizeof extra, "\"pid\": %d, \"returncode\": %s", w->pid, returncode_json);
    sim_log_event(node, node->sim_time, w->gpu, "workload_exit", extra);
    w->used = 0;
}

/* Backstop for workloads whose supervisor died too (SIGKILL of the whole group, a crashed CLI): a
 * workload whose process is gone and whose supervisor is gone is removed with an unknown status. */
static void check_liveness(sim_node *node) {
    double now = sim_mono_now();
    if (now - node->last_liveness_mono < LIVENESS_INTERVAL_S) return;
    node->last_liveness_mono = now;
    for (int i = 0; i < SIM_MAX_WORKLOADS; i++) {
        sim_workload *w = &node->workloads[i];
        if (!w->used || sim_pid_alive(w->pid, w->start_ticks)) continue;
        if (w->supervisor_pid > 0 && sim_pid_alive(w->supervisor_pid, w->supervisor_start_ticks)) continue;
        sim_workload_exit(node, i, "null");
    }
}

void sim_advance(sim_node *node) {
    if (!node->ready) return;
    check_liveness(node);
    double target = (sim_mono_now() - node->start_mono) * node->speed;
    double gap = target - node->sim_time;
    if (gap <= 0) return;
    double step = SIM_SUBSTEP_S;
    if (gap / step > MAX_SUBSTEPS_PER_ADVANCE) step = gap / MAX_SUBSTEPS_PER_ADVANCE;
    while (node->sim_time < target) {
        double dt = target - node->sim_time < step ? target - node->sim_time : step;
        node->sim_time += dt;
        for (unsigned int g = 0; g < node->gpu_count; g++) sim_physics_step(node, g, dt);
    }
}
