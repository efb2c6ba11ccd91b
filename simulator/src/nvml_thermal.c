/* Temperatures, thresholds and fans (getters and the fan setters). */
#include <math.h>
#include <stdio.h>

#include "nvml_common.h"

static int whole_degrees(double celsius) { return (int)floor(celsius); }

static nvmlReturn_t gpu_temperature(int gpu, nvmlTemperatureSensors_t sensor, unsigned int *temp) {
    if (!temp || sensor != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    MODEL_BEGIN();
    *temp = (unsigned int)whole_degrees(ST->temp_c);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                                  unsigned int *temp) {
    DEVICE_ENTER(device, LAT_CHEAP);
    return gpu_temperature(gpu, sensorType, temp);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!temperature) return NVML_ERROR_INVALID_ARGUMENT;
    if (temperature->version != nvmlTemperature_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    unsigned int value = 0;
    nvmlReturn_t rc = gpu_temperature(gpu, temperature->sensorType, &value);
    if (rc == NVML_SUCCESS) temperature->temperature = (int)value;
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device,
                                                           nvmlTemperatureThresholds_t thresholdType,
                                                           unsigned int *temp) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!temp) return NVML_ERROR_INVALID_ARGUMENT;
    int value;
    switch (thresholdType) {
    case NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: value = CFG->threshold_shutdown; break;
    case NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: value = CFG->threshold_slowdown; break;
    case NVML_TEMPERATURE_THRESHOLD_MEM_MAX: value = CFG->threshold_memory_max; break;
    case NVML_TEMPERATURE_THRESHOLD_GPU_MAX: value = CFG->threshold_gpu_max; break;
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_MIN: value = CFG->threshold_acoustic_min; break;
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_CURR: value = CFG->threshold_acoustic_curr; break;
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_MAX: value = CFG->threshold_acoustic_max; break;
    case NVML_TEMPERATURE_THRESHOLD_GPS_CURR: value = CFG->threshold_gps_curr; break;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
    if (value <= 0) return NVML_ERROR_NOT_SUPPORTED;
    *temp = (unsigned int)value;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMarginTemperature(nvmlDevice_t device, nvmlMarginTemperature_t *margin) {
    DEVICE_ENTER(device, LAT_CHEAP);
    if (!margin) return NVML_ERROR_INVALID_ARGUMENT;
    if (margin->version != nvmlMarginTemperature_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    MODEL_BEGIN();
    margin->marginTemperature = CFG->threshold_slowdown - whole_degrees(ST->temp_c);
    MODEL_END();
    return NVML_SUCCESS;
}

/* ---- fans: boards without fans answer NOT_SUPPORTED, a bad fan index INVALID_ARGUMENT ---- */

static nvmlReturn_t check_fan(int gpu, unsigned int fan) {
    if (CFG->fan_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    if (fan >= CFG->fan_count) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *numFans) {
    DEVICE_ENTER(device, LAT_FAN);
    if (!numFans) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->fan_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    *numFans = CFG->fan_count;
    return NVML_SUCCESS;
}

static nvmlReturn_t fan_speed(int gpu, unsigned int fan, unsigned int *speed) {
    if (!speed) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc != NVML_SUCCESS) return rc;
    MODEL_BEGIN();
    *speed = (unsigned int)lround(ST->fan_speed[fan]);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    DEVICE_ENTER(device, LAT_FAN);
    return fan_speed(gpu, 0, speed);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed) {
    DEVICE_ENTER(device, LAT_FAN);
    return fan_speed(gpu, fan, speed);
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetTargetFanSpeed(nvmlDevice_t device, unsigned int fan,
                                                     unsigned int *targetSpeed) {
    DEVICE_ENTER(device, LAT_FAN);
    if (!targetSpeed) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc != NVML_SUCCESS) return rc;
    MODEL_BEGIN();
    *targetSpeed = (unsigned int)lround(ST->fan_target[fan]);
    MODEL_END();
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetMinMaxFanSpeed(nvmlDevice_t device, unsigned int *minSpeed,
                                                     unsigned int *maxSpeed) {
    DEVICE_ENTER(device, LAT_FAN);
    if (!minSpeed || !maxSpeed) return NVML_ERROR_INVALID_ARGUMENT;
    if (CFG->fan_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    *minSpeed = (unsigned int)lround(CFG->fan_min_percent);
    *maxSpeed = (unsigned int)lround(CFG->fan_max_percent);
    return NVML_SUCCESS;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceGetFanControlPolicy_v2(nvmlDevice_t device, unsigned int fan,
                                                          nvmlFanControlPolicy_t *policy) {
    DEVICE_ENTER(device, LAT_FAN);
    if (!policy) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc != NVML_SUCCESS) return rc;
    MODEL_BEGIN();
    *policy = ST->fan_manual[fan] ? NVML_FAN_POLICY_MANUAL : NVML_FAN_POLICY_TEMPERATURE_CONTINOUS_SW;
    MODEL_END();
    return NVML_SUCCESS;
}


NVML_EXPORT nvmlReturn_t nvmlDeviceSetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int speed) {
    char args[96];
    snprintf(args, sizeof args, "\"fan\": %u, \"speed\": %u", fan, speed);
    SETTER_ENTER(device, args, LAT_FAN);
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc == NVML_SUCCESS && (speed > 100 || speed < CFG->fan_min_percent - 1e-9 || speed > CFG->fan_max_percent + 1e-9))
        rc = NVML_ERROR_INVALID_ARGUMENT;
    if (rc == NVML_SUCCESS) {
        MODEL_BEGIN();
        ST->fan_manual[fan] = 1;
        ST->fan_target[fan] = speed;
        MODEL_END();
    }
    sim_log_setter(__func__, gpu, args, rc);
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceSetDefaultFanSpeed_v2(nvmlDevice_t device, unsigned int fan) {
    char args[64];
    snprintf(args, sizeof args, "\"fan\": %u", fan);
    SETTER_ENTER(device, args, LAT_FAN);
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc == NVML_SUCCESS) {
        MODEL_BEGIN();
        ST->fan_manual[fan] = 0;
        ST->fan_target[fan] = sim_fan_curve(CFG, ST->temp_c);
        MODEL_END();
    }
    sim_log_setter(__func__, gpu, args, rc);
    return rc;
}

NVML_EXPORT nvmlReturn_t nvmlDeviceSetFanControlPolicy(nvmlDevice_t device, unsigned int fan,
                                                       nvmlFanControlPolicy_t policy) {
    char args[64];
    snprintf(args, sizeof args, "\"fan\": %u, \"policy\": %u", fan, (unsigned int)policy);
    SETTER_ENTER(device, args, LAT_FAN);
    nvmlReturn_t rc = check_fan(gpu, fan);
    if (rc == NVML_SUCCESS && policy != NVML_FAN_POLICY_MANUAL && policy != NVML_FAN_POLICY_TEMPERATURE_CONTINOUS_SW)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    if (rc == NVML_SUCCESS) {
        MODEL_BEGIN();
        /* Manual keeps the current target; automatic hands the fan back to the curve. */
        ST->fan_manual[fan] = policy == NVML_FAN_POLICY_MANUAL;
        MODEL_END();
    }
    sim_log_setter(__func__, gpu, args, rc);
    return rc;
}
