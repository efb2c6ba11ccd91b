/*
 * What every exported NVML function shares: the per-process view of the node (init refcount, device
 * handles) and the prologue that counts the call, applies faults and the latency profile.
 *
 * Only functions marked NVML_EXPORT leave the library (-fvisibility=hidden), under the names real
 * drivers export (the lists in ../shared/compat/nvml/). nvml.h is included with NVML_NO_UNVERSIONED_FUNC_DEFS
 * so that its macros do not silently rename nvmlInit into nvmlInit_v2: both are defined explicitly.
 */
#ifndef GPUGUARD_NVML_COMMON_H
#define GPUGUARD_NVML_COMMON_H

#define NVML_NO_UNVERSIONED_FUNC_DEFS
#include "nvml.h"
#include "sim_state.h"

#define NVML_EXPORT __attribute__((visibility("default")))

/* Latency classes of the `realistic` profile (microseconds, see nvml_common.c). */
typedef enum {
    LAT_NONE = 0, /* init/shutdown/error strings: no RM work */
    LAT_CHEAP,    /* plain getters: tens of µs */
    LAT_FAN,      /* fan queries and control: ~150 µs */
    LAT_SETTER,   /* power limit and other setters */
    LAT_PROCS,    /* process lists: ~1-5 ms */
    LAT_PCIE,     /* PCIe throughput: the driver samples for 20 ms */
} sim_latency_class;

struct nvmlDevice_st {
    unsigned int magic;
    int gpu;
    int mig; /* -1: the whole GPU; else the MIG device's index on it */
};

extern sim_node *g_node;

/* Prologue of a function that takes no device: initialised?, count, latency. */
nvmlReturn_t sim_enter(const char *func, sim_latency_class latency);
/* Prologue of a device function: the above plus handle check, hang, lost, NOT_SUPPORTED faults.
 * A MIG device handle is refused with NOT_SUPPORTED unless `mig_ok`. */
nvmlReturn_t sim_enter_device(const char *func, nvmlDevice_t device, sim_latency_class latency, int mig_ok,
                              int *gpu, int *mig);
nvmlDevice_t sim_device_handle(int gpu, int mig);
/* Copy a string into a caller's buffer with NVML's INSUFFICIENT_SIZE rule. */
nvmlReturn_t sim_copy_string(char *dst, unsigned int length, const char *src);
/* Record a setter call in setters.jsonl; `args_json` is the inside of the args object. */
void sim_log_setter(const char *func, int gpu, const char *args_json, nvmlReturn_t result);
const char *sim_return_name(nvmlReturn_t rc);
/* PCI info of a GPU: v3 (nvmlPciInfo_t) and the 52-byte v2 layout of the older entry points. */
void sim_fill_pci(int gpu, nvmlPciInfo_t *pci);
void sim_fill_pci_v2(int gpu, void *out);

#define DEVICE_ENTER(device, latency)                                                        \
    int gpu, mig;                                                                            \
    do {                                                                                     \
        nvmlReturn_t enter_rc_ = sim_enter_device(__func__, device, latency, 0, &gpu, &mig); \
        if (enter_rc_ != NVML_SUCCESS) return enter_rc_;                                     \
    } while (0);                                                                             \
    (void)gpu;                                                                               \
    (void)mig

#define DEVICE_ENTER_MIG_OK(device, latency)                                                 \
    int gpu, mig;                                                                            \
    do {                                                                                     \
        nvmlReturn_t enter_rc_ = sim_enter_device(__func__, device, latency, 1, &gpu, &mig); \
        if (enter_rc_ != NVML_SUCCESS) return enter_rc_;                                     \
    } while (0);                                                                             \
    (void)gpu;                                                                               \
    (void)mig

#define SYSTEM_ENTER(latency)                                            \
    do {                                                                 \
        nvmlReturn_t enter_rc_ = sim_enter(__func__, latency);           \
        if (enter_rc_ != NVML_SUCCESS) return enter_rc_;                 \
    } while (0)

/* Setters: every call, refused or not, goes to setters.jsonl (once the GPU is known). */
#define SETTER_ENTER(device, args, latency)                                                    \
    int gpu = -1, mig = -1;                                                                    \
    do {                                                                                       \
        nvmlReturn_t enter_rc_ = sim_enter_device(__func__, device, latency, 0, &gpu, &mig);   \
        if (enter_rc_ != NVML_SUCCESS) {                                                       \
            if (enter_rc_ != NVML_ERROR_UNINITIALIZED && gpu >= 0)                             \
                sim_log_setter(__func__, gpu, args, enter_rc_);                                \
            return enter_rc_;                                                                  \
        }                                                                                      \
    } while (0);                                                                               \
    (void)mig

/* Read the model under the lock, advanced to now. */
#define MODEL_BEGIN()        \
    sim_lock(g_node);        \
    sim_advance(g_node)
#define MODEL_END() sim_unlock(g_node)

#define CFG (&g_node->cfg[gpu])
#define ST (&g_node->st[gpu])

#endif
