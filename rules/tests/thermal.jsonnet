// promtool unit tests of the thermal group: the Temperature Guardian (75 °C on the seed boards, the
// thermal margin on the H100), the fan-boost warning tier with its hysteresis, memory temperature,
// thermal throttling and fan failure. Per-board limits and the predictive power cap: limits.jsonnet.
local t = import 'lib.libsonnet';

local rtx5090 = t.gpu('node-1', 0, t.rtx5090, 'GPU-5090-0000');
local rtxPro = t.gpu('node-1', 1, t.rtxPro6000, 'GPU-6000-0001');
local h100 = t.gpu('dgx-1', 3, t.h100, 'GPU-H100-0003');
local h100Other = t.gpu('dgx-1', 4, t.h100, 'GPU-H100-0004');

// The seed's boards are named models: 70/75 °C "set for <model> in the policy".
local named(labels) = 'set for %s in the policy' % labels.modelName;
local high(labels, celsius, limit, source='model', why=named(labels)) = t.fired(
  labels { severity: 'warning', gpuguard_action: 'fan_boost', limit_source: source },
  'GPU temperature is approaching its critical limit.',
  'GPU %s (%s) on %s is at %s °C, at or above its %s °C warning limit (%s): fans go to maximum (power capped where there are no fans).' % [labels.gpu, labels.modelName, labels.Hostname, celsius, limit, why],
  'GPUTemperatureHigh',
);
local critical(labels, celsius, limit, source='model', why=named(labels)) = t.fired(
  labels { severity: 'critical', gpuguard_action: 'kill_workloads', limit_source: source },
  'GPU temperature is at its critical limit.',
  'GPU %s (%s) on %s is at %s °C, at or above its %s °C critical limit (%s): its workloads are killed and fans go to maximum (power capped where there are no fans).' % [labels.gpu, labels.modelName, labels.Hostname, celsius, limit, why],
  'GPUTemperatureCritical',
);

