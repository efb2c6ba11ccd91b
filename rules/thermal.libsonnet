// The Temperature Guardian, Fan Control and Emergency Cooling of the seed, as alerting rules, against
// each GPU's own limits. This group runs at the fast interval: its alerts drive remediation, so every
// second counts.
local lib = import 'lib.libsonnet';

{
  thermalGroup(cfg):: {
    local thermal = cfg.thermalSelector,
    local gpu = lib.gpuName(cfg),
    local d = cfg.durations,

    name: 'gpuguard-thermal',
    interval: cfg.intervals.thermalEvaluation,
    local temp = 'DCGM_FI_DEV_GPU_TEMP' + lib.selector([thermal]),
    local pred = cfg.prediction,
    local l = cfg.temperatureLimits,

    rules: [
      // Each GPU's own limits (config.libsonnet's `temperatureLimits`), recorded first: rules of a
      // group run in order, so the alerts below compare against this evaluation's limits.
      { record: lib.limitRecord('critical'), expr: lib.temperatureLimit(cfg, 'critical') },
      { record: lib.limitRecord('warning'), expr: lib.temperatureLimit(cfg, 'warning') },
      lib.alert(
        cfg,
        'GPUTemperatureHigh',
        lib.againstLimit(cfg, temp, 'warning'),
        'warning',
        'GPU temperature is approaching its critical limit.',
        '%s is at {{ $value }} °C, at or above its %s: fans go to maximum (power capped where there are no fans).' % [gpu, lib.limitText(cfg, 'warning')],
        action='fan_boost',
        forDuration=d.warningFor,
        keepFiringFor=d.warningKeepFiringFor,
      ),
      lib.alert(
        cfg,
        'GPUTemperatureCritical',
        lib.againstLimit(cfg, temp, 'critical'),
        'critical',
        'GPU temperature is at its critical limit.',
        '%s is at {{ $value }} °C, at or above its %s: its workloads are killed and fans go to maximum (power capped where there are no fans).' % [gpu, lib.limitText(cfg, 'critical')],
        action='kill_workloads',
        forDuration=d.criticalFor,
      ),
      lib.alert(
        cfg,
        'GPUTemperatureCriticalPredicted',
        // Extrapolated over a short window, only while it climbs fast; a window holding a sensor
        // sentinel (255) predicts nothing.
        '(\n%s\n)\nand ignoring (limit_source)\nderiv(%s[%s]) >= %g\nand ignoring (limit_source)\nmax_over_time(%s[%s]) < 200' % [
          lib.againstLimit(cfg, 'predict_linear(%s[%s], %g)' % [temp, pred.window, pred.horizonSeconds], 'critical'),
          temp,
          pred.window,
          pred.minRiseCelsiusPerSecond,
          temp,
          pred.window,
        ],
        'critical',
        'GPU temperature is predicted to reach its critical limit within seconds.',
        '%s climbs fast and is predicted to be at {{ printf "%%.1f" $value }} °C in %g s, at or above its %s: its power is capped until it settles.' % [gpu, pred.horizonSeconds, lib.limitText(cfg, 'critical')],
        action='power_cap',
        forDuration=d.predictionFor,
        keepFiringFor=d.predictionKeepFiringFor,
      ),
      lib.alert(
        cfg,
        'GPUTemperatureNearSlowdown',
        // The slowdown temperature comes from the normal job; sentinels (0, DCGM's blank values)
        // are dropped so that a board without one never matches.
        'DCGM_FI_DEV_GPU_TEMP%s >= ignoring (job) ((DCGM_FI_DEV_SLOWDOWN_TEMP%s > 0 < 200) - %g)' % [
          lib.selector([thermal]),
          lib.selector([cfg.exporterSelector]),
          cfg.thresholds.slowdownMarginCelsius,
        ],
        'critical',
        'GPU temperature is close to the slowdown temperature of the board.',
        '%s is at {{ $value }} °C, within %g °C of the temperature at which the driver slows it down: its power is capped.' % [gpu, cfg.thresholds.slowdownMarginCelsius],
        action='power_cap',
        forDuration=d.slowdownFor,
      ),
      lib.alert(
        cfg,
        'GPUMemoryTemperatureHigh',
        // Boards without a memory sensor report 0 (below any limit) or a huge sentinel.
        '(DCGM_FI_DEV_MEMORY_TEMP%s < 200) >= %g' % [lib.selector([thermal]), cfg.thresholds.memoryWarningCelsius],
        'warning',
        'GPU memory temperature is high.',
        'The memory of %s is at {{ $value }} °C, at or above its %s °C warning limit: fans go to maximum (power capped where there are no fans).' % [gpu, '%g' % cfg.thresholds.memoryWarningCelsius],
        action='fan_boost',
        forDuration=d.memoryFor,
        keepFiringFor=d.warningKeepFiringFor,
      ),
      lib.alert(
        cfg,
        'GPUMemoryTemperatureCritical',
        '(DCGM_FI_DEV_MEMORY_TEMP%s < 200) >= %g' % [lib.selector([thermal]), cfg.thresholds.memoryCriticalCelsius],
        'critical',
        'GPU memory temperature is at its critical limit.',
        'The memory of %s is at {{ $value }} °C, at or above its %s °C critical limit: its workloads are killed and fans go to maximum (power capped where there are no fans).' % [gpu, '%g' % cfg.thresholds.memoryCriticalCelsius],
        action='kill_workloads',
        forDuration=d.memoryFor,
      ),
      lib.alert(
        cfg,
        'GPUThermalThrottling',
        // PromQL has no bitwise operators: bits 0x20 (software thermal slowdown) and 0x40
        // (hardware thermal slowdown) of the NVML clock throttle reasons, by division and modulo.
        'floor(DCGM_FI_DEV_CLOCK_THROTTLE_REASONS%s / 32) %% 4 > 0' % lib.selector([thermal]),
        'warning',
        'GPU clocks are throttled for heat.',
        '%s slows its clocks down because it is too hot (throttle reasons bits 0x20/0x40): fans go to maximum (power capped where there are no fans).' % gpu,
        action='fan_boost',
        forDuration=d.throttlingFor,
      ),
      lib.alert(
        cfg,
        'GPUFanFailure',
        'gpuguard_fan_target_percent%s - gpuguard_fan_speed_percent%s > %g' % [
          lib.selector([thermal]),
          lib.selector([thermal]),
          cfg.thresholds.fanLagPercent,
        ],
        'critical',
        'GPU fan does not follow its target speed.',
        'Fan {{ $labels.fan }} of %s runs {{ $value }} %% below its target speed: it has failed or is blocked, so the GPU power is capped.' % gpu,
        action='power_cap',
        forDuration=d.fanLagFor,
      ),
    ],
  },
}
