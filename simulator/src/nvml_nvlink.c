/* NVLink, peer-to-peer and PCIe topology (issue 11).
 *
 * A board with `nvlink_count` links has them all up to an NVSwitch (the HGX layout); boards without
 * NVLink say NOT_SUPPORTED. The PCIe topology is two CPU sockets with half the GPUs each: GPUs on one
 * socket share a NUMA node (NODE), across sockets the path crosses the inter-socket link (SYSTEM). */
#include <stdio.h>
#include <string.h>

#include "nvml_common.h"

static nvmlReturn_t check_link(int gpu, unsigned int link) {
    if (g_node->cfg[gpu].nvlink_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    if (link >= g_node->cfg[gpu].nvlink_count) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link, nvmlEnableState_t *isActive) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isActive) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc == NVML_SUCCESS) *isActive = NVML_FEATURE_ENABLED;
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t device, unsigned int link, unsigned int *version) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc != NVML_SUCCESS) return rc;
    /* Hopper has NVLink 4, Blackwell NVLink 5 (nvmlNvlinkVersion_t numbering) */
    *version = CFG->architecture >= NVML_DEVICE_ARCH_BLACKWELL ? NVML_NVLINK_VERSION_5_0 : NVML_NVLINK_VERSION_4_0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t device, unsigned int link,
                                                       nvmlNvLinkCapability_t capability, unsigned int *capResult) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!capResult || capability >= NVML_NVLINK_CAP_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc != NVML_SUCCESS) return rc;
    switch (capability) {
    case NVML_NVLINK_CAP_P2P_SUPPORTED:
    case NVML_NVLINK_CAP_P2P_ATOMICS:
    case NVML_NVLINK_CAP_VALID: *capResult = 1; break;
    default: *capResult = 0; /* no SLI bridge, no system memory over NVLink on x86 */
    }
    return NVML_SUCCESS;
}

/* The NVSwitch behind a link: four switches, links spread over them as on HGX H100. */
static void switch_pci(unsigned int link, nvmlPciInfo_t *pci) {
    memset(pci, 0, sizeof *pci);
    pci->bus = 0x05 + link % 4;
    snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", pci->bus);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02x:00.0", pci->bus);
    pci->pciDeviceId = 0x22a310de; /* NVSwitch */
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc == NVML_SUCCESS) switch_pci(link, pci);
    return rc;
}

/* The unversioned entry point predates the 32-byte busId: it writes the 52-byte v2 layout. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc != NVML_SUCCESS) return rc;
    nvmlPciInfo_t full;
    switch_pci(link, &full);
    struct {
        char busId[16];
        unsigned int domain, bus, device, pciDeviceId, pciSubSystemId, reserved[4];
    } v2 = {.bus = full.bus, .pciDeviceId = full.pciDeviceId};
    snprintf(v2.busId, sizeof v2.busId, "%s", full.busIdLegacy);
    memcpy(pci, &v2, sizeof v2);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned int link,
                                                             nvmlIntNvLinkDeviceType_t *type) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!type) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc == NVML_SUCCESS) *type = NVML_NVLINK_DEVICE_TYPE_SWITCH;
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t device, unsigned int link,
                                                         nvmlNvLinkErrorCounter_t counter, unsigned long long *value) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!value || counter >= NVML_NVLINK_ERROR_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_link(gpu, link);
    if (rc == NVML_SUCCESS) *value = 0;
    return rc;
}

/* ---- topology ---- */

static nvmlGpuTopologyLevel_t level_between(int a, int b) {
    if (a == b) return NVML_TOPOLOGY_INTERNAL;
    unsigned int half = (g_node->gpu_count + 1) / 2;
    return ((unsigned int)a < half) == ((unsigned int)b < half) ? NVML_TOPOLOGY_NODE : NVML_TOPOLOGY_SYSTEM;
}

static nvmlReturn_t second_device(nvmlDevice_t device, int *gpu) {
    int mig;
    return sim_enter_device("nvmlDeviceGetTopologyPeer", device, LAT_NONE, 0, gpu, &mig);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
                                                             nvmlGpuTopologyLevel_t *pathInfo) {
    DEVICE_ENTER(device1, LAT_CHEAP);
    int other;
    nvmlReturn_t rc = second_device(device2, &other);
    if (rc != NVML_SUCCESS) return rc;
    if (!pathInfo) return NVML_ERROR_INVALID_ARGUMENT;
    *pathInfo = level_between(gpu, other);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, nvmlGpuTopologyLevel_t level,
                                                          unsigned int *count, nvmlDevice_t *deviceArray) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = 0;
    for (unsigned int g = 0; g < g_node->gpu_count; g++)
        if ((int)g != gpu && level_between(gpu, (int)g) <= level) n++;
    if (!deviceArray || *count < n) {
        *count = n;
        return deviceArray ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
    n = 0;
    for (unsigned int g = 0; g < g_node->gpu_count; g++)
        if ((int)g != gpu && level_between(gpu, (int)g) <= level) deviceArray[n++] = sim_device_handle((int)g, -1);
    *count = n;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned int cpuNumber, unsigned int *count,
                                                     nvmlDevice_t *deviceArray) {
    SYSTEM_ENTER(LAT_CHEAP);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = g_node->gpu_count; /* every CPU reaches every GPU; no NUMA layout is simulated */
    if (!deviceArray || *count < n) {
        *count = n;
        return deviceArray ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
    for (unsigned int g = 0; g < n; g++) deviceArray[g] = sim_device_handle((int)g, -1);
    *count = n;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2,
                                                nvmlGpuP2PCapsIndex_t p2pIndex, nvmlGpuP2PStatus_t *p2pStatus) {
    DEVICE_ENTER(device1, LAT_CHEAP);
    int other;
    nvmlReturn_t rc = second_device(device2, &other);
    if (rc != NVML_SUCCESS) return rc;
    if (!p2pStatus || p2pIndex >= NVML_P2P_CAPS_INDEX_UNKNOWN) return NVML_ERROR_INVALID_ARGUMENT;
    const sim_gpu_config *a = &g_node->cfg[gpu], *b = &g_node->cfg[other];
    if (p2pIndex == NVML_P2P_CAPS_INDEX_NVLINK)
        *p2pStatus = a->nvlink_count && b->nvlink_count ? NVML_P2P_STATUS_OK : NVML_P2P_STATUS_NOT_SUPPORTED;
    else if (a->brand == NVML_BRAND_GEFORCE || b->brand == NVML_BRAND_GEFORCE)
        *p2pStatus = NVML_P2P_STATUS_NOT_SUPPORTED; /* GeForce boards have peer-to-peer disabled */
    else
        *p2pStatus = NVML_P2P_STATUS_OK;
    return NVML_SUCCESS;
}
