// Performance and capacity: for people, never remediated.
local lib = import 'lib.libsonnet';

{
  performanceGroup(cfg):: {
    local exporter = cfg.exporterSelector,
    local t = cfg.thresholds,
    local d = cfg.durations,
    local gpu = lib.gpuName(cfg),

    name: 'gpuguard-performance',
    interval: cfg.intervals.evaluation,
    rules: [
      lib.alert(
        cfg,
        'GPUPowerThrottling',
        'gpu:DCGM_FI_DEV_POWER_VIOLATION:ratio_rate5m > %g' % t.powerViolationRatio,
        'warning',
        'GPU clocks are held back by its power limit.',
        '%s spent {{ $value | humanizePercentage }} of the last 5 minutes throttled by its power limit.' % gpu,
        forDuration=d.performanceFor,
      ),
      lib.alert(
        cfg,
        'GPUThermalThrottlingSustained',
        'gpu:DCGM_FI_DEV_THERMAL_VIOLATION:ratio_rate5m > %g' % t.thermalViolationRatio,
        'warning',
        'GPU clocks are held back by heat for a long time.',
        '%s spent {{ $value | humanizePercentage }} of the last 5 minutes throttled for heat: check its airflow and the room.' % gpu,
        forDuration=d.performanceFor,
      ),
      lib.alert(
        cfg,
        'GPUClocksLowUnderLoad',
        '(DCGM_FI_DEV_SM_CLOCK%s < %g * max_over_time(DCGM_FI_DEV_SM_CLOCK%s[6h]))\nand\n(DCGM_FI_DEV_GPU_UTIL%s > %g)' % [
          lib.selector([exporter]),
          t.lowClockRatio,
          lib.selector([exporter]),
          lib.selector([exporter]),
          t.busyUtilPercent,
        ],
        'warning',
        'GPU runs busy at low clocks.',
        '%s is over %g %% busy at {{ $value }} MHz, below %g of its highest SM clock of the last 6 hours.' % [gpu, t.busyUtilPercent, t.lowClockRatio],
        forDuration=d.performanceFor,
      ),
    ],
  },

  capacityGroup(cfg):: {
    local t = cfg.thresholds,
    local d = cfg.durations,
    local gpu = lib.gpuName(cfg),

    name: 'gpuguard-capacity',
    interval: cfg.intervals.evaluation,
    rules: [
      lib.alert(
        cfg,
        'GPUFramebufferNearlyFull',
        'gpu:DCGM_FI_DEV_FB_USED:ratio > %g' % t.framebufferFullRatio,
        'warning',
        'GPU memory is nearly full.',
        '%s has {{ $value | humanizePercentage }} of its framebuffer in use: new allocations will fail.' % gpu,
        forDuration=d.capacityFor,
      ),
      lib.alert(
        cfg,
        'GPUPowerAtLimit',
        'gpu:DCGM_FI_DEV_POWER_USAGE:ratio_limit >= %g' % t.powerAtLimitRatio,
        'info',
        'GPU draws its full power limit.',
        '%s draws {{ $value | humanizePercentage }} of its enforced power limit: it cannot go faster without more power.' % gpu,
        forDuration=d.capacityFor,
      ),
    ],
  },
}