{
  rule_files: ['../gpuguard.rules.yml'],
  evaluation_interval: '1s',
  tests: [
    {
      // RTX 5090: 60 °C, then 70 (warning), 75 (critical), back to 70, then cooled to 60.
      name: 'RTX 5090 warms through both tiers and cools down',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', rtx5090, '60x9 70x9 75x9 70x9 60x99'),
      ],
      alert_rule_test:
        t.at('GPUTemperatureHigh', ['9s', '12s'], [])
        + t.at('GPUTemperatureHigh', ['13s', '19s'], [high(rtx5090, '70', '70')])
        + t.at('GPUTemperatureHigh', ['22s', '29s'], [high(rtx5090, '75', '70')])
        + t.at('GPUTemperatureHigh', ['31s'], [high(rtx5090, '70', '70')])
        // Hysteresis: cooled below the limit at 40 s, still firing for keep_firing_for (1 m).
        + t.at('GPUTemperatureHigh', ['45s', '98s'], [high(rtx5090, '70', '70')])
        + t.at('GPUTemperatureHigh', ['101s', '130s'], [])
        + t.at('GPUTemperatureCritical', ['9s', '19s', '21s'], [])
        + t.at('GPUTemperatureCritical', ['22s', '29s'], [critical(rtx5090, '75', '75')])
        + t.at('GPUTemperatureCritical', ['30s', '31s', '45s'], []),
    },
    {
      // The fan boost cools the GPU a little below the warning limit and it warms up again: the
      // alert must not flap (no resolve in between), so the fans are not handed back to the driver.
      name: 'warning tier does not flap while a fan boost holds the GPU around its limit',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', rtxPro, '60x4 71x9 67x19 70x9 66x29 71x9 60x99'),
      ],
      alert_rule_test:
        t.at('GPUTemperatureHigh', ['8s'], [high(rtxPro, '71', '70')])
        + t.at('GPUTemperatureHigh', ['20s', '34s'], [high(rtxPro, '71', '70')])
        + t.at('GPUTemperatureHigh', ['40s', '50s', '70s'], [high(rtxPro, '70', '70')])
        + t.at('GPUTemperatureHigh', ['80s', '130s'], [high(rtxPro, '71', '70')])
        + t.at('GPUTemperatureHigh', ['150s'], []),
    },
    {
      // The seed's second board shares the seed's 75 °C limit.
      name: 'RTX PRO 6000 is killed at 75 °C, not at 74 °C',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', rtxPro, '74x19 75x9 74x9'),
      ],
      alert_rule_test:
        t.at('GPUTemperatureCritical', ['19s', '21s'], [])
        + t.at('GPUTemperatureCritical', ['22s', '29s'], [critical(rtxPro, '75', '75')])
        + t.at('GPUTemperatureCritical', ['30s'], []),
    },
    {
      // The H100 is no named model: its limits follow its thermal margin (warning at <= 10 °C,
      // critical at <= 3 °C), here measured against 87 °C, so 75-83 °C is not killed there.
      name: 'H100 takes its limits from its thermal margin',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', h100, '75x9 80x9 84x9 85x9'),
        t.series('DCGM_FI_DEV_GPU_TEMP_LIMIT', h100, '12x9 7x9 3x9 2x9'),
        t.series('DCGM_FI_DEV_GPU_TEMP', h100Other, '79x39'),
        t.series('DCGM_FI_DEV_GPU_TEMP_LIMIT', h100Other, '12x39'),
      ],
      local margin(tier) = '%d °C of thermal margin to slowdown or less' % { warning: 10, critical: 3 }[tier],
      alert_rule_test:
        t.at('GPUTemperatureHigh', ['9s', '12s'], [])
        + t.at('GPUTemperatureHigh', ['13s'], [high(h100, '80', '77', 'margin', margin('warning'))])
        + t.at('GPUTemperatureCritical', ['9s', '19s', '21s'], [])
        + t.at('GPUTemperatureCritical', ['22s', '29s'], [critical(h100, '84', '84', 'margin', margin('critical'))])
        + t.at('GPUTemperatureCritical', ['32s', '39s'], [critical(h100, '85', '84', 'margin', margin('critical'))]),
    },
    {
      // A GPU shared by two pods (time-slicing): the fast job has a series per pod, the normal job
      // (scraped less often) still names only the first. Each series gets the board's limit.
      name: 'thresholds reach every pod series of their GPU',
      interval: '1s',
      local ada = t.gpu('node-9', 0, 'NVIDIA GeForce RTX 4080 SUPER', 'GPU-4080-0000'),
      local podA = ada { exported_namespace: 'ml', exported_pod: 'train-a', exported_container: 'main' },
      local podB = ada { exported_namespace: 'ml', exported_pod: 'train-b', exported_container: 'main' },
      local normal(labels) = labels { job: 'gpuguard' },
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', podA, '60x20'),
        t.series('DCGM_FI_DEV_GPU_TEMP', podB, '60x20'),
        t.series('DCGM_FI_DEV_SLOWDOWN_TEMP', normal(podA), '96x20'),
        t.series('DCGM_FI_DEV_GPU_MAX_OP_TEMP', normal(podA), '90x20'),
      ],
      local limit(labels) = {
        labels: 'gpu:DCGM_FI_DEV_GPU_TEMP:critical_limit{%s}' % std.join(', ', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)]),
        value: 87,
      },
      promql_expr_test: [{
        expr: 'gpu:DCGM_FI_DEV_GPU_TEMP:critical_limit',
        eval_time: '10s',
        exp_samples: [limit(podA { limit_source: 'max_operating' }), limit(podB { limit_source: 'max_operating' })],
      }],
    },
    {
      // The board reports its slowdown temperature from the normal job; a sentinel 0 never matches.
      name: 'near the slowdown temperature the power is capped',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', rtx5090, '80x9 82x9 81x9'),
        t.series('DCGM_FI_DEV_SLOWDOWN_TEMP', rtx5090 { job: 'gpuguard' }, '87x29'),
        t.series('DCGM_FI_DEV_GPU_TEMP', rtxPro, '95x29'),
        t.series('DCGM_FI_DEV_SLOWDOWN_TEMP', rtxPro { job: 'gpuguard' }, '0x29'),
      ],
      alert_rule_test:
        t.at('GPUTemperatureNearSlowdown', ['9s', '11s'], [])
        + t.at('GPUTemperatureNearSlowdown', ['12s', '19s'], [t.fired(
          t.without(rtx5090, ['job']) { severity: 'critical', gpuguard_action: 'power_cap' },
          'GPU temperature is close to the slowdown temperature of the board.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 is at 82 °C, within 5 °C of the temperature at which the driver slows it down: its power is capped.',
          'GPUTemperatureNearSlowdown',
        )])
        + t.at('GPUTemperatureNearSlowdown', ['20s'], []),
    },
    {
      // HBM on the H100; GDDR boards report 0 and a broken sensor DCGM's blank sentinel.
      name: 'memory temperature tiers, sentinel-safe',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_MEMORY_TEMP', h100, '80x9 85x9 95x9 70x99'),
        t.series('DCGM_FI_DEV_MEMORY_TEMP', rtx5090, '0x129'),
        t.series('DCGM_FI_DEV_MEMORY_TEMP', rtxPro, '2147483647x129'),
      ],
      local memHigh(celsius) = t.fired(
        h100 { severity: 'warning', gpuguard_action: 'fan_boost' },
        'GPU memory temperature is high.',
        'The memory of GPU 3 (NVIDIA H100 80GB HBM3) on dgx-1 is at %s °C, at or above its 85 °C warning limit: fans go to maximum (power capped where there are no fans).' % celsius,
        'GPUMemoryTemperatureHigh',
      ),
      alert_rule_test:
        t.at('GPUMemoryTemperatureHigh', ['9s', '14s'], [])
        + t.at('GPUMemoryTemperatureHigh', ['15s'], [memHigh('85')])
        + t.at('GPUMemoryTemperatureHigh', ['29s', '60s', '88s'], [memHigh('95')])
        + t.at('GPUMemoryTemperatureHigh', ['91s'], [])
        + t.at('GPUMemoryTemperatureCritical', ['24s'], [])
        + t.at('GPUMemoryTemperatureCritical', ['25s', '29s'], [t.fired(
          h100 { severity: 'critical', gpuguard_action: 'kill_workloads' },
          'GPU memory temperature is at its critical limit.',
          'The memory of GPU 3 (NVIDIA H100 80GB HBM3) on dgx-1 is at 95 °C, at or above its 95 °C critical limit: its workloads are killed and fans go to maximum (power capped where there are no fans).',
          'GPUMemoryTemperatureCritical',
        )])
        + t.at('GPUMemoryTemperatureCritical', ['30s'], []),
    },
    {
      // NVML clock throttle reasons: 0x4 software power cap (not thermal), 0x20 software thermal
      // slowdown, 0x40 hardware thermal slowdown (here with 0x4), 0x1 idle.
      name: 'thermal throttling from the throttle reasons bitmask',
      interval: '1s',
      input_series: [
        t.series('DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', rtx5090, '0x9 4x9 32x9 0x9 68x9 1x9'),
      ],
      local throttling = t.fired(
        rtx5090 { severity: 'warning', gpuguard_action: 'fan_boost' },
        'GPU clocks are throttled for heat.',
        'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 slows its clocks down because it is too hot (throttle reasons bits 0x20/0x40): fans go to maximum (power capped where there are no fans).',
        'GPUThermalThrottling',
      ),
      alert_rule_test:
        t.at('GPUThermalThrottling', ['19s', '24s'], [])
        + t.at('GPUThermalThrottling', ['25s', '29s'], [throttling])
        + t.at('GPUThermalThrottling', ['31s', '44s'], [])
        + t.at('GPUThermalThrottling', ['45s', '49s'], [throttling])
        + t.at('GPUThermalThrottling', ['51s'], []),
    },
    {
      // A fan spinning up after a boost lags its target for a few seconds (no alert); a failed one
      // stays behind (alert after 30 s).
      name: 'fan failure, not a fan spinning up',
      interval: '1s',
      input_series: [
        t.series('gpuguard_fan_target_percent', rtx5090 { fan: '0' }, '30x9 100x89'),
        t.series('gpuguard_fan_speed_percent', rtx5090 { fan: '0' }, '30x9 40 55 70 85 100x84'),
        t.series('gpuguard_fan_target_percent', rtxPro { fan: '0' }, '100x99'),
        t.series('gpuguard_fan_speed_percent', rtxPro { fan: '0' }, '100x19 0x79'),
      ],
      alert_rule_test:
        t.at('GPUFanFailure', ['12s', '49s'], [])
        + t.at('GPUFanFailure', ['50s', '99s'], [t.fired(
          rtxPro { fan: '0', severity: 'critical', gpuguard_action: 'power_cap' },
          'GPU fan does not follow its target speed.',
          'Fan 0 of GPU 1 (NVIDIA RTX PRO 6000 Blackwell Workstation Edition) on node-1 runs 100 % below its target speed: it has failed or is blocked, so the GPU power is capped.',
          'GPUFanFailure',
        )]),
    },
  ],
}
