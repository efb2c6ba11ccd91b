/* System queries, device enumeration and what identifies a device. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nvml_common.h"

NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    SYSTEM_ENTER(LAT_NONE);
    return sim_copy_string(version, length, g_node->driver_version);
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    SYSTEM_ENTER(LAT_NONE);
    return sim_copy_string(version, length, g_node->nvml_version);
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    SYSTEM_ENTER(LAT_NONE);
    if (!cudaDriverVersion) return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = g_node->cuda_version;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    SYSTEM_ENTER(LAT_NONE);
    if (!cudaDriverVersion) return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = g_node->cuda_version;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!name || length == 0) return NVML_ERROR_INVALID_ARGUMENT;
    char path[64], comm[256];
    snprintf(path, sizeof path, "/proc/%u/comm", pid);
    FILE *f = fopen(path, "re");
    if (!f) return NVML_ERROR_NOT_FOUND;
    if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    snprintf(name, length, "%s", comm); /* the real driver truncates rather than failing */
    return NVML_SUCCESS;
}

static nvmlReturn_t device_count(unsigned int *count) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = g_node->gpu_count;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    SYSTEM_ENTER(LAT_NONE);
    return device_count(deviceCount);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) {
    SYSTEM_ENTER(LAT_NONE);
    return device_count(deviceCount);
}

static nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t *device) {
    if (!device || index >= g_node->gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    *device = sim_device_handle((int)index, -1);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    return handle_by_index(index, device);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    return handle_by_index(index, device);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int g = 0; g < g_node->gpu_count; g++) {
        if (strcmp(g_node->cfg[g].uuid, uuid) == 0) {
            *device = sim_device_handle((int)g, -1);
            return NVML_SUCCESS;
        }
        for (unsigned int m = 0; g_node->cfg[g].mig_enabled && m < g_node->cfg[g].mig_count; m++) {
            if (strcmp(g_node->cfg[g].mig[m].uuid, uuid) == 0) {
                *device = sim_device_handle((int)g, (int)m);
                return NVML_SUCCESS;
            }
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

static nvmlReturn_t handle_by_pci(const char *bus_id, nvmlDevice_t *device) {
    if (!bus_id || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int g = 0; g < g_node->gpu_count; g++) {
        const char *mine = g_node->cfg[g].pci_bus_id;
        /* Accept the 8-digit domain and the legacy 4-digit one ("0000:01:00.0"), any case. */
        size_t skip = strlen(mine) - strlen(bus_id);
        if (strcasecmp(mine, bus_id) == 0 || (strlen(bus_id) < strlen(mine) && strcasecmp(mine + skip, bus_id) == 0)) {
            *device = sim_device_handle((int)g, -1);
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    return handle_by_pci(pciBusId, device);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    return handle_by_pci(pciBusId, device);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!serial || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int g = 0; g < g_node->gpu_count; g++) {
        if (g_node->cfg[g].serial[0] && strcmp(g_node->cfg[g].serial, serial) == 0) {
            *device = sim_device_handle((int)g, -1);
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* ---- identity ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (mig >= 0) {
        char full[SIM_NAME_LEN + 48];
        snprintf(full, sizeof full, "%s MIG %s", CFG->name, CFG->mig[mig].profile);
        return sim_copy_string(name, length, full);
    }
    return sim_copy_string(name, length, CFG->name);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    return sim_copy_string(uuid, length, mig >= 0 ? CFG->mig[mig].uuid : CFG->uuid);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!CFG->serial[0]) return NVML_ERROR_NOT_SUPPORTED;
    return sim_copy_string(serial, length, CFG->serial);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return sim_copy_string(version, length, CFG->vbios[0] ? CFG->vbios : "00.00.00.00.00");
}

/* The layouts of the two older entry points (nvml.h now only has v3): a caller of nvmlDeviceGetPciInfo
 * or _v2 allocates these, so writing a v3 struct there would overwrite its memory. */
typedef struct {
    char busId[16];
    unsigned int domain, bus, device, pciDeviceId;
} sim_pci_info_v1;
typedef struct {
    char busId[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    unsigned int reserved0, reserved1, reserved2, reserved3;
} sim_pci_info_v2;

/* v3 from the profile's busId; domain, bus and device are what the busId says. */
void sim_fill_pci(int gpu, nvmlPciInfo_t *pci) {
    memset(pci, 0, sizeof *pci);
    const sim_gpu_config *cfg = &g_node->cfg[gpu];
    unsigned int domain = 0, bus = 0, dev = 0;
    sscanf(cfg->pci_bus_id, "%x:%x:%x", &domain, &bus, &dev);
    snprintf(pci->busId, sizeof pci->busId, "%s", cfg->pci_bus_id);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04x:%02x:%02x.0", domain & 0xffff, bus, dev);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = dev;
    pci->pciDeviceId = cfg->pci_device_id;
    pci->pciSubSystemId = cfg->pci_subsystem_id;
}

void sim_fill_pci_v2(int gpu, void *out) {
    nvmlPciInfo_t full;
    sim_fill_pci(gpu, &full);
    sim_pci_info_v2 v2 = {.domain = full.domain, .bus = full.bus, .device = full.device,
                          .pciDeviceId = full.pciDeviceId, .pciSubSystemId = full.pciSubSystemId};
    snprintf(v2.busId, sizeof v2.busId, "%s", full.busIdLegacy);
    memcpy(out, &v2, sizeof v2);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    sim_fill_pci(gpu, pci);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    sim_fill_pci_v2(gpu, pci);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlPciInfo_t full;
    sim_fill_pci(gpu, &full);
    sim_pci_info_v1 v1 = {.domain = full.domain, .bus = full.bus, .device = full.device, .pciDeviceId = full.pciDeviceId};
    snprintf(v1.busId, sizeof v1.busId, "%s", full.busIdLegacy);
    memcpy(pci, &v1, sizeof v1);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t device, nvmlPciInfoExt_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    if (pci->version != nvmlPciInfoExt_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlPciInfo_t base;
    sim_fill_pci(gpu, &base);
    pci->domain = base.domain;
    pci->bus = base.bus;
    pci->device = base.device;
    pci->pciDeviceId = base.pciDeviceId;
    pci->pciSubSystemId = base.pciSubSystemId;
    pci->baseClass = 0x03; /* display controller */
    pci->subClass = CFG->brand == NVML_BRAND_GEFORCE ? 0x00 : 0x02;
    snprintf(pci->busId, sizeof pci->busId, "%s", base.busId);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!minorNumber) return NVML_ERROR_INVALID_ARGUMENT;
    *minorNumber = CFG->minor_number;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!index) return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned int)gpu;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, nvmlBrandType_t *type) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!type) return NVML_ERROR_INVALID_ARGUMENT;
    *type = (nvmlBrandType_t)CFG->brand;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!arch) return NVML_ERROR_INVALID_ARGUMENT;
    *arch = CFG->architecture;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!major || !minor) return NVML_ERROR_INVALID_ARGUMENT;
    *major = CFG->cc_major;
    *minor = CFG->cc_minor;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    *mode = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    *mode = NVML_COMPUTEMODE_DEFAULT;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t device, nvmlEnableState_t *display) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!display) return NVML_ERROR_INVALID_ARGUMENT;
    *display = NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, nvmlEnableState_t *isActive) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isActive) return NVML_ERROR_INVALID_ARGUMENT;
    *isActive = NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!currLinkGen) return NVML_ERROR_INVALID_ARGUMENT;
    *currLinkGen = CFG->pcie_gen;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!maxLinkGen) return NVML_ERROR_INVALID_ARGUMENT;
    *maxLinkGen = CFG->pcie_gen;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!currLinkWidth) return NVML_ERROR_INVALID_ARGUMENT;
    *currLinkWidth = CFG->pcie_width;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!maxLinkWidth) return NVML_ERROR_INVALID_ARGUMENT;
    *maxLinkWidth = CFG->pcie_width;
    return NVML_SUCCESS;
}
