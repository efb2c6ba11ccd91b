// The receiver's default policy (actions/policy.yml; schema in docs/contracts.md): what each
// gpuguard_action does, and the per-board temperature limits, the same as the alerting rules use.
local lib = import 'rules/lib.libsonnet';

{
  actionsPolicy(cfg):: {
    local p = cfg.policy,
    local l = cfg.temperatureLimits,
    local models = lib.modelLimits(cfg),
    local absolute(t) = { warning_celsius: t.warningCelsius, critical_celsius: t.criticalCelsius },
    local fanBoost = { action: 'fan_boost', speed_percent: p.fanSpeedPercent, no_fans: 'power_cap' },

    version: 1,
    host_label: cfg.hostLabel,
    lease_seconds: cfg.remediation.leaseSeconds,
    heartbeat: {
      alertname: cfg.heartbeat.alertname,
      timeout_seconds: cfg.heartbeat.timeoutSeconds,
    },
    // The failsafe's own keys: the default limits and the named models (what a receiver that does
    // not read `temperature_limits` applies).
    failsafe: {
      poll_interval_seconds: p.failsafePollIntervalSeconds,
      warning_celsius: l.default.warningCelsius,
      critical_celsius: l.default.criticalCelsius,
      models: { [model]: absolute(models[model]) for model in std.objectFields(models) },
    },
    // Per-board limits, as the rules apply them (first that applies wins): a named model's
    // absolute limits; else the board's thermal margin at or below `margin`; else the lower of its
    // slowdown and maximum operating temperatures minus `board_threshold`; else `default`.
    temperature_limits: {
      models: { [model]: absolute(models[model]) for model in std.objectFields(models) },
      margin: { warning_celsius: l.margin.warningCelsius, critical_celsius: l.margin.criticalCelsius },
      board_threshold: {
        warning_below_celsius: l.boardThreshold.warningBelowCelsius,
        critical_below_celsius: l.boardThreshold.criticalBelowCelsius,
      },
      default: absolute(l.default),
    },
    actions: {
      fan_boost: [fanBoost],
      power_cap: [{ action: 'power_cap', fraction_of_default: p.powerCapFraction }],
      kill_workloads: [fanBoost, { action: 'kill_workloads', grace_seconds: p.killGraceSeconds }],
    },
    fallback_power_cap: { fraction_of_default: p.powerCapFraction },
    protected: {
      executables: p.protectedExecutables,
      process_names: p.protectedProcessNames,
      users: p.protectedUsers,
      cgroups: p.protectedCgroups,
    },
    limits: { kills_per_minute: p.killsPerMinute },
  },
}
