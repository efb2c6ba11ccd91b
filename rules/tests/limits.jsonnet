// promtool unit tests of the per-board temperature limits and the predictive power cap, rendered
// from the shared table tests/rules/limits_table.yml (one test per row). The table states every
// limit and decision literally; the alert texts are written out here, never taken from the rules.
local t = import 'lib.libsonnet';

local table = std.parseYaml(importstr '../../tests/rules/limits_table.yml');

local seconds(check) = check.at;
local lastAt(case) = std.foldl(std.max, [c.at for c in case.checks], 0);

// A table value as a promtool series: a number held, or samples one a second with the last held.
local values(v, until) =
  if std.isArray(v) then
    std.join(' ', [std.toString(x) for x in v]) + ' %sx%d' % [std.toString(v[std.length(v) - 1]), until]
  else '%sx%d' % [std.toString(v), until + 10];
local sampleAt(v, at) =
  if std.isArray(v) then v[std.min(at, std.length(v) - 1)] else v;

// How the descriptions name where a limit came from (rules/runbooks.md, "Per-board limits").
local sourceText(case, tier) =
  local m = { warning: 10, critical: 3 }[tier];
  {
    model: 'set for %s in the policy' % case.model,
    margin: '%d °C of thermal margin to slowdown or less' % m,
    slowdown: "%d °C below the board's slowdown temperature" % m,
    max_operating: "%d °C below the board's maximum operating temperature" % m,
    default: 'the default for a board that reports no limits',
  }[case.limit_source];
local limitText(case, tier) =
  '%s °C %s limit (%s)' % [std.toString(case[tier + '_celsius']), tier, sourceText(case, tier)];

local test(i, case) =
  local labels = t.gpu('node-%d' % (i + 1), 0, case.model, 'GPU-TABLE-%04d' % i);
  local exporterLabels = labels { job: 'gpuguard' };
  local until = lastAt(case) + 5;
  local fired = labels { limit_source: case.limit_source };
  local name = 'GPU 0 (%s) on %s' % [case.model, labels.Hostname];
  local celsius(check) = std.toString(sampleAt(case.temperature, check.at));
  local high(check) = t.fired(
    fired { severity: 'warning', gpuguard_action: 'fan_boost' },
    'GPU temperature is approaching its critical limit.',
    '%s is at %s °C, at or above its %s: fans go to maximum (power capped where there are no fans).' % [name, celsius(check), limitText(case, 'warning')],
    'GPUTemperatureHigh',
  );
  local critical(check) = t.fired(
    fired { severity: 'critical', gpuguard_action: 'kill_workloads' },
    'GPU temperature is at its critical limit.',
    '%s is at %s °C, at or above its %s: its workloads are killed and fans go to maximum (power capped where there are no fans).' % [name, celsius(check), limitText(case, 'critical')],
    'GPUTemperatureCritical',
  );
  local predicted(check) = t.fired(
    fired { severity: 'critical', gpuguard_action: 'power_cap' },
    'GPU temperature is predicted to reach its critical limit within seconds.',
    '%s climbs fast and is predicted to be at %.1f °C in 5 s, at or above its %s: its power is capped until it settles.' % [name, check.predicted_celsius, limitText(case, 'critical')],
    'GPUTemperatureCriticalPredicted',
  );
  local expect(check) =
    local at = ['%ds' % seconds(check)];
    {
      nothing: t.at('GPUTemperatureHigh', at, []) + t.at('GPUTemperatureCritical', at, [])
               + t.at('GPUTemperatureCriticalPredicted', at, []),
      warn: t.at('GPUTemperatureHigh', at, [high(check)]) + t.at('GPUTemperatureCritical', at, [])
            + t.at('GPUTemperatureCriticalPredicted', at, []),
      cap: t.at('GPUTemperatureCriticalPredicted', at, [predicted(check)]) + t.at('GPUTemperatureCritical', at, []),
      kill: t.at('GPUTemperatureCritical', at, [critical(check)]),
    }[check.decision];
  local first = case.checks[0];
  {
    name: 'limits table: ' + case.name,
    interval: '1s',
    input_series:
      [t.series('DCGM_FI_DEV_GPU_TEMP', labels, values(case.temperature, until))]
      + (if std.objectHas(case, 'margin') then [t.series('DCGM_FI_DEV_GPU_TEMP_LIMIT', labels, values(case.margin, until))] else [])
      + (if std.objectHas(case, 'slowdown') then [t.series('DCGM_FI_DEV_SLOWDOWN_TEMP', exporterLabels, values(case.slowdown, until))] else [])
      + (if std.objectHas(case, 'max_operating') then [t.series('DCGM_FI_DEV_GPU_MAX_OP_TEMP', exporterLabels, values(case.max_operating, until))] else []),
    alert_rule_test: std.flattenArrays([expect(check) for check in case.checks]),
    // The recorded limits, with where they came from (what dashboards and descriptions read).
    promql_expr_test: [
      {
        expr: 'gpu:DCGM_FI_DEV_GPU_TEMP:%s_limit' % tier,
        eval_time: '%ds' % first.at,
        exp_samples: [{
          labels: 'gpu:DCGM_FI_DEV_GPU_TEMP:%s_limit{%s}' % [tier, std.join(', ', ['%s="%s"' % [k, fired[k]] for k in std.objectFields(fired)])],
          value: case[tier + '_celsius'],
        }],
      }
      for tier in ['warning', 'critical']
    ],
  };

{
  rule_files: ['../gpuguard.rules.yml'],
  evaluation_interval: '1s',
  tests: [test(i, table.cases[i]) for i in std.range(0, std.length(table.cases) - 1)],
}
