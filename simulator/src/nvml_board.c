/* Board identity and policy queries monitoring tools print once per GPU (issue 11): what the board is,
 * its inforom, accounting, page retirement, driver model, virtualization, CPU affinity.
 *
 * Each answers as a real Linux driver does for the board class: a value where the board has it,
 * NOT_SUPPORTED where it lacks it (Windows driver model, GeForce accounting and inforom, page retirement
 * on Ampere and later, which use row remapping instead). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nvml_common.h"

static int is_geforce(int gpu) { return g_node->cfg[gpu].brand == NVML_BRAND_GEFORCE; }

/* Windows-only (WDDM/TCC): Linux drivers answer NOT_SUPPORTED. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetDriverModel(nvmlDevice_t device, nvmlDriverModel_t *current,
                                                  nvmlDriverModel_t *pending) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDriverModel_v2(nvmlDevice_t device, nvmlDriverModel_t *current,
                                                     nvmlDriverModel_t *pending) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDevice_t device, unsigned int *multiGpuBool) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!multiGpuBool) return NVML_ERROR_INVALID_ARGUMENT;
    *multiGpuBool = 0; /* one GPU per board on every simulated board */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBoardId(nvmlDevice_t device, unsigned int *boardId) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!boardId) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlPciInfo_t pci;
    sim_fill_pci(gpu, &pci);
    *boardId = (pci.domain << 16) | (pci.bus << 8) | pci.device; /* unique per board, like the real one */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t device, char *partNumber, unsigned int length) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!partNumber) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->board_part_number[0]) return NVML_ERROR_NOT_SUPPORTED;
    return sim_copy_string(partNumber, length, CFG->board_part_number);
}

/* ---- inforom: absent on GeForce; the profile names the image, the object versions are fixed ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetInforomVersion(nvmlDevice_t device, nvmlInforomObject_t object, char *version,
                                                     unsigned int length) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->inforom_image[0]) return NVML_ERROR_NOT_SUPPORTED;
    switch (object) {
    case NVML_INFOROM_OEM: return sim_copy_string(version, length, "2.1");
    case NVML_INFOROM_ECC: return is_geforce(gpu) ? NVML_ERROR_NOT_SUPPORTED : sim_copy_string(version, length, "7.16");
    case NVML_INFOROM_POWER: return NVML_ERROR_NOT_SUPPORTED; /* "N/A" on current boards */
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDevice_t device, char *version, unsigned int length) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->inforom_image[0]) return NVML_ERROR_NOT_SUPPORTED;
    return sim_copy_string(version, length, CFG->inforom_image);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetInforomConfigurationChecksum(nvmlDevice_t device, unsigned int *checksum) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!checksum) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->inforom_image[0]) return NVML_ERROR_NOT_SUPPORTED;
    unsigned int sum = 0;
    for (const char *c = CFG->inforom_image; *c; c++) sum = sum * 31u + (unsigned char)*c;
    *checksum = sum;
    return NVML_SUCCESS;
}

/* ---- accounting: data-centre and workstation boards have it (off by default), GeForce does not ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetAccountingMode(nvmlDevice_t device, nvmlEnableState_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *mode = NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t device, unsigned int *bufferSize) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!bufferSize) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *bufferSize = 4000;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t device, unsigned int *count, unsigned int *pids) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *count = 0; /* accounting is off: nothing recorded */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetAccountingStats(nvmlDevice_t device, unsigned int pid,
                                                      nvmlAccountingStats_t *stats) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!stats) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    return NVML_ERROR_NOT_FOUND;
}

/* ---- memory errors: Ampere and later retire rows (nvmlDeviceGetRemappedRows), not pages ---- */

