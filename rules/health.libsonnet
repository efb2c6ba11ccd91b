// Health: is the thermal policy able to see the GPUs and act on them at all? A rule set that only
// reads DCGM metrics silently never fires when those metrics stop arriving; these rules make that
// silence loud.
local lib = import 'lib.libsonnet';

{
  // A counter that grew in `window`, including one born inside it above zero (its first sample
  // already counts an event, which `increase` alone would miss).
  local grewIn(series, window) =
    '(increase(%s[%s]) > 0)\nor\n((%s > 0) unless %s offset %s)' % [series, window, series, series, window],

  healthGroup(cfg):: {
    local thermal = cfg.thermalSelector,
    local exporter = cfg.exporterSelector,
    local receiver = cfg.receiverSelector,
    local d = cfg.durations,
    local gpuLabels = std.join(', ', cfg.gpuLabels),
    local xids(list) = std.join('|', [std.toString(x) for x in list]),

    name: 'gpuguard-health',
    interval: cfg.intervals.evaluation,
    rules: [
      lib.alert(
        cfg,
        'GPUExporterDown',
        'up%s == 0' % lib.selector([exporter]),
        'critical',
        'GPU exporter is down: the thermal policy is blind on its node.',
        'Prometheus cannot scrape the GPU exporter {{ $labels.instance }}: no temperature reaches the rules, so no GPU of that node is protected.',
        forDuration=d.exporterDownFor,
      ),
      lib.alert(
        cfg,
        'GPUMetricsAbsent',
        'group by (instance) (up%s == 1)\nunless on (instance)\ngroup by (instance) (DCGM_FI_DEV_GPU_TEMP%s)' % [
          lib.selector([exporter]),
          lib.selector([thermal]),
        ],
        'critical',
        'GPU exporter answers but no GPU temperature reaches the thermal rules.',
        'The exporter {{ $labels.instance }} is up, yet Prometheus has no DCGM_FI_DEV_GPU_TEMP from it (fast job %s): the thermal alerts cannot fire for its GPUs.' % cfg.thermalJobName,
        forDuration=d.metricsAbsentFor,
      ),
      lib.alert(
        cfg,
        'GPUFellOffTheBus',
        // Three views of one failure: the exporter says so, the driver logged XID 79, or a GPU that
        // reported a temperature recently no longer does.
        'max by (%s) (\n  gpuguard_gpu_up%s == 0\n  or\n  %s\n  or\n  (last_over_time(DCGM_FI_DEV_GPU_TEMP%s[%s]) unless on (instance, UUID) DCGM_FI_DEV_GPU_TEMP%s)\n)' % [
          gpuLabels,
          lib.selector([exporter]),
          std.strReplace(grewIn('gpuguard_xid_errors_total%s' % lib.selector([exporter, 'xid=~"%s"' % xids(cfg.fellOffBusXids)]), d.xidWindow), '\n', '\n  '),
          lib.selector([thermal]),
          d.gpuLostWindow,
          lib.selector([thermal]),
        ],
        'critical',
        'GPU is lost: it no longer answers the driver.',
        '%s stopped answering (fallen off the bus, XID 79, or its metrics vanished): its workloads are gone and it needs a reset or a reboot.' % lib.gpuName(cfg),
        forDuration=d.gpuLostFor,
      ),
      lib.alert(
        cfg,
        'GPUXidCritical',
        grewIn('gpuguard_xid_errors_total%s' % lib.selector([exporter, 'xid=~"%s"' % xids(cfg.criticalXids)]), d.xidWindow),
        'critical',
        'GPU reported a critical XID error.',
        '%s reported XID {{ $labels.xid }} in the last %s: check the driver log; the GPU may need a reset or a replacement.' % [lib.gpuName(cfg), d.xidWindow],
      ),
      lib.alert(
        cfg,
        'GPUActionsReceiverDown',
        'up%s == 0' % lib.selector([receiver]),
        'critical',
        'GPU remediation receiver is down: alerts cannot cool or stop GPUs.',
        'Prometheus cannot scrape the gpuguard actions receiver {{ $labels.instance }}: fan boosts, power caps and workload kills on that node do not happen until it is back (its local failsafe runs only while it runs).',
        forDuration=d.receiverDownFor,
      ),
      lib.alert(
        cfg,
        'GPURemediationFailed',
        grewIn('gpuguard_actions_total%s' % lib.selector([receiver, 'result=~"failed|survivors"']), d.xidWindow),
        'critical',
        'GPU remediation failed.',
        'The gpuguard receiver {{ $labels.instance }} could not complete {{ $labels.action }} ({{ $labels.result }}) in the last %s: the GPU may still be overheating; read its audit log.' % d.xidWindow,
      ),
      lib.alert(
        cfg,
        'GPUActionsFailsafeActive',
        'gpuguard_actions_failsafe_active%s == 1' % lib.selector([receiver]),
        'warning',
        'GPU remediation receiver lost the Watchdog heartbeat and guards its node alone.',
        'The gpuguard receiver {{ $labels.instance }} has had no %s notification for over %g s and applies its local failsafe thresholds: check the path from Prometheus through Alertmanager to it.' % [cfg.heartbeat.alertname, cfg.heartbeat.timeoutSeconds],
      ),
      lib.alert(
        cfg,
        cfg.heartbeat.alertname,
        'vector(1)',
        'none',
        'Always firing: the heartbeat of the alerting pipeline.',
        'This alert always fires. The gpuguard receiver takes its repeated notifications as proof that Prometheus and Alertmanager work; when they stop for %g s it engages its local failsafe.' % cfg.heartbeat.timeoutSeconds,
        action='heartbeat',
      ),
    ],
  },
}
