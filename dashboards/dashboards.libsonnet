// "GPU Thermal Guard" (one node's GPUs against their limits, and what the receiver did about it)
// and "GPU Fleet" (every node's GPUs at a glance). Queries use dcgm-exporter's metric names, so both
// also work on plain dcgm-exporter data; gpuguard-only series (fan targets, the receiver's metrics)
// stay empty there.
local rules = import '../rules/lib.libsonnet';
local g = import 'lib.libsonnet';

{
  dashboards(cfg):: {
    local host = cfg.hostLabel,
    local sel = '{%s=~"$host", gpu=~"$gpu"}' % host,
    local hostSel = '{%s=~"$host"}' % host,
    local gpuLegend = '{{%s}} GPU {{gpu}}' % host,
    local t = cfg.thresholds,
    local limits = cfg.temperatureLimits,
    // Colours for panels that mix boards: the default limits (each board's own are drawn as lines).
    local tempSteps = g.steps([[limits.default.warningCelsius, 'orange'], [limits.default.criticalCelsius, 'red']]),
    // A margin is good while large: red at the critical margin, orange at the warning one.
    local marginSteps = [
      { value: null, color: 'red' },
      { value: limits.margin.criticalCelsius, color: 'orange' },
      { value: limits.margin.warningCelsius, color: 'green' },
    ],
    local hostVar = g.queryVariable('host', 'Node', 'label_values(DCGM_FI_DEV_GPU_TEMP, %s)' % host),
    local gpuVar = g.queryVariable('gpu', 'GPU', 'label_values(DCGM_FI_DEV_GPU_TEMP%s, gpu)' % hostSel),
    // Each GPU's own limits, as the rules recorded them (with where they came from).
    local limitLine(tier) = rules.limitRecord(tier) + sel,

    'gpuguard-thermal.json': g.dashboard(
      cfg,
      cfg.dashboardUids.thermal,
      'GPU Thermal Guard',
      'GPU temperatures against their limits, fans, power and throttling, and the remediations gpuguard applied.',
      [hostVar, gpuVar],
      [
        [
          g.timeseries(
            'GPU temperature against its limits',
            'Core temperature with the critical (workload kill) and warning (fan boost) limits of each GPU (from its model, its thermal margin, its reported thresholds or the default: the legend says which), and the temperature at which the driver slows the GPU down.',
            [
              g.target('DCGM_FI_DEV_GPU_TEMP' + sel, gpuLegend),
              g.target(limitLine('critical'), 'critical limit ({{limit_source}}) ' + gpuLegend),
              g.target(limitLine('warning'), 'warning limit ({{limit_source}}) ' + gpuLegend),
              g.target('DCGM_FI_DEV_SLOWDOWN_TEMP' + sel, 'slowdown ' + gpuLegend),
            ],
            'celsius',
            w=16,
            h=9,
            steps=tempSteps,
          ),
          g.bargauge(
            'Temperature now',
            'Current core temperature of each GPU.',
            [g.target('sort_desc(DCGM_FI_DEV_GPU_TEMP%s)' % sel, gpuLegend, instant=true)],
            'celsius',
            w=8,
            h=9,
            min=20,
            max=100,
            steps=tempSteps,
          ),
        ],
        [
          g.timeseries(
            'Fan speed against target',
            'Fan speed against the speed the driver (or a gpuguard fan boost) asks for: a fan that stays below its target has failed.',
            [
              g.target('gpuguard_fan_speed_percent' + sel, 'speed {{%s}} GPU {{gpu}} fan {{fan}}' % host),
              g.target('gpuguard_fan_target_percent' + sel, 'target {{%s}} GPU {{gpu}} fan {{fan}}' % host),
              g.target('DCGM_FI_DEV_FAN_SPEED' + sel, 'DCGM ' + gpuLegend),
            ],
            'percent',
            min=0,
            max=100,
          ),
          g.timeseries(
            'Power against limit',
            'Power draw against the enforced power limit (lowered while gpuguard caps the power).',
            [
              g.target('DCGM_FI_DEV_POWER_USAGE' + sel, gpuLegend),
              g.target('DCGM_FI_DEV_ENFORCED_POWER_LIMIT' + sel, 'limit ' + gpuLegend),
            ],
            'watt',
            min=0,
          ),
        ],
        [
          g.timeseries(
            'Thermal margin',
            'Degrees left to the nearest slowdown threshold, where the board reports it (DCGM_FI_DEV_GPU_TEMP_LIMIT): at the warning margin the fans are boosted, at the critical margin the workloads are killed.',
            [g.target('DCGM_FI_DEV_GPU_TEMP_LIMIT' + sel, gpuLegend)],
            'celsius',
            steps=marginSteps,
          ),
          g.timeseries(
            'Temperature predicted %g s ahead' % cfg.prediction.horizonSeconds,
            'Each GPU temperature extrapolated over the last %s, as the predictive power cap reads it, against its critical limit: the power is capped when a fast climb would cross the limit within %g s.' % [cfg.prediction.window, cfg.prediction.horizonSeconds],
            [
              g.target('predict_linear(DCGM_FI_DEV_GPU_TEMP%s[%s], %g)' % [sel, cfg.prediction.window, cfg.prediction.horizonSeconds], 'predicted ' + gpuLegend),
              g.target(limitLine('critical'), 'critical limit ' + gpuLegend),
            ],
            'celsius',
          ),
        ],
        [
          g.timeseries(
            'Memory temperature',
            'HBM or GDDR temperature where the board reports one (0 and sentinel values left out).',
            [g.target('(DCGM_FI_DEV_MEMORY_TEMP%s > 0) < 200' % sel, gpuLegend)],
            'celsius',
            w=8,
            steps=g.steps([[t.memoryWarningCelsius, 'orange'], [t.memoryCriticalCelsius, 'red']]),
          ),
          g.timeseries(
            'Throttle reasons',
            'Clock throttle reasons decoded from the NVML bitmask: thermal (0x20, 0x40) and power (0x4, 0x80).',
            [
              g.target('floor(DCGM_FI_DEV_CLOCK_THROTTLE_REASONS%s / 32) %% 4 > bool 0' % sel, 'thermal ' + gpuLegend),
              g.target('(floor(DCGM_FI_DEV_CLOCK_THROTTLE_REASONS%s / 4) %% 2) + (floor(DCGM_FI_DEV_CLOCK_THROTTLE_REASONS%s / 128) %% 2) > bool 0' % [sel, sel], 'power ' + gpuLegend),
            ],
            'short',
            w=8,
            min=0,
            max=1,
          ),
          g.timeseries(
            'Time throttled',
            'Share of time the clocks were held back, from the violation counters (nanoseconds).',
            [
              g.target('rate(DCGM_FI_DEV_THERMAL_VIOLATION%s[$__rate_interval]) / 1e9' % sel, 'thermal ' + gpuLegend),
              g.target('rate(DCGM_FI_DEV_POWER_VIOLATION%s[$__rate_interval]) / 1e9' % sel, 'power ' + gpuLegend),
            ],
            'percentunit',
            w=8,
            min=0,
          ),
        ],
        [
          g.timeseries(
            'Active remediations',
            "Overrides the gpuguard receiver holds (fan boosts, power caps), and whether its local failsafe is engaged because Alertmanager's heartbeat went silent.",
            [
              g.target('sum by (action) (gpuguard_actions_overrides_active{%s})' % cfg.receiverSelector, '{{action}}'),
              g.target('max(gpuguard_actions_failsafe_active{%s})' % cfg.receiverSelector, 'failsafe'),
            ],
            'short',
            w=8,
            min=0,
          ),
          g.timeseries(
            'Remediation actions',
            'What the gpuguard receiver did, by action and result (applied, restored, killed, refused reasons, failed).',
            [g.target('sum by (action, result) (increase(gpuguard_actions_total{%s}[$__rate_interval]))' % cfg.receiverSelector, '{{action}} {{result}}')],
            'short',
            w=8,
            min=0,
          ),
          g.table(
            'Firing GPU alerts',
            'GPU alerts firing now on the selected nodes.',
            [g.target('ALERTS{alertstate="firing", alertname=~"GPU.+", %s=~"$host"}' % host, '', instant=true)],
            w=8,
          ),
        ],
      ],
      'ALERTS{alertstate="firing", alertname=~"GPU.+", %s=~"$host"}' % host,
    ),

    'gpuguard-fleet.json': g.dashboard(
      cfg,
      cfg.dashboardUids.fleet,
      'GPU Fleet',
      "Every node's GPUs at a glance, hottest first: temperature, memory, utilization, power and XID errors.",
      [hostVar],
      [
        [
          g.stat('GPUs', 'GPUs reporting a temperature.', [g.target('count(DCGM_FI_DEV_GPU_TEMP%s)' % hostSel, '', instant=true)], 'short'),
          g.stat('Hottest GPU', 'The highest core temperature in the fleet.', [g.target('max(DCGM_FI_DEV_GPU_TEMP%s)' % hostSel, '', instant=true)], 'celsius', steps=tempSteps),
          g.stat('Fleet power', 'Power drawn by all selected GPUs.', [g.target('sum(DCGM_FI_DEV_POWER_USAGE%s)' % hostSel, '', instant=true)], 'watt'),
          g.stat('GPU alerts firing', 'GPU alerts firing in the fleet.', [g.target('count(ALERTS{alertstate="firing", alertname=~"GPU.+"}) or vector(0)', '', instant=true)], 'short', steps=g.steps([[1, 'red']])),
        ],
        [
          g.bargauge(
            'Hottest GPUs',
            'Every GPU of the selected nodes, hottest first.',
            [g.target('sort_desc(DCGM_FI_DEV_GPU_TEMP%s)' % hostSel, gpuLegend, instant=true)],
            'celsius',
            h=12,
            min=20,
            max=100,
            steps=tempSteps,
          ),
          g.bargauge(
            'Framebuffer used',
            'Share of each GPU memory in use, fullest first.',
            [g.target('sort_desc(DCGM_FI_DEV_FB_USED{%s=~"$host"} / (DCGM_FI_DEV_FB_USED{%s=~"$host"} + DCGM_FI_DEV_FB_FREE{%s=~"$host"}))' % [host, host, host], gpuLegend, instant=true)],
            'percentunit',
            h=12,
            min=0,
            max=1,
            steps=g.steps([[t.framebufferFullRatio, 'red']]),
          ),
        ],
        [
          g.timeseries(
            'Hottest GPU per node',
            'The highest core temperature on each node.',
            [g.target('max by (%s) (DCGM_FI_DEV_GPU_TEMP%s)' % [host, hostSel], '{{%s}}' % host)],
            'celsius',
            steps=tempSteps,
          ),
          g.timeseries(
            'GPU utilization',
            'Share of time each GPU was busy.',
            [g.target('DCGM_FI_DEV_GPU_UTIL' + hostSel, gpuLegend)],
            'percent',
            min=0,
            max=100,
          ),
        ],
        [
          g.timeseries(
            'Power draw per node',
            'Power drawn by the GPUs of each node.',
            [g.target('sum by (%s) (DCGM_FI_DEV_POWER_USAGE%s)' % [host, hostSel], '{{%s}}' % host)],
            'watt',
            min=0,
          ),
          g.timeseries(
            'XID errors',
            'XID errors the driver reported: the last XID per GPU (DCGM) and XIDs by code since the exporter started (gpuguard).',
            [
              g.target('DCGM_FI_DEV_XID_ERRORS%s > 0' % hostSel, 'last XID ' + gpuLegend),
              // A counter born with its first XID: `increase` would miss that one, the count does not.
              g.target('gpuguard_xid_errors_total' + hostSel, 'XID {{xid}} count ' + gpuLegend),
            ],
            'short',
            min=0,
          ),
        ],
      ],
      'ALERTS{alertstate="firing", alertname=~"GPU.+", %s=~"$host"}' % host,
    ),
  },
}
