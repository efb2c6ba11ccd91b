// The route tree: remediation alerts to the gpuguard receiver, fast and per GPU; every alert but
// the Watchdog to people as well.
{
  alertmanagerConfig(cfg):: {
    local remediationActions = ['fan_boost', 'power_cap', 'kill_workloads'],
    local r = cfg.remediation,

    route: {
      receiver: cfg.peopleReceiverName,
      group_by: cfg.people.groupBy,
      group_wait: cfg.people.groupWait,
      group_interval: cfg.people.groupInterval,
      repeat_interval: cfg.people.repeatInterval,
      routes: [
        {
          // The heartbeat: the receiver only, on a cadence well inside its failsafe timeout.
          receiver: cfg.receiverName,
          matchers: ['alertname="%s"' % cfg.heartbeat.alertname],
          group_by: ['alertname'],
          group_wait: '0s',
          group_interval: '1s',
          repeat_interval: cfg.heartbeat.repeatInterval,
        },
        {
          // Remediation: one group per GPU so a GPU's alerts travel together, sent at once, and
          // repeated before the receiver's lease on an override runs out.
          receiver: cfg.receiverName,
          matchers: ['gpuguard_action=~"%s"' % std.join('|', remediationActions)],
          group_by: cfg.gpuGroupLabels,
          group_wait: r.groupWait,
          group_interval: r.groupInterval,
          repeat_interval: r.repeatInterval,
          continue: true,
        },
        {
          // `continue: true` above never falls back to the root receiver: people get every alert
          // that reaches this far through this explicit catch-all.
          receiver: cfg.peopleReceiverName,
        },
      ],
    },

    inhibit_rules: [
      {
        // The critical tier kills workloads and boosts fans: the warning tier of the same GPU
        // (which only boosts fans) adds nothing.
        source_matchers: ['alertname=~"GPUTemperatureCritical|GPUMemoryTemperatureCritical"'],
        target_matchers: ['alertname=~"GPUTemperatureHigh|GPUMemoryTemperatureHigh|GPUThermalThrottling"'],
        equal: cfg.gpuGroupLabels,
      },
      {
        // A node whose exporter is down loses every GPU series: report the one cause, not the
        // symptoms. Every GPU series of a node carries the exporter's `instance`.
        source_matchers: ['alertname="GPUExporterDown"'],
        target_matchers: ['alertname=~"GPU.+"', 'alertname!="GPUExporterDown"'],
        equal: ['instance'],
      },
    ],

    receivers: [
      {
        name: cfg.receiverName,
        webhook_configs: [{
          url: cfg.receiverUrl,
          send_resolved: true,
          max_alerts: 0,
          http_config: {
            authorization: { type: 'Bearer', credentials_file: cfg.receiverCredentialsFile },
          },
        }],
      },
      {
        // Placeholder: wire email, chat or paging here.
        name: cfg.peopleReceiverName,
      },
    ],
  },
}
