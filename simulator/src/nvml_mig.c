/* MIG: mode, MIG device handles and their GPU/compute instance ids (fixed per profile). */
#include "nvml_common.h"

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode,
                                              unsigned int *pendingMode) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->mig_capable) return NVML_ERROR_NOT_SUPPORTED; /* GeForce and workstation boards */
    *currentMode = *pendingMode = CFG->mig_enabled ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->mig_capable) return NVML_ERROR_NOT_SUPPORTED;
    *count = SIM_MAX_MIG;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                             nvmlDevice_t *migDevice) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!migDevice) return NVML_ERROR_INVALID_ARGUMENT;
    if (!CFG->mig_capable) return NVML_ERROR_NOT_SUPPORTED;
    if (!CFG->mig_enabled) return NVML_ERROR_INVALID_ARGUMENT;
    if (index >= SIM_MAX_MIG) return NVML_ERROR_INVALID_ARGUMENT;
    if (index >= CFG->mig_count) return NVML_ERROR_NOT_FOUND;
    *migDevice = sim_device_handle(gpu, (int)index);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice) {
    DEVICE_ENTER_MIG_OK(device, LAT_NONE);
    if (!isMigDevice) return NVML_ERROR_INVALID_ARGUMENT;
    *isMigDevice = mig >= 0;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device) {
    DEVICE_ENTER_MIG_OK(migDevice, LAT_NONE);
    if (!device || mig < 0) return NVML_ERROR_INVALID_ARGUMENT;
    *device = sim_device_handle(gpu, -1);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (!id) return NVML_ERROR_INVALID_ARGUMENT;
    if (mig < 0) return CFG->mig_capable ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_NOT_SUPPORTED;
    *id = CFG->mig[mig].gpu_instance_id;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id) {
    DEVICE_ENTER_MIG_OK(device, LAT_CHEAP);
    if (!id) return NVML_ERROR_INVALID_ARGUMENT;
    if (mig < 0) return CFG->mig_capable ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_NOT_SUPPORTED;
    *id = CFG->mig[mig].compute_instance_id;
    return NVML_SUCCESS;
}
