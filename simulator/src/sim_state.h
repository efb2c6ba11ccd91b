/*
 * The shared node model behind the simulated libnvidia-ml.so.1.
 *
 * Design (why it looks like this):
 *  - One node = one file `node.state` in the state folder, mmap'ed MAP_SHARED by every process that
 *    loads the driver (exporter, receiver, tests, pynvml scripts) and by the `gpuguard sim` CLI. A
 *    file rather than POSIX shm so that the node's lifetime is the folder's lifetime and several nodes
 *    can coexist (one per test) without global names.
 *  - Consistency: every read or write of the model happens under `node->lock`, a process-shared
 *    ROBUST pthread mutex. A workload or exporter SIGKILLed while holding it must not deadlock the
 *    node: the next locker gets EOWNERDEAD, marks the mutex consistent and carries on (a physics
 *    substep is idempotent enough that a half-finished one is harmless).
 *  - Physics advances lazily: simulated time is (monotonic now - start) * speed, and whoever takes the
 *    lock first integrates the model up to "now" in fixed small substeps. No babysitter daemon means
 *    nothing to start, nothing to crash, and a node that nobody looks at costs nothing.
 *  - The fixed-size layout (no pointers) is what makes MAP_SHARED safe across processes.
 */
#ifndef GPUGUARD_SIM_STATE_H
#define GPUGUARD_SIM_STATE_H

#include <pthread.h>
#include <stdint.h>

#define SIM_MAGIC 0x4747534dU /* "GGSM" */
#define SIM_LAYOUT_VERSION 4
#define SIM_STATE_FILE "node.state"

#define SIM_MAX_GPUS 64
#define SIM_MAX_FANS 4
#define SIM_MAX_MIG 7
/* A workload on no MIG instance; also what NVML reports in gpuInstanceId/computeInstanceId then. */
#define SIM_NO_INSTANCE 0xFFFFFFFFu
#define SIM_MAX_NOT_SUPPORTED 8
#define SIM_MAX_WORKLOADS 256
#define SIM_MAX_CALLS 512
#define SIM_XID_RING 32
#define SIM_NAME_LEN 96
#define SIM_FUNC_LEN 64

/* Fixed integration substep, simulated seconds. Thermal time constants are tens of seconds. */
#define SIM_SUBSTEP_S 0.05

typedef struct {
    unsigned int gpu_instance_id;
    unsigned int compute_instance_id;
    unsigned int profile_id; /* NVML_GPU_INSTANCE_PROFILE_* */
    unsigned int slices;
    unsigned long long memory_mib;
    char profile[32]; /* "3g.40gb" */
    char uuid[SIM_NAME_LEN];
} sim_mig_config;

/* What a GPU is: set once from the profile, never changed by the model. */
typedef struct {
    char name[SIM_NAME_LEN];
    char uuid[SIM_NAME_LEN];
    char serial[32];     /* empty: NOT_SUPPORTED (GeForce boards report none) */
    char pci_bus_id[32]; /* "00000000:01:00.0" */
    char vbios[32];
    unsigned int pci_domain, pci_bus, pci_device;
    unsigned int pci_device_id, pci_subsystem_id;
    unsigned int minor_number;
    unsigned int brand;        /* nvmlBrandType_t */
    unsigned int architecture; /* nvmlDeviceArchitecture_t */
    int cc_major, cc_minor;
    unsigned long long memory_total_mib;
    unsigned long long memory_reserved_mib;
    int memory_is_hbm; /* memory temperature supported */
    unsigned int fan_count;
    double fan_min_percent, fan_max_percent;
    double fan_curve_low_c, fan_curve_high_c; /* automatic curve: min% at low, max% at high */
    double idle_w, default_limit_w, min_limit_w, max_limit_w;
    double heat_capacity_j_per_k;
    double conductance_base_w_per_k; /* passive path (chassis airflow on fanless boards) */
    double conductance_fan_w_per_k;  /* added at 100 % fan */
    int threshold_shutdown, threshold_slowdown, threshold_gpu_max, threshold_memory_max;
    int threshold_acoustic_min, threshold_acoustic_curr, threshold_acoustic_max; /* 0: none */
    unsigned int clock_graphics_max, clock_sm_max, clock_mem_max, clock_video_max;
    unsigned int clock_graphics_idle, clock_mem_idle;
    unsigned int pcie_gen, pcie_width;
    int gpm_supported;
    int mig_capable;
    int mig_enabled;
    unsigned int mig_count;
    sim_mig_config mig[SIM_MAX_MIG];
    /* exports (issue 11): 0 or "" means the board does not report it (NOT_SUPPORTED) */
    unsigned int nvlink_count;     /* active NVLinks; 0: none (PCIe-only boards) */
    unsigned int num_gpu_cores;    /* CUDA cores */
    unsigned int memory_bus_width; /* bits */
    char board_part_number[32];
    char inforom_image[32];        /* "G520.0200.00.05"; empty on GeForce */
    int threshold_gps_curr;        /* GPU performance-boost target, °C; 0: not reported */
} sim_gpu_config;

