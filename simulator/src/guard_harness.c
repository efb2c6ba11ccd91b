/* Guard-byte harness (issue 11): calls every exported NVML function of the simulated driver on every
 * GPU and MIG device handle of the node in GPUGUARD_SIM_STATE, each output buffer sized exactly as the
 * entry point's struct version and surrounded by guard bytes; any byte written outside is reported.
 *
 * Prints one line per call, "CALL <function> <handle> <return code>", and "OVERFLOW <function> ..." on a
 * write past (or before) a buffer; exits 1 after any overflow. Built by simulator/Makefile (plain and
 * ASan) and run by tests/simulator/test_guard_harness.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_NO_UNVERSIONED_FUNC_DEFS
#include "nvml.h"

/* Old name of nvmlGetExcludedDeviceCount, still exported by real drivers, no longer declared. */
nvmlReturn_t nvmlGetBlacklistDeviceCount(unsigned int *deviceCount);

#define GUARD 64
#define PATTERN 0xA5
#define MAX_BUFS 16

static unsigned char *g_bufs[MAX_BUFS];
static size_t g_sizes[MAX_BUFS];
static int g_nbufs, g_overflows;
static const char *g_handle = "system";

/* A zeroed output buffer of exactly `size` bytes inside guard bytes. */
static void *out(size_t size) {
    unsigned char *raw = malloc(size + 2 * GUARD);
    memset(raw, PATTERN, size + 2 * GUARD);
    memset(raw + GUARD, 0, size);
    g_bufs[g_nbufs] = raw;
    g_sizes[g_nbufs++] = size;
    return raw + GUARD;
}

static void done(const char *func, nvmlReturn_t rc) {
    for (int i = 0; i < g_nbufs; i++) {
        for (size_t b = 0; b < 2 * GUARD; b++) {
            size_t at = b < GUARD ? b : GUARD + g_sizes[i] + (b - GUARD);
            if (g_bufs[i][at] != PATTERN) {
                printf("OVERFLOW %s %s buffer %d (%zu bytes) byte %+ld\n", func, g_handle, i, g_sizes[i],
                       (long)at - GUARD);
                g_overflows++;
                break;
            }
        }
        free(g_bufs[i]);
    }
    g_nbufs = 0;
    printf("CALL %s %s %d %s\n", func, g_handle, (int)rc, nvmlErrorString(rc));
}

#define CALL(func, ...) done(#func, func(__VA_ARGS__))
#define O(T) ((T *)out(sizeof(T)))
#define N 8 /* array entries offered to list calls */

/* Older layouts nvml.h no longer has: sizes of what the caller allocated. */
#define PCI_V1_SIZE 32
#define PCI_V2_SIZE 52
#define EVENT_V1_SIZE 24

static void *versioned(size_t size, unsigned int version) {
    unsigned int *p = out(size);
    *p = version;
    return p;
}

