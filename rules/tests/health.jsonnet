// promtool unit tests of the health group: the exporter, the GPUs and the receiver are there,
// and the Watchdog always fires.
local t = import 'lib.libsonnet';

local gpu0 = t.gpu('node-1', 0, t.rtx5090, 'GPU-5090-0000', job='gpuguard');
local gpu1 = t.gpu('node-1', 1, t.rtxPro6000, 'GPU-6000-0001', job='gpuguard');
local gpu0Thermal = gpu0 { job: 'gpuguard-thermal' };
local gpu1Thermal = gpu1 { job: 'gpuguard-thermal' };
local lostLabels(g) = {
  instance: g.instance,
  Hostname: g.Hostname,
  gpu: g.gpu,
  UUID: g.UUID,
  modelName: g.modelName,
  severity: 'critical',
};
local lost(g) = t.fired(
  lostLabels(g),
  'GPU is lost: it no longer answers the driver.',
  'GPU %s (%s) on %s stopped answering (fallen off the bus, XID 79, or its metrics vanished): its workloads are gone and it needs a reset or a reboot.' % [g.gpu, g.modelName, g.Hostname],
  'GPUFellOffTheBus',
);
local receiver = { job: 'gpuguard-actions', instance: 'node-1:9401' };

{
  rule_files: ['../gpuguard.rules.yml'],
  evaluation_interval: '15s',
  tests: [
    {
      name: 'exporter down for 30 s; the fast job alone does not count',
      interval: '15s',
      input_series: [
        t.series('up', { job: 'gpuguard', instance: 'node-1:9400' }, '1 1 0 0 0 0 1 1'),
        t.series('up', { job: 'gpuguard-thermal', instance: 'node-2:9400' }, '0x7'),
      ],
      alert_rule_test:
        t.at('GPUExporterDown', ['15s', '45s'], [])
        + t.at('GPUExporterDown', ['60s', '75s'], [t.fired(
          { job: 'gpuguard', instance: 'node-1:9400', severity: 'critical' },
          'GPU exporter is down: the thermal policy is blind on its node.',
          'Prometheus cannot scrape the GPU exporter node-1:9400: no temperature reaches the rules, so no GPU of that node is protected.',
          'GPUExporterDown',
        )])
        + t.at('GPUExporterDown', ['90s'], []),
    },
    {
      // node-1's temperatures stop reaching Prometheus while its exporter answers; node-2 is fine.
      name: 'GPU metrics absent while the exporter is up',
      interval: '15s',
      input_series: [
        t.series('up', { job: 'gpuguard', instance: 'node-1:9400' }, '1x20'),
        t.series('up', { job: 'gpuguard', instance: 'node-2:9400' }, '1x20'),
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu0Thermal, '50x3 stale'),
        t.series('DCGM_FI_DEV_GPU_TEMP', t.gpu('node-2', 0, t.rtx5090, 'GPU-5090-2000'), '50x20'),
      ],
      alert_rule_test:
        t.at('GPUMetricsAbsent', ['45s', '105s'], [])
        + t.at('GPUMetricsAbsent', ['120s', '300s'], [t.fired(
          { instance: 'node-1:9400', severity: 'critical' },
          'GPU exporter answers but no GPU temperature reaches the thermal rules.',
          'The exporter node-1:9400 is up, yet Prometheus has no DCGM_FI_DEV_GPU_TEMP from it (fast job gpuguard-thermal): the thermal alerts cannot fire for its GPUs.',
          'GPUMetricsAbsent',
        )]),
    },
    {
      name: 'GPU fell off the bus: the exporter says the GPU is gone',
      interval: '15s',
      input_series: [
        t.series('gpuguard_gpu_up', gpu0, '1 1 0 0 0 1'),
        t.series('gpuguard_gpu_up', gpu1, '1x5'),
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu0Thermal, '50x5'),
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu1Thermal, '50x5'),
      ],
      alert_rule_test:
        t.at('GPUFellOffTheBus', ['15s', '30s'], [])
        + t.at('GPUFellOffTheBus', ['45s', '60s'], [lost(gpu0)])
        + t.at('GPUFellOffTheBus', ['75s'], []),
    },
    {
      // A counter born at 1 (the exporter creates the series with the first XID) still counts.
      name: 'GPU fell off the bus: XID 79',
      interval: '15s',
      input_series: [
        t.series('gpuguard_xid_errors_total', gpu1 { xid: '79' }, '_ _ 1x60'),
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu1Thermal, '50x62'),
      ],
      alert_rule_test:
        t.at('GPUFellOffTheBus', ['30s'], [])
        + t.at('GPUFellOffTheBus', ['45s', '600s'], [lost(gpu1)])
        + t.at('GPUFellOffTheBus', ['660s'], []),
    },
    {
      // dcgm-exporter drops a lost GPU's series: a GPU that reported recently and no longer does.
      name: 'GPU fell off the bus: its series vanished',
      interval: '15s',
      input_series: [
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu0Thermal, '50x3 stale'),
        t.series('DCGM_FI_DEV_GPU_TEMP', gpu1Thermal, '50x60'),
      ],
      alert_rule_test:
        t.at('GPUFellOffTheBus', ['45s', '60s'], [])
        + t.at('GPUFellOffTheBus', ['75s', '600s'], [lost(gpu0)])
        + t.at('GPUFellOffTheBus', ['690s'], []),
    },
    {
      // 48 (double-bit ECC) is critical, 13 (graphics engine exception: an application bug) is not.
      name: 'critical XIDs, existing and new counters',
      interval: '15s',
      input_series: [
        t.series('gpuguard_xid_errors_total', gpu0 { xid: '48' }, '0 0 1x60'),
        t.series('gpuguard_xid_errors_total', gpu0 { xid: '13' }, '0 0 1 2 3x60'),
        t.series('gpuguard_xid_errors_total', gpu1 { xid: '94' }, '0x60'),
      ],
      alert_rule_test:
        t.at('GPUXidCritical', ['0s', '15s'], [])
        + t.at('GPUXidCritical', ['30s', '600s'], [t.fired(
          gpu0 { xid: '48', severity: 'critical' },
          'GPU reported a critical XID error.',
          'GPU 0 (NVIDIA GeForce RTX 5090) on node-1 reported XID 48 in the last 10m: check the driver log; the GPU may need a reset or a replacement.',
          'GPUXidCritical',
        )])
        + t.at('GPUXidCritical', ['645s'], []),
    },
    {
      name: 'receiver down for 1 m',
      interval: '15s',
      input_series: [
        t.series('up', receiver, '1 0 0 0 0 0 1'),
      ],
      alert_rule_test:
        t.at('GPUActionsReceiverDown', ['0s', '60s'], [])
        + t.at('GPUActionsReceiverDown', ['75s'], [t.fired(
          receiver { severity: 'critical' },
          'GPU remediation receiver is down: alerts cannot cool or stop GPUs.',
          'Prometheus cannot scrape the gpuguard actions receiver node-1:9401: fan boosts, power caps and workload kills on that node do not happen until it is back (its local failsafe runs only while it runs).',
          'GPUActionsReceiverDown',
        )])
        + t.at('GPUActionsReceiverDown', ['90s'], []),
    },
    {
      name: 'remediation failed; successful kills are not failures',
      interval: '15s',
      input_series: [
        t.series('gpuguard_actions_total', receiver { action: 'kill_workloads', result: 'failed' }, '_ _ 1x60'),
        t.series('gpuguard_actions_total', receiver { action: 'kill_workloads', result: 'killed' }, '0 1 2 3x60'),
        t.series('gpuguard_actions_total', receiver { action: 'fan_boost', result: 'failed' }, '0x60'),
      ],
      alert_rule_test:
        t.at('GPURemediationFailed', ['15s'], [])
        + t.at('GPURemediationFailed', ['30s', '600s'], [t.fired(
          receiver { action: 'kill_workloads', result: 'failed', severity: 'critical' },
          'GPU remediation failed.',
          'The gpuguard receiver node-1:9401 could not complete kill_workloads (failed) in the last 10m: the GPU may still be overheating; read its audit log.',
          'GPURemediationFailed',
        )])
        + t.at('GPURemediationFailed', ['660s'], []),
    },
    {
      name: 'receiver failsafe engaged',
      interval: '15s',
      input_series: [
        t.series('gpuguard_actions_failsafe_active', receiver, '0 0 1 1 0'),
      ],
      alert_rule_test:
        t.at('GPUActionsFailsafeActive', ['15s', '60s'], [])
        + t.at('GPUActionsFailsafeActive', ['30s', '45s'], [t.fired(
          receiver { severity: 'warning' },
          'GPU remediation receiver lost the Watchdog heartbeat and guards its node alone.',
          'The gpuguard receiver node-1:9401 has had no Watchdog notification for over 30 s and applies its local failsafe thresholds: check the path from Prometheus through Alertmanager to it.',
          'GPUActionsFailsafeActive',
        )]),
    },
    {
      name: 'the Watchdog always fires, with no data at all',
      alert_rule_test: t.at('Watchdog', ['0s', '1h'], [t.fired(
        { severity: 'none', gpuguard_action: 'heartbeat' },
        'Always firing: the heartbeat of the alerting pipeline.',
        'This alert always fires. The gpuguard receiver takes its repeated notifications as proof that Prometheus and Alertmanager work; when they stop for 30 s it engages its local failsafe.',
        'Watchdog',
      )]),
    },
  ],
}