NVML_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
                                                   unsigned int *pageCount, unsigned long long *addresses) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pageCount) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
                                                      unsigned int *pageCount, unsigned long long *addresses,
                                                      unsigned long long *timestamps) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!pageCount) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *isPending) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isPending) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryErrorCounter(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                         nvmlEccCounterType_t counterType,
                                                         nvmlMemoryLocation_t locationType, unsigned long long *count) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!count || errorType >= NVML_MEMORY_ERROR_TYPE_COUNT || counterType >= NVML_ECC_COUNTER_TYPE_COUNT ||
        locationType >= NVML_MEMORY_LOCATION_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *count = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDefaultEccMode(nvmlDevice_t device, nvmlEnableState_t *defaultMode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!defaultMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (is_geforce(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    *defaultMode = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

/* ---- modes ---- */

/* GPU operation modes are a Kepler-era Tesla/Titan feature: NOT_SUPPORTED on every current board. */
NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuOperationMode(nvmlDevice_t device, nvmlGpuOperationMode_t *current,
                                                       nvmlGpuOperationMode_t *pending) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetBridgeChipInfo(nvmlDevice_t device, nvmlBridgeChipHierarchy_t *bridgeHierarchy) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!bridgeHierarchy) return NVML_ERROR_INVALID_ARGUMENT;
    bridgeHierarchy->bridgeCount = 0; /* no on-board bridge chip; only the count is written */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetVirtualizationMode(nvmlDevice_t device, nvmlGpuVirtualizationMode_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    *mode = NVML_GPU_VIRTUALIZATION_MODE_NONE; /* bare metal */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetHostVgpuMode(nvmlDevice_t device, nvmlHostVgpuMode_t *mode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED; /* no vGPU host driver */
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetAPIRestriction(nvmlDevice_t device, nvmlRestrictedAPI_t apiType,
                                                     nvmlEnableState_t *isRestricted) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isRestricted || apiType >= NVML_RESTRICTED_API_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    *isRestricted = NVML_FEATURE_ENABLED; /* root only, the default */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareMode(nvmlDevice_t device, unsigned int *isEnabled,
                                                      unsigned int *defaultMode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!isEnabled || !defaultMode) return NVML_ERROR_INVALID_ARGUMENT;
    *isEnabled = *defaultMode = 1; /* GSP firmware is the default on every simulated architecture */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareVersion(nvmlDevice_t device, char *version) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    /* The buffer is NVML_GSP_FIRMWARE_VERSION_BUF_SIZE by contract; the version is the driver's. */
    snprintf(version, NVML_GSP_FIRMWARE_VERSION_BUF_SIZE, "%s", g_node->driver_version);
    return NVML_SUCCESS;
}

/* ---- affinity: every online CPU (the simulated node has no NUMA layout); NUMA ids only on coherent
 * platforms (Grace), so NOT_SUPPORTED ---- */

static nvmlReturn_t cpu_set(unsigned int size, unsigned long *set) {
    if (!set || size == 0) return NVML_ERROR_INVALID_ARGUMENT;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int bits = 8 * sizeof(unsigned long);
    for (unsigned int i = 0; i < size; i++) {
        long first = (long)i * bits;
        long n = cpus - first;
        set[i] = n <= 0 ? 0 : n >= (long)bits ? ~0UL : (1UL << n) - 1;
    }
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t device, unsigned int cpuSetSize, unsigned long *cpuSet) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return cpu_set(cpuSetSize, cpuSet);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t device, unsigned int cpuSetSize,
                                                             unsigned long *cpuSet, nvmlAffinityScope_t scope) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (scope != NVML_AFFINITY_SCOPE_NODE && scope != NVML_AFFINITY_SCOPE_SOCKET) return NVML_ERROR_INVALID_ARGUMENT;
    return cpu_set(cpuSetSize, cpuSet);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t device, unsigned int nodeSetSize,
                                                     unsigned long *nodeSet, nvmlAffinityScope_t scope) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!nodeSet || nodeSetSize == 0) return NVML_ERROR_INVALID_ARGUMENT;
    memset(nodeSet, 0, nodeSetSize * sizeof *nodeSet);
    nodeSet[0] = 1; /* NUMA node 0 */
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t device, unsigned int *node) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!node) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_ERROR_NOT_SUPPORTED;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!busWidth) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->memory_bus_width) return NVML_ERROR_NOT_SUPPORTED;
    *busWidth = CFG->memory_bus_width;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned int *numCores) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!numCores) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->num_gpu_cores) return NVML_ERROR_NOT_SUPPORTED;
    *numCores = CFG->num_gpu_cores;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceOnSameBoard(nvmlDevice_t device1, nvmlDevice_t device2, int *onSameBoard) {
    DEVICE_ENTER(device1, LAT_CHEAP);
    int gpu2, mig2;
    nvmlReturn_t rc = sim_enter_device(__func__, device2, LAT_NONE, 0, &gpu2, &mig2);
    if (rc != NVML_SUCCESS) return rc;
    if (!onSameBoard) return NVML_ERROR_INVALID_ARGUMENT;
    *onSameBoard = gpu == gpu2;
    return NVML_SUCCESS;
}

/* ---- system-wide: no excluded GPUs, no S-class units ---- */

NVML_EXPORT nvmlReturn_t nvmlGetExcludedDeviceCount(unsigned int *deviceCount) {
    SYSTEM_ENTER(LAT_NONE);
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlGetBlacklistDeviceCount(unsigned int *deviceCount) {
    SYSTEM_ENTER(LAT_NONE);
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlUnitGetCount(unsigned int *unitCount) {
    SYSTEM_ENTER(LAT_NONE);
    if (!unitCount) return NVML_ERROR_INVALID_ARGUMENT;
    *unitCount = 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlSystemGetHicVersion(unsigned int *hwbcCount, nvmlHwbcEntry_t *hwbcEntries) {
    SYSTEM_ENTER(LAT_NONE);
    if (!hwbcCount) return NVML_ERROR_INVALID_ARGUMENT;
    *hwbcCount = 0;
    return NVML_SUCCESS;
}