static void device_calls(nvmlDevice_t d, nvmlDevice_t peer) {
    char *s;
    CALL(nvmlDeviceGetName, d, (s = out(96)), 96);
    CALL(nvmlDeviceGetUUID, d, (s = out(96)), 96);
    CALL(nvmlDeviceGetSerial, d, (s = out(30)), 30);
    CALL(nvmlDeviceGetVbiosVersion, d, (s = out(32)), 32);
    CALL(nvmlDeviceGetBoardPartNumber, d, (s = out(32)), 32);
    CALL(nvmlDeviceGetInforomImageVersion, d, (s = out(16)), 16);
    CALL(nvmlDeviceGetInforomVersion, d, NVML_INFOROM_OEM, (s = out(16)), 16);
    CALL(nvmlDeviceGetInforomVersion, d, NVML_INFOROM_ECC, (s = out(16)), 16);
    CALL(nvmlDeviceGetGspFirmwareVersion, d, (s = out(NVML_GSP_FIRMWARE_VERSION_BUF_SIZE)));
    CALL(nvmlDeviceGetPciInfo, d, out(PCI_V1_SIZE));
    CALL(nvmlDeviceGetPciInfo_v2, d, out(PCI_V2_SIZE));
    CALL(nvmlDeviceGetPciInfo_v3, d, O(nvmlPciInfo_t));
    CALL(nvmlDeviceGetPciInfoExt, d, versioned(sizeof(nvmlPciInfoExt_t), nvmlPciInfoExt_v1));
    CALL(nvmlDeviceGetMemoryInfo, d, O(nvmlMemory_t));
    CALL(nvmlDeviceGetMemoryInfo_v2, d, versioned(sizeof(nvmlMemory_v2_t), nvmlMemory_v2));
    CALL(nvmlDeviceGetBAR1MemoryInfo, d, O(nvmlBAR1Memory_t));
    CALL(nvmlDeviceGetUtilizationRates, d, O(nvmlUtilization_t));
    CALL(nvmlDeviceGetEncoderUtilization, d, O(unsigned int), O(unsigned int));
    CALL(nvmlDeviceGetDecoderUtilization, d, O(unsigned int), O(unsigned int));
    CALL(nvmlDeviceGetTemperatureV, d, versioned(sizeof(nvmlTemperature_t), nvmlTemperature_v1));
    CALL(nvmlDeviceGetMarginTemperature, d, versioned(sizeof(nvmlMarginTemperature_t), nvmlMarginTemperature_v1));
    CALL(nvmlDeviceGetFanSpeedRPM, d, versioned(sizeof(nvmlFanSpeedInfo_t), nvmlFanSpeedInfo_v1));
    CALL(nvmlDeviceGetRunningProcessDetailList, d, ({
             nvmlProcessDetailList_t *l = versioned(sizeof *l, nvmlProcessDetailList_v1);
             l->mode = NVML_PROCESS_MODE_COMPUTE;
             l->numProcArrayEntries = N;
             l->procArray = out(N * sizeof(nvmlProcessDetail_v1_t));
             l;
         }));
    unsigned int *count;
#define LIST(func, T) CALL(func, d, (count = O(unsigned int), *count = N, count), out(N * sizeof(T)))
    LIST(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t);
    LIST(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_v2_t);
    LIST(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t);
    LIST(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t);
    LIST(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_v2_t);
    LIST(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t);
    LIST(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t);
    LIST(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_v2_t);
    LIST(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t);
    LIST(nvmlDeviceGetAccountingPids, unsigned int);
    LIST(nvmlDeviceGetSupportedMemoryClocks, unsigned int);
    LIST(nvmlDeviceGetEncoderSessions, nvmlEncoderSessionInfo_t);
    LIST(nvmlDeviceGetFBCSessions, nvmlFBCSessionInfo_t);
    unsigned int mem = 0, one = 1;
    nvmlDeviceGetMaxClockInfo(d, NVML_CLOCK_MEM, &mem);
    CALL(nvmlDeviceGetSupportedGraphicsClocks, d, mem, (count = O(unsigned int), *count = 512, count),
         out(512 * sizeof(unsigned int)));
    CALL(nvmlDeviceGetProcessUtilization, d, out(N * sizeof(nvmlProcessUtilizationSample_t)),
         (count = O(unsigned int), *count = N, count), 0);
    CALL(nvmlDeviceGetSamples, d, NVML_TOTAL_POWER_SAMPLES, 0, O(nvmlValueType_t), (count = O(unsigned int), *count = 1, count),
         out(sizeof(nvmlSample_t)));
    CALL(nvmlDeviceGetSamples, d, NVML_GPU_UTILIZATION_SAMPLES, 0, O(nvmlValueType_t), (count = O(unsigned int), *count = one, count),
         out(sizeof(nvmlSample_t)));
    CALL(nvmlDeviceGetFieldValues, d, 4, ({
             nvmlFieldValue_t *v = out(4 * sizeof *v);
             v[0].fieldId = NVML_FI_DEV_MEMORY_TEMP;
             v[1].fieldId = NVML_FI_DEV_TEMPERATURE_SLOWDOWN_TLIMIT;
             v[2].fieldId = NVML_FI_DEV_POWER_INSTANT;
             v[3].fieldId = NVML_FI_DEV_ECC_CURRENT;
             v;
         }));
    CALL(nvmlDeviceGetSupportedPerformanceStates, d, out(16 * sizeof(nvmlPstates_t)), 16);
    CALL(nvmlDeviceGetCpuAffinity, d, 4, out(4 * sizeof(unsigned long)));
    CALL(nvmlDeviceGetCpuAffinityWithinScope, d, 4, out(4 * sizeof(unsigned long)), NVML_AFFINITY_SCOPE_NODE);
    CALL(nvmlDeviceGetMemoryAffinity, d, 2, out(2 * sizeof(unsigned long)), NVML_AFFINITY_SCOPE_NODE);
    CALL(nvmlDeviceGetTopologyNearestGpus, d, NVML_TOPOLOGY_SYSTEM, (count = O(unsigned int), *count = 64, count),
         out(64 * sizeof(nvmlDevice_t)));
    CALL(nvmlDeviceGetTopologyCommonAncestor, d, peer, O(nvmlGpuTopologyLevel_t));
    CALL(nvmlDeviceGetP2PStatus, d, peer, NVML_P2P_CAPS_INDEX_READ, O(nvmlGpuP2PStatus_t));
    CALL(nvmlDeviceGetP2PStatus, d, peer, NVML_P2P_CAPS_INDEX_NVLINK, O(nvmlGpuP2PStatus_t));
    CALL(nvmlDeviceOnSameBoard, d, peer, O(int));
    /* scalars and pairs */
#define S1(func, T) CALL(func, d, O(T))
#define S2(func, T) CALL(func, d, O(T), O(T))
    S1(nvmlDeviceGetMinorNumber, unsigned int); S1(nvmlDeviceGetIndex, unsigned int);
    S1(nvmlDeviceGetBrand, nvmlBrandType_t); S1(nvmlDeviceGetArchitecture, nvmlDeviceArchitecture_t);
    S2(nvmlDeviceGetCudaComputeCapability, int); S1(nvmlDeviceGetPersistenceMode, nvmlEnableState_t);
    S1(nvmlDeviceGetComputeMode, nvmlComputeMode_t); S1(nvmlDeviceGetDisplayMode, nvmlEnableState_t);
    S1(nvmlDeviceGetDisplayActive, nvmlEnableState_t); S1(nvmlDeviceGetCurrPcieLinkGeneration, unsigned int);
    S1(nvmlDeviceGetMaxPcieLinkGeneration, unsigned int); S1(nvmlDeviceGetCurrPcieLinkWidth, unsigned int);
    S1(nvmlDeviceGetMaxPcieLinkWidth, unsigned int); S1(nvmlDeviceGetGpuMaxPcieLinkGeneration, unsigned int);
    S1(nvmlDeviceGetPcieLinkMaxSpeed, unsigned int); S1(nvmlDeviceGetPcieSpeed, unsigned int);
    S1(nvmlDeviceGetBusType, nvmlBusType_t); S1(nvmlDeviceGetPcieReplayCounter, unsigned int);
    S1(nvmlDeviceGetPowerUsage, unsigned int); S1(nvmlDeviceGetTotalEnergyConsumption, unsigned long long);
    S1(nvmlDeviceGetPowerManagementMode, nvmlEnableState_t); S1(nvmlDeviceGetPowerManagementLimit, unsigned int);
    S1(nvmlDeviceGetEnforcedPowerLimit, unsigned int); S1(nvmlDeviceGetPowerManagementDefaultLimit, unsigned int);
    S2(nvmlDeviceGetPowerManagementLimitConstraints, unsigned int);
    S1(nvmlDeviceGetPerformanceState, nvmlPstates_t); S1(nvmlDeviceGetPowerState, nvmlPstates_t);
    S1(nvmlDeviceGetCurrentClocksEventReasons, unsigned long long);
    S1(nvmlDeviceGetCurrentClocksThrottleReasons, unsigned long long);
    S1(nvmlDeviceGetSupportedClocksEventReasons, unsigned long long);
    S1(nvmlDeviceGetSupportedClocksThrottleReasons, unsigned long long);
    S1(nvmlDeviceGetSupportedEventTypes, unsigned long long);
    S2(nvmlDeviceGetEccMode, nvmlEnableState_t); S1(nvmlDeviceGetDefaultEccMode, nvmlEnableState_t);
    S1(nvmlDeviceGetFanSpeed, unsigned int); S1(nvmlDeviceGetNumFans, unsigned int);
    S2(nvmlDeviceGetMinMaxFanSpeed, unsigned int); S2(nvmlDeviceGetMigMode, unsigned int);
    S1(nvmlDeviceGetMaxMigDeviceCount, unsigned int); S1(nvmlDeviceIsMigDeviceHandle, unsigned int);
    S1(nvmlDeviceGetGpuInstanceId, unsigned int); S1(nvmlDeviceGetComputeInstanceId, unsigned int);
    S1(nvmlDeviceGetDeviceHandleFromMigDeviceHandle, nvmlDevice_t);
    S2(nvmlDeviceGetDriverModel, nvmlDriverModel_t); S2(nvmlDeviceGetDriverModel_v2, nvmlDriverModel_t);
    S1(nvmlDeviceGetMultiGpuBoard, unsigned int); S1(nvmlDeviceGetBoardId, unsigned int);
    S1(nvmlDeviceGetInforomConfigurationChecksum, unsigned int);
    S1(nvmlDeviceGetAccountingMode, nvmlEnableState_t); S1(nvmlDeviceGetAccountingBufferSize, unsigned int);
    CALL(nvmlDeviceGetAccountingStats, d, 1, O(nvmlAccountingStats_t));
    CALL(nvmlDeviceGetRetiredPages, d, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,
         (count = O(unsigned int), *count = N, count), out(N * sizeof(unsigned long long)));
    CALL(nvmlDeviceGetRetiredPages_v2, d, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,
         (count = O(unsigned int), *count = N, count), out(N * sizeof(unsigned long long)),
         out(N * sizeof(unsigned long long)));
    S1(nvmlDeviceGetRetiredPagesPendingStatus, nvmlEnableState_t);
    CALL(nvmlDeviceGetMemoryErrorCounter, d, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC,
         NVML_MEMORY_LOCATION_DEVICE_MEMORY, O(unsigned long long));
    CALL(nvmlDeviceGetTotalEccErrors, d, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, O(unsigned long long));
    CALL(nvmlDeviceGetRemappedRows, d, O(unsigned int), O(unsigned int), O(unsigned int), O(unsigned int));
    S2(nvmlDeviceGetGpuOperationMode, nvmlGpuOperationMode_t); S1(nvmlDeviceGetBridgeChipInfo, nvmlBridgeChipHierarchy_t);
    S1(nvmlDeviceGetVirtualizationMode, nvmlGpuVirtualizationMode_t); S1(nvmlDeviceGetHostVgpuMode, nvmlHostVgpuMode_t);
    CALL(nvmlDeviceGetAPIRestriction, d, NVML_RESTRICTED_API_SET_APPLICATION_CLOCKS, O(nvmlEnableState_t));
    S2(nvmlDeviceGetGspFirmwareMode, unsigned int); S1(nvmlDeviceGetNumaNodeId, unsigned int);
    S1(nvmlDeviceGetMemoryBusWidth, unsigned int); S1(nvmlDeviceGetNumGpuCores, unsigned int);
    S2(nvmlDeviceGetAutoBoostedClocksEnabled, nvmlEnableState_t);
    CALL(nvmlDeviceGetEncoderStats, d, O(unsigned int), O(unsigned int), O(unsigned int));
    CALL(nvmlDeviceGetEncoderCapacity, d, NVML_ENCODER_QUERY_H264, O(unsigned int));
    S1(nvmlDeviceGetFBCStats, nvmlFBCStats_t);
    S1(nvmlDeviceGetConfComputeMemSizeInfo, nvmlConfComputeMemSizeInfo_t);
    for (int t = NVML_CLOCK_GRAPHICS; t <= NVML_CLOCK_VIDEO; t++) {
        CALL(nvmlDeviceGetClockInfo, d, t, O(unsigned int));
        CALL(nvmlDeviceGetMaxClockInfo, d, t, O(unsigned int));
        CALL(nvmlDeviceGetMaxCustomerBoostClock, d, t, O(unsigned int));
        CALL(nvmlDeviceGetApplicationsClock, d, t, O(unsigned int));
        CALL(nvmlDeviceGetDefaultApplicationsClock, d, t, O(unsigned int));
        CALL(nvmlDeviceGetClock, d, t, NVML_CLOCK_ID_CURRENT, O(unsigned int));
        CALL(nvmlDeviceGetMinMaxClockOfPState, d, t, NVML_PSTATE_0, O(unsigned int), O(unsigned int));
    }
    CALL(nvmlDeviceGetTemperature, d, NVML_TEMPERATURE_GPU, O(unsigned int));
    for (int t = 0; t < NVML_TEMPERATURE_THRESHOLD_COUNT; t++) CALL(nvmlDeviceGetTemperatureThreshold, d, t, O(unsigned int));
    CALL(nvmlDeviceGetViolationStatus, d, NVML_PERF_POLICY_THERMAL, O(nvmlViolationTime_t));
    CALL(nvmlDeviceGetPcieThroughput, d, NVML_PCIE_UTIL_RX_BYTES, O(unsigned int));
    CALL(nvmlDeviceGetFanSpeed_v2, d, 0, O(unsigned int));
    CALL(nvmlDeviceGetTargetFanSpeed, d, 0, O(unsigned int));
    CALL(nvmlDeviceGetFanControlPolicy_v2, d, 0, O(nvmlFanControlPolicy_t));
    CALL(nvmlDeviceGetMigDeviceHandleByIndex, d, 0, O(nvmlDevice_t));
    for (unsigned int link = 0; link < 2; link++) {
        CALL(nvmlDeviceGetNvLinkState, d, link, O(nvmlEnableState_t));
        CALL(nvmlDeviceGetNvLinkVersion, d, link, O(unsigned int));
        CALL(nvmlDeviceGetNvLinkCapability, d, link, NVML_NVLINK_CAP_P2P_SUPPORTED, O(unsigned int));
        CALL(nvmlDeviceGetNvLinkRemotePciInfo, d, link, out(PCI_V2_SIZE));
        CALL(nvmlDeviceGetNvLinkRemotePciInfo_v2, d, link, O(nvmlPciInfo_t));
        CALL(nvmlDeviceGetNvLinkRemoteDeviceType, d, link, O(nvmlIntNvLinkDeviceType_t));
        CALL(nvmlDeviceGetNvLinkErrorCounter, d, link, NVML_NVLINK_ERROR_DL_REPLAY, O(unsigned long long));
    }
    /* GPM */
    CALL(nvmlGpmQueryDeviceSupport, d, versioned(sizeof(nvmlGpmSupport_t), NVML_GPM_SUPPORT_VERSION));
    nvmlGpmSample_t a = NULL, b = NULL;
    CALL(nvmlGpmSampleAlloc, O(nvmlGpmSample_t));
    nvmlGpmSampleAlloc(&a);
    nvmlGpmSampleAlloc(&b);
    CALL(nvmlGpmSampleGet, d, a);
    CALL(nvmlGpmMigSampleGet, d, 1, b);
    CALL(nvmlGpmMetricsGet, ({
             nvmlGpmMetricsGet_t *m = versioned(sizeof *m, NVML_GPM_METRICS_GET_VERSION);
             m->numMetrics = 1;
             m->sample1 = a;
             m->sample2 = a;
             m->metrics[0].metricId = NVML_GPM_METRIC_GRAPHICS_UTIL;
             m;
         }));
    CALL(nvmlGpmSampleFree, a);
    CALL(nvmlGpmSampleFree, b);
    /* events */
    nvmlEventSet_t set = NULL;
    CALL(nvmlEventSetCreate, O(nvmlEventSet_t));
    nvmlEventSetCreate(&set);
    CALL(nvmlDeviceRegisterEvents, d, nvmlEventTypeXidCriticalError, set);
    CALL(nvmlEventSetWait, set, out(EVENT_V1_SIZE), 0);
    CALL(nvmlEventSetWait_v2, set, O(nvmlEventData_t), 0);
    CALL(nvmlEventSetFree, set);
}

