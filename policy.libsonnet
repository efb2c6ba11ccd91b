// The receiver's default policy (actions/policy.yml; schema in docs/contracts.md): what each
// gpuguard_action does, and the failsafe thresholds, the same as the alerting rules use.
local lib = import 'rules/lib.libsonnet';

{
  actionsPolicy(cfg):: {
    local p = cfg.policy,
    local defaults = lib.thresholdsFor(cfg, null),
    local fanBoost = { action: 'fan_boost', speed_percent: p.fanSpeedPercent, no_fans: 'power_cap' },

    version: 1,
    host_label: cfg.hostLabel,
    lease_seconds: cfg.remediation.leaseSeconds,
    heartbeat: {
      alertname: cfg.heartbeat.alertname,
      timeout_seconds: cfg.heartbeat.timeoutSeconds,
    },
    failsafe: {
      poll_interval_seconds: p.failsafePollIntervalSeconds,
      warning_celsius: defaults.warningCelsius,
      critical_celsius: defaults.criticalCelsius,
      models: {
        [model]: {
          local t = lib.thresholdsFor(cfg, model),
          warning_celsius: t.warningCelsius,
          critical_celsius: t.criticalCelsius,
        }
        for model in std.objectFields(cfg.modelThresholds)
      },
    },
    actions: {
      fan_boost: [fanBoost],
      power_cap: [{ action: 'power_cap', fraction_of_default: p.powerCapFraction }],
      kill_workloads: [fanBoost, { action: 'kill_workloads', grace_seconds: p.killGraceSeconds }],
    },
    fallback_power_cap: { fraction_of_default: p.powerCapFraction },
    protected: {
      process_names: p.protectedProcessNames,
      users: p.protectedUsers,
      cgroups: p.protectedCgroups,
    },
    limits: { kills_per_minute: p.killsPerMinute },
  },
}