typedef struct {
    unsigned long long seq; /* 1-based, monotonically increasing per GPU */
    unsigned long long code;
    double sim_time;
} sim_xid;

/* What a GPU is doing: the model's state, advanced by the physics. */
typedef struct {
    double temp_c;
    double ambient_c;
    int fan_failure;
    double fan_speed[SIM_MAX_FANS];  /* actual, percent */
    double fan_target[SIM_MAX_FANS]; /* percent */
    int fan_manual[SIM_MAX_FANS];
    double power_limit_w;
    double power_w;
    double demand_w;
    double energy_j;
    unsigned long long throttle_reasons;
    int hw_slowdown_latched;
    double thermal_violation_s, power_violation_s;
    double clock_graphics, clock_mem;
    double util_gpu, util_mem;
    int lost;       /* fault: GPU_IS_LOST */
    int shut_down;  /* thermal shutdown happened: lost until the node is recreated */
    int hang_ms;    /* fault: every call to this GPU sleeps first */
    char not_supported[SIM_MAX_NOT_SUPPORTED][SIM_FUNC_LEN];
    int temp_level; /* whole degree last reported in events.jsonl */
    unsigned long long xid_seq;
    sim_xid xid[SIM_XID_RING];
    unsigned long long pcie_replay;
    /* GPM accumulators (simulated seconds of activity, bytes) */
    double gpm_gr_active_s, gpm_tensor_active_s, gpm_dram_active_s;
    double gpm_pcie_rx_bytes, gpm_pcie_tx_bytes;
} sim_gpu_state;

typedef struct {
    int used;
    int gpu;
    int pid;
    unsigned long long start_ticks; /* /proc/PID/stat field 22: tells a reused PID apart */
    int supervisor_pid;             /* the `sim workload` parent that records the exact exit */
    unsigned long long supervisor_start_ticks;
    double watts;
    unsigned long long memory_mib;
    double start_sim;
    unsigned int gpu_instance_id;     /* MIG placement; SIM_NO_INSTANCE when none */
    unsigned int compute_instance_id;
} sim_workload;

typedef struct {
    char name[SIM_FUNC_LEN];
    unsigned long long count;
} sim_call_counter;

typedef struct {
    uint32_t magic;
    uint32_t layout_version;
    volatile uint32_t ready;
    pthread_mutex_t lock;    /* the model: short critical sections only */
    pthread_mutex_t rm_lock; /* latency profile: the driver's RM lock, held while "working" */
    char profile[64];
    char driver_version[32];
    char nvml_version[32];
    int cuda_version;
    double speed;
    double start_mono; /* CLOCK_MONOTONIC seconds at creation */
    double start_wall; /* CLOCK_REALTIME seconds at creation */
    double sim_time;   /* simulated seconds the model has been advanced to */
    double last_liveness_mono;
    int latency;      /* 0 none, 1 realistic */
    int latency_busy; /* 0 sleep, 1 busy-wait */
    volatile unsigned long long generation; /* bumped by a driver reload */
    unsigned int gpu_count;
    sim_gpu_config cfg[SIM_MAX_GPUS];
    sim_gpu_state st[SIM_MAX_GPUS];
    sim_workload workloads[SIM_MAX_WORKLOADS];
    unsigned int call_count;
    sim_call_counter calls[SIM_MAX_CALLS];
    char dir[1024];
} sim_node;

/* --- sim_state.c --- */
double sim_mono_now(void);
double sim_wall_now(void);
sim_node *sim_map(const char *dir, int create, int *err);
void sim_unmap(sim_node *node);
void sim_lock(sim_node *node);
void sim_unlock(sim_node *node);
void sim_rm_lock(sim_node *node);
void sim_rm_unlock(sim_node *node);
/* Advance the model to now; caller holds the lock. */
void sim_advance(sim_node *node);
double sim_wall_at(const sim_node *node, double sim_time);
int sim_count_call(sim_node *node, const char *func);
unsigned long long sim_proc_start_ticks(int pid);
int sim_pid_alive(int pid, unsigned long long start_ticks);
/* Append one JSON object (already formatted, no newline) to a record file in the state folder. */
void sim_append_record(const sim_node *node, const char *file, const char *json);
void sim_log_event(sim_node *node, double sim_time, int gpu, const char *event, const char *extra_json);
void sim_json_escape(char *out, size_t size, const char *in);
void sim_workload_exit(sim_node *node, int slot, const char *returncode_json);

/* --- sim_physics.c --- */
void sim_physics_step(sim_node *node, unsigned int gpu, double dt);
void sim_physics_init_gpu(sim_node *node, unsigned int gpu);
double sim_fan_curve(const sim_gpu_config *cfg, double temp_c);
double sim_memory_temp(const sim_node *node, unsigned int gpu);
unsigned int sim_gpu_workload_count(const sim_node *node, unsigned int gpu);

#endif