/* Setters, last: they change the node. Valid arguments where the board allows them. */
static void setter_calls(nvmlDevice_t d) {
    unsigned int limit = 0;
    nvmlDeviceGetPowerManagementDefaultLimit(d, &limit);
    CALL(nvmlDeviceSetPowerManagementLimit, d, limit);
    nvmlPowerValue_v2_t pv = {.version = nvmlPowerValue_v2, .powerScope = NVML_POWER_SCOPE_GPU, .powerValueMw = limit};
    CALL(nvmlDeviceSetPowerManagementLimit_v2, d, &pv);
    CALL(nvmlDeviceSetFanSpeed_v2, d, 0, 80);
    CALL(nvmlDeviceSetFanControlPolicy, d, 0, NVML_FAN_POLICY_TEMPERATURE_CONTINOUS_SW);
    CALL(nvmlDeviceSetDefaultFanSpeed_v2, d, 0);
}

int main(void) {
    CALL(nvmlInit_v2);
    CALL(nvmlInit);
    CALL(nvmlInitWithFlags, 0);
    char *s;
    CALL(nvmlSystemGetDriverVersion, (s = out(80)), 80);
    CALL(nvmlSystemGetNVMLVersion, (s = out(80)), 80);
    CALL(nvmlSystemGetCudaDriverVersion, O(int));
    CALL(nvmlSystemGetCudaDriverVersion_v2, O(int));
    CALL(nvmlSystemGetProcessName, 1, (s = out(64)), 64);
    CALL(nvmlSystemGetHicVersion, O(unsigned int), out(4 * sizeof(nvmlHwbcEntry_t)));
    CALL(nvmlGetExcludedDeviceCount, O(unsigned int));
    CALL(nvmlGetBlacklistDeviceCount, O(unsigned int));
    CALL(nvmlUnitGetCount, O(unsigned int));
    unsigned int count = 0, *n;
    CALL(nvmlDeviceGetCount, O(unsigned int));
    CALL(nvmlDeviceGetCount_v2, O(unsigned int));
    nvmlDeviceGetCount_v2(&count);
    CALL(nvmlSystemGetTopologyGpuSet, 0, (n = O(unsigned int), *n = 64, n), out(64 * sizeof(nvmlDevice_t)));
    printf("%s\n", nvmlErrorString(NVML_ERROR_NOT_SUPPORTED));
    done("nvmlErrorString", NVML_SUCCESS);
    for (unsigned int i = 0; i < count; i++) {
        static char name[32];
        snprintf(name, sizeof name, "gpu%u", i);
        g_handle = name;
        nvmlDevice_t d, peer, same;
        CALL(nvmlDeviceGetHandleByIndex, i, O(nvmlDevice_t));
        CALL(nvmlDeviceGetHandleByIndex_v2, i, O(nvmlDevice_t));
        nvmlDeviceGetHandleByIndex_v2(i, &d);
        nvmlDeviceGetHandleByIndex_v2((i + 1) % count, &peer);
        char uuid[96] = "", serial[32] = "";
        nvmlPciInfo_t pci;
        nvmlDeviceGetUUID(d, uuid, sizeof uuid);
        nvmlDeviceGetSerial(d, serial, sizeof serial);
        nvmlDeviceGetPciInfo_v3(d, &pci);
        CALL(nvmlDeviceGetHandleByUUID, uuid, O(nvmlDevice_t));
        CALL(nvmlDeviceGetHandleBySerial, serial, O(nvmlDevice_t));
        CALL(nvmlDeviceGetHandleByPciBusId, pci.busIdLegacy, O(nvmlDevice_t));
        CALL(nvmlDeviceGetHandleByPciBusId_v2, pci.busId, O(nvmlDevice_t));
        nvmlDeviceGetHandleByPciBusId_v2(pci.busId, &same);
        if (same != d) {
            printf("OVERFLOW-VALUE gpu%u busId %s finds another handle\n", i, pci.busId);
            g_overflows++;
        }
        device_calls(d, peer);
        for (unsigned int m = 0; m < 7; m++) {
            nvmlDevice_t migd;
            if (nvmlDeviceGetMigDeviceHandleByIndex(d, m, &migd) != NVML_SUCCESS) break;
            static char mig_name[48];
            snprintf(mig_name, sizeof mig_name, "gpu%u/mig%u", i, m);
            g_handle = mig_name;
            device_calls(migd, peer);
            g_handle = name;
        }
        setter_calls(d);
    }
    g_handle = "system";
    CALL(nvmlShutdown);
    CALL(nvmlShutdown);
    CALL(nvmlShutdown);
    printf("DONE overflows=%d\n", g_overflows);
    return g_overflows ? 1 : 0;
}
