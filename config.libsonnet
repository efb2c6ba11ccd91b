// gpuguard's thermal policy: the one place operators tune it.
//
// Everything rendered (Prometheus rules, Alertmanager routes, dashboards, the receiver's policy file,
// the Prometheus scrape config) reads its thresholds, durations, selectors, label spellings and
// addresses from here. Override in the mixin way:
//
//   (import 'mixin.libsonnet') + { _config+:: { temperatureLimits+: { default+: { criticalCelsius: 78 } } } }
//
// or pass `overrides` (a JSON object merge-patched over `_config`) to `gpuguard.render`.
{
  _config+:: {
    // --- selectors and label spellings -------------------------------------------------------
    // The fast job carries only the thermal series (see `thermalSeries`), the normal job the rest.
    // On plain dcgm-exporter data set both to the dcgm-exporter job, e.g. 'job="dcgm-exporter"'.
    thermalJobName: 'gpuguard-thermal',
    exporterJobName: 'gpuguard',
    receiverJobName: 'gpuguard-actions',
    thermalSelector: 'job="%s"' % self.thermalJobName,
    exporterSelector: 'job="%s"' % self.exporterJobName,
    receiverSelector: 'job="%s"' % self.receiverJobName,
    // dcgm-exporter up to 4.8 spells it `Hostname`, later releases `hostname`.
    hostLabel: 'Hostname',
    // Labels that name one GPU (or one MIG instance of it) on one node; alerts keep all of them.
    gpuLabels: ['instance', self.hostLabel, 'gpu', 'UUID', 'modelName'],
    // The labels Alertmanager groups remediation alerts by: one group per GPU.
    gpuGroupLabels: [self.hostLabel, 'UUID'],
    // Kubernetes pod attribution: dcgm-exporter's `pod`, or `exported_pod` when Prometheus renamed it
    // because the scrape target already had a `pod` label.
    podLabels: ['exported_namespace', 'exported_pod', 'exported_container'],
    modelLabel: 'modelName',
    // What the fast job keeps (everything the thermal group reads); the normal job drops these.
    thermalSeries: [
      'DCGM_FI_DEV_GPU_TEMP',
      'DCGM_FI_DEV_MEMORY_TEMP',
      'DCGM_FI_DEV_GPU_TEMP_LIMIT',
      'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
      'gpuguard_fan_speed_percent',
      'gpuguard_fan_target_percent',
      'gpuguard_fan_manual',
    ],

    // --- thresholds ---------------------------------------------------------------------------
    // --- GPU temperature limits, per board ------------------------------------------------------
    // Each GPU gets a warning (fan boost) and a critical (workload kill) limit from the first of
    // these that applies to it, in this order; the alerts say which one applied (`limit_source`).
    // The rules, the dashboards and the receiver's failsafe all read them from here.
    temperatureLimits: {
      // 1. `model`: absolute limits for the models named here, keyed by NVML's device name (the
      //    `modelName` label, exactly). The seed's Temperature Guardian line is 75 °C on its two
      //    boards. A model entry may give `criticalCelsius` only: the warning tier then sits
      //    `warningBelowCriticalCelsius` below it.
      models: {
        'NVIDIA GeForce RTX 5090': { warningCelsius: 70, criticalCelsius: 75 },
        'NVIDIA RTX PRO 6000 Blackwell Workstation Edition': { warningCelsius: 70, criticalCelsius: 75 },
      },
      warningBelowCriticalCelsius: 5,
      // 2. `margin`: boards that report their thermal margin (DCGM_FI_DEV_GPU_TEMP_LIMIT, the
      //    degrees left to their nearest slowdown threshold; Ada, Hopper and later) act when that
      //    margin is this small or smaller.
      margin: { warningCelsius: 10, criticalCelsius: 3 },
      // 3. `slowdown` / `max_operating`: boards that report a slowdown or maximum operating
      //    temperature (DCGM_FI_DEV_SLOWDOWN_TEMP, DCGM_FI_DEV_GPU_MAX_OP_TEMP) but no margin: the
      //    lower of the two, minus these.
      boardThreshold: { warningBelowCelsius: 10, criticalBelowCelsius: 3 },
      // 4. `default`: a board that reports none of these.
      default: { warningCelsius: 70, criticalCelsius: 75 },
    },

    thresholds: {
      // HBM/GDDR memory temperature tiers (only where the board reports one; 0 means unsupported).
      memoryWarningCelsius: 85,
      memoryCriticalCelsius: 95,
      // Cap the power this close to the board's own slowdown temperature (DCGM_FI_DEV_SLOWDOWN_TEMP).
      slowdownMarginCelsius: 5,
      // Fan failure: a fan this many percent below its target for `fanLagFor`.
      fanLagPercent: 20,
      // Throttling counters: fraction of wall time spent throttled.
      thermalViolationRatio: 0.05,
      powerViolationRatio: 0.25,
      // Low clocks under load: SM clock below this fraction of its 6 h peak while this busy.
      lowClockRatio: 0.5,
      busyUtilPercent: 80,
      framebufferFullRatio: 0.95,
      powerAtLimitRatio: 0.98,
    },
    // Act before the limit: cap the power (restored when the alert resolves) of a GPU whose
    // temperature, extrapolated linearly over `window`, crosses its critical limit within `horizon`
    // while climbing at least `minRiseCelsiusPerSecond`. A slow approach that settles below the
    // limit never trips it; a failed fan under full load (~1.7 °C/s) trips it several degrees early.
    prediction: {
      window: '6s',
      horizonSeconds: 5,
      minRiseCelsiusPerSecond: 0.5,
    },
    // XIDs that mean the GPU or its memory needs attention (NVIDIA's XID catalog).
    criticalXids: [48, 63, 64, 74, 79, 92, 94, 95, 119, 120],
    fellOffBusXids: [79],

    // --- durations ----------------------------------------------------------------------------
    // The remediation latency goal (first sample >= 75 °C to workload death <= 10 s at p95) sets
    // these: exporter collects every 1 s, the fast job scrapes every 1 s, the thermal group
    // evaluates every 1 s, the critical tier waits 2 s, Alertmanager waits 0 s.
    intervals: {
      thermalScrape: '1s',
      thermalEvaluation: '1s',
      scrape: '15s',
      evaluation: '15s',
    },
    durations: {
      criticalFor: '2s',
      warningFor: '3s',
      // The predictive power cap: held this long before it fires, and kept (like the warning tier)
      // after the climb stops, so a capped GPU is not handed its power back to climb again.
      predictionFor: '1s',
      predictionKeepFiringFor: '1m',
      // Hysteresis: a fan boost cools the GPU below the warning limit within seconds; without this
      // the alert would resolve, the fans return to auto, and it would fire again.
      warningKeepFiringFor: '1m',
      slowdownFor: '2s',
      memoryFor: '5s',
      throttlingFor: '5s',
      fanLagFor: '30s',
      exporterDownFor: '30s',
      metricsAbsentFor: '1m',
      gpuLostFor: '10s',
      receiverDownFor: '1m',
      performanceFor: '15m',
      capacityFor: '15m',
      // Window in which a GPU whose series vanished counts as having fallen off the bus.
      gpuLostWindow: '10m',
      xidWindow: '10m',
    },

    // --- Alertmanager and the receiver ------------------------------------------------------
    receiverName: 'gpuguard-actions',
    peopleReceiverName: 'people',
    receiverUrl: 'http://127.0.0.1:9401/alerts',
    receiverCredentialsFile: '/etc/gpuguard/receiver-token',
    receiverAddress: '127.0.0.1:9401',
    exporterAddress: '127.0.0.1:9400',
    alertmanagerAddress: '127.0.0.1:9093',
    // Relative to the Prometheus config file: right for a clone (deploy/prometheus/prometheus.yml).
    ruleFiles: ['../../rules/gpuguard.rules.yml'],
    remediation: {
      groupWait: '0s',
      // New alerts for a GPU that already has a group (critical after warning) go out after this.
      groupInterval: '1s',
      // Each repeat renews the receiver's leases: keep well below leaseSeconds.
      repeatInterval: '1m',
      leaseSeconds: 180,
    },
    heartbeat: {
      alertname: 'Watchdog',
      repeatInterval: '10s',
      // The receiver's failsafe engages after this long without a Watchdog notification. At
      // Prometheus start-up the first Watchdog can be lost (evaluated before the notifier knows
      // Alertmanager; Prometheus resends only after its 1 m resend delay), so a freshly started
      // stack may run on the failsafe for up to ~75 s: wait for the first heartbeat before judging.
      timeoutSeconds: 30,
    },
    people: {
      groupBy: ['alertname', $._config.hostLabel],
      groupWait: '30s',
      groupInterval: '5m',
      repeatInterval: '4h',
    },

    // --- the receiver's policy (actions/policy.yml) -----------------------------------------
    policy: {
      failsafePollIntervalSeconds: 0.5,
      fanSpeedPercent: 100,
      powerCapFraction: 0.7,
      killGraceSeconds: 5,
      killsPerMinute: 20,
      // Never signalled: matched on the process's real executable (/proc/PID/exe), which its owner
      // cannot set; comm and argv[0] are never trusted (`exec -a dcgm-exporter job` is still a job).
      protectedExecutables: [
        '/usr/bin/nvidia-persistenced',
        '/usr/bin/nv-hostengine',
        '/usr/bin/dcgm-exporter',
        '/usr/bin/Xorg',
        '/usr/lib/xorg/Xorg',
      ],
      // Deprecated: executable file names, honoured only for files no user but root could have placed.
      protectedProcessNames: [],
      protectedUsers: [],
      protectedCgroups: [],
    },

    // --- links --------------------------------------------------------------------------------
    runbookUrlBase: 'https://github.com/gpuguard/gpuguard/blob/main/rules/runbooks.md#',
    grafanaUrl: '',
    dashboardUids: { thermal: 'gpuguard-thermal', fleet: 'gpuguard-fleet' },
    dashboardTags: ['gpuguard', 'gpu'],
    dashboardRefresh: '10s',
  },
}
