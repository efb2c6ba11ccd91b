// promtool unit tests of the performance and capacity groups and the recording rules they use.
local t = import 'lib.libsonnet';

local gpu0 = t.gpu('node-1', 0, t.rtx5090, 'GPU-5090-0000', job='gpuguard');
local gpu1 = t.gpu('node-1', 1, t.rtxPro6000, 'GPU-6000-0001', job='gpuguard');

{
  rule_files: ['../gpuguard.rules.yml'],
  evaluation_interval: '15s',
  tests: [
    {
      // The violation counters count nanoseconds: +4.5e9 per 15 s is 30 % of the time throttled.
      // rate() over 5 m reaches that only once the series covers most of the window (~4 m), so
      // the alert fires after ~4 m + 15 m.
      name: 'power throttling sustained for 15 m; 10 % is normal',
      interval: '15s',
      input_series: [
        t.series('DCGM_FI_DEV_POWER_VIOLATION', gpu0, '0+4.5e9x100'),
        t.series('DCGM_FI_DEV_POWER_VIOLATION', gpu1, '0+1.5e9x100'),
      ],
      promql_expr_test: [{
        expr: 'gpu:DCGM_FI_DEV_POWER_VIOLATION:ratio_rate5m',
        eval_time: '10m',
        exp_samples: [{ labels: 'gpu:DCGM_FI_DEV_POWER_VIOLATION:ratio_rate5m' + t.series('', gpu0, '').series, value: 0.3 }, { labels: 'gpu:DCGM_FI_DEV_POWER_VIOLATION:ratio_rate5m' + t.series('', gpu1, '').series, value: 0.1 }],
      }],
      alert_rule_test:
        t.at('GPUPowerThrottling', ['18m'], [])
        + t.at('GPUPowerThrottling', ['20m', '25m'], [t.fired(
          gpu0 { severity: 'warning' },
          'GPU clocks are held back by its power limit.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 spent 30% of the last 5 minutes throttled by its power limit.',
          'GPUPowerThrottling',
        )]),
    },
    {
      name: 'thermal throttling sustained for 15 m; 2 % is not',
      interval: '15s',
      input_series: [
        t.series('DCGM_FI_DEV_THERMAL_VIOLATION', gpu0, '0+0.9e9x100'),
        t.series('DCGM_FI_DEV_THERMAL_VIOLATION', gpu1, '0+0.3e9x100'),
      ],
      alert_rule_test:
        t.at('GPUThermalThrottlingSustained', ['18m'], [])
        + t.at('GPUThermalThrottlingSustained', ['20m', '25m'], [t.fired(
          gpu0 { severity: 'warning' },
          'GPU clocks are held back by heat for a long time.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 spent 6% of the last 5 minutes throttled for heat: check its airflow and the room.',
          'GPUThermalThrottlingSustained',
        )]),
    },
    {
      // gpu0 drops to 1000 MHz while 95 % busy; gpu1 drops as far but idles.
      name: 'low clocks under load',
      interval: '1m',
      input_series: [
        t.series('DCGM_FI_DEV_SM_CLOCK', gpu0, '2500x9 1000x40'),
        t.series('DCGM_FI_DEV_GPU_UTIL', gpu0, '95x49'),
        t.series('DCGM_FI_DEV_SM_CLOCK', gpu1, '2500x9 1000x40'),
        t.series('DCGM_FI_DEV_GPU_UTIL', gpu1, '95x9 5x40'),
      ],
      alert_rule_test:
        t.at('GPUClocksLowUnderLoad', ['9m', '24m'], [])
        + t.at('GPUClocksLowUnderLoad', ['26m', '45m'], [t.fired(
          gpu0 { severity: 'warning' },
          'GPU runs busy at low clocks.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 is over 80 % busy at 1000 MHz, below 0.5 of its highest SM clock of the last 6 hours.',
          'GPUClocksLowUnderLoad',
        )]),
    },
    {
      // 32 GB board: 31000 MiB used, 600 MiB free is 98.1 %; 20000 used is not nearly full.
      name: 'framebuffer nearly full for 15 m',
      interval: '1m',
      input_series: [
        t.series('DCGM_FI_DEV_FB_USED', gpu0, '1000x4 31000x30'),
        t.series('DCGM_FI_DEV_FB_FREE', gpu0, '30600x4 600x30'),
        t.series('DCGM_FI_DEV_FB_USED', gpu1, '20000x34'),
        t.series('DCGM_FI_DEV_FB_FREE', gpu1, '77000x34'),
      ],
      alert_rule_test:
        t.at('GPUFramebufferNearlyFull', ['19m'], [])
        + t.at('GPUFramebufferNearlyFull', ['21m', '30m'], [t.fired(
          gpu0 { severity: 'warning' },
          'GPU memory is nearly full.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 has 98.1% of its framebuffer in use: new allocations will fail.',
          'GPUFramebufferNearlyFull',
        )]),
    },
    {
      // 570 W of an enforced 575 W; the other board draws 300 W of 600 W.
      name: 'power at its limit for 15 m',
      interval: '1m',
      input_series: [
        t.series('DCGM_FI_DEV_POWER_USAGE', gpu0, '570x30'),
        t.series('DCGM_FI_DEV_ENFORCED_POWER_LIMIT', gpu0, '575x30'),
        t.series('DCGM_FI_DEV_POWER_USAGE', gpu1, '300x30'),
        t.series('DCGM_FI_DEV_ENFORCED_POWER_LIMIT', gpu1, '600x30'),
      ],
      alert_rule_test:
        t.at('GPUPowerAtLimit', ['14m'], [])
        + t.at('GPUPowerAtLimit', ['16m', '30m'], [t.fired(
          gpu0 { severity: 'info' },
          'GPU draws its full power limit.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 draws 99.13% of its enforced power limit: it cannot go faster without more power.',
          'GPUPowerAtLimit',
        )]),
    },
  ],
}
