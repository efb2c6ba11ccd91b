// Recording rules, named level:metric:operations, for what several alerts or panels compute.
local lib = import 'lib.libsonnet';

{
  recordingGroup(cfg):: {
    local exporter = lib.selector([cfg.exporterSelector]),

    name: 'gpuguard-recording',
    interval: cfg.intervals.evaluation,
    rules: [
      {
        record: 'gpu:DCGM_FI_DEV_FB_USED:ratio',
        expr: 'DCGM_FI_DEV_FB_USED%s / (DCGM_FI_DEV_FB_USED%s + DCGM_FI_DEV_FB_FREE%s)' % [exporter, exporter, exporter],
      },
      {
        record: 'gpu:DCGM_FI_DEV_POWER_USAGE:ratio_limit',
        expr: 'DCGM_FI_DEV_POWER_USAGE%s / (DCGM_FI_DEV_ENFORCED_POWER_LIMIT%s > 0)' % [exporter, exporter],
      },
      {
        // The violation counters count nanoseconds spent throttled.
        record: 'gpu:DCGM_FI_DEV_THERMAL_VIOLATION:ratio_rate5m',
        expr: 'rate(DCGM_FI_DEV_THERMAL_VIOLATION%s[5m]) / 1e9' % exporter,
      },
      {
        record: 'gpu:DCGM_FI_DEV_POWER_VIOLATION:ratio_rate5m',
        expr: 'rate(DCGM_FI_DEV_POWER_VIOLATION%s[5m]) / 1e9' % exporter,
      },
    ],
  },
}
