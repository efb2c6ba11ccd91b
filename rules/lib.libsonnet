// Helpers the rule files share: alert construction in the mixin style, per-board temperature limits.
{
  // An alerting rule with the annotations every gpuguard alert carries. `summary` is static text
  // ending with a period; `description` is templated; the runbook anchor is the alert's name.
  alert(cfg, name, expr, severity, summary, description, action=null, forDuration=null, keepFiringFor=null)::
    {
      alert: name,
      expr: expr,
    }
    + (if forDuration != null then { 'for': forDuration } else {})
    + (if keepFiringFor != null then { keep_firing_for: keepFiringFor } else {})
    + {
      labels: { severity: severity }
              + (if action != null then { gpuguard_action: action } else {}),
      annotations: {
        summary: summary,
        description: description,
        runbook_url: cfg.runbookUrlBase + std.asciiLower(name),
      },
    },

  // `{a, b}` from a list of matchers, dropping empty ones.
  selector(matchers):: '{%s}' % std.join(', ', [m for m in matchers if m != '']),

  // A label value as it must appear inside a double-quoted PromQL string.
  quote(s):: std.strReplace(std.strReplace(s, '\\', '\\\\'), '"', '\\"'),

  // --- per-board temperature limits (config.libsonnet's `temperatureLimits`) ------------------

  // The named models' absolute limits, the warning tier derived where only the critical is given.
  modelLimits(cfg):: {
    local l = cfg.temperatureLimits,
    [model]: {
      local m = l.models[model],
      criticalCelsius: m.criticalCelsius,
      warningCelsius:
        if std.objectHas(m, 'warningCelsius') && m.warningCelsius != null then m.warningCelsius
        else m.criticalCelsius - l.warningBelowCriticalCelsius,
    }
    for model in std.objectFields(cfg.temperatureLimits.models)
  },

  // The recorded limit of each GPU for `tier` ('warning' or 'critical'), with `limit_source`.
  limitRecord(tier):: 'gpu:DCGM_FI_DEV_GPU_TEMP:%s_limit' % tier,

  // The limit as one expression: a clause per source, the first that has a value for a GPU wins
  // (`or` keeps the left side's series). Every clause is shaped on the GPU's temperature series
  // (`0 * temperature + limit`), so all carry the same labels and `or` can tell them apart.
  temperatureLimit(cfg, tier)::
    local l = cfg.temperatureLimits;
    local temp = 'DCGM_FI_DEV_GPU_TEMP' + $.selector([cfg.thermalSelector]);
    local tag(expr, source) = 'label_replace(%s, "limit_source", "%s", "", "")' % [expr, source];
    local key = tier + 'Celsius';
    local below = l.boardThreshold[tier + 'BelowCelsius'];
    // Thresholds come from the normal job; 0 and DCGM's blank sentinels are not thresholds.
    local threshold(name) = '(%s%s > 0 < 200)' % [name, $.selector([cfg.exporterSelector])];
    local slowdown = threshold('DCGM_FI_DEV_SLOWDOWN_TEMP');
    local maxOp = threshold('DCGM_FI_DEV_GPU_MAX_OP_TEMP');
    // One value per GPU (`max by`), matched on the GPU's identity: the normal job's series may carry
    // other pod labels than the fast job's for a scrape or two, or several pods share a GPU.
    local gpu = std.join(', ', cfg.gpuLabels);
    local fromThreshold(expr) = '0 * %s + on (%s) group_left () (max by (%s) (%s) - %g)' % [temp, gpu, gpu, expr, below];
    local models = $.modelLimits(cfg);
    local clauses =
      [
        tag('0 * DCGM_FI_DEV_GPU_TEMP%s + %g' % [$.selector([cfg.thermalSelector, '%s="%s"' % [cfg.modelLabel, $.quote(m)]]), models[m][key]], 'model')
        for m in std.objectFields(models)
      ]
      + [
        // The margin moves with the temperature: the limit is where the margin would be `margin`.
        tag('%s + (DCGM_FI_DEV_GPU_TEMP_LIMIT%s < 200) - %g' % [temp, $.selector([cfg.thermalSelector]), l.margin[key]], 'margin'),
        // The lower of the two thresholds a board reports.
        tag(fromThreshold('(%s unless %s > %s)' % [slowdown, slowdown, maxOp]), 'slowdown'),
        tag(fromThreshold('(%s unless %s >= %s)' % [maxOp, maxOp, slowdown]), 'max_operating'),
        tag('0 * %s + %g' % [temp, l.default[key]], 'default'),
      ];
    std.join('\nor ignoring (limit_source)\n', clauses),

  // The alert's GPU against its recorded `tier` limit: keeps the GPU's labels and adds `limit_source`.
  againstLimit(cfg, left, tier)::
    '%s\n>= ignoring (limit_source) group_left (limit_source)\n%s' % [left, $.limitRecord(tier) + $.selector([cfg.thermalSelector])],

  // "80 °C critical limit (3 °C of thermal margin or less)": the limit that applied and where it came
  // from, read back from the recorded limit when the alert fires.
  limitText(cfg, tier)::
    local l = cfg.temperatureLimits;
    local key = tier + 'Celsius';
    local below = l.boardThreshold[tier + 'BelowCelsius'];
    local value =
      '{{ with printf `%s{%s,UUID="%%s",%s="%%s"}` $labels.UUID $labels.%s | query }}{{ . | first | value | printf "%%g" }}{{ end }}'
      % [$.limitRecord(tier), cfg.thermalSelector, cfg.hostLabel, cfg.hostLabel];
    local source(name, text) = '{{ %sif eq $labels.limit_source "%s" }}%s' % [if name == 'model' then '' else 'else ', name, text];
    '%s °C %s limit (%s)' % [
      value,
      tier,
      std.join('', [
        source('model', 'set for {{ $labels.%s }} in the policy' % cfg.modelLabel),
        source('margin', '%g °C of thermal margin to slowdown or less' % l.margin[key]),
        source('slowdown', "%g °C below the board's slowdown temperature" % below),
        source('max_operating', "%g °C below the board's maximum operating temperature" % below),
      ]) + '{{ else }}the default for a board that reports no limits{{ end }}',
    ],

  // "GPU 0 (NVIDIA GeForce RTX 5090) on node-1": how descriptions name a GPU.
  gpuName(cfg):: 'GPU {{ $labels.gpu }} ({{ $labels.%s }}) on {{ $labels.%s }}' % [cfg.modelLabel, cfg.hostLabel],
}
