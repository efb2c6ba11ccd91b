// Helpers the rule files share: alert construction in the mixin style, per-model thresholds.
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

  // PromQL regex escaping, written as it must appear inside a double-quoted PromQL string.
  local meta = std.set(std.stringChars('\\.+*?()|[]{}^$')),
  escapeRegex(s):: std.join('', [if std.setMember(c, meta) then '\\\\' + c else c for c in std.stringChars(s)]),

  // The thresholds of one model (null: the default), with the warning tier derived from the
  // critical limit unless given explicitly.
  thresholdsFor(cfg, model)::
    local override = if model == null then {} else cfg.modelThresholds[model];
    local t = cfg.thresholds + override;
    local has(k) = std.objectHas(override, k);
    t {
      warningCelsius:
        if has('warningCelsius') then override.warningCelsius
        else if has('criticalCelsius') then override.criticalCelsius - t.warningMarginCelsius
        else if cfg.thresholds.warningCelsius != null then cfg.thresholds.warningCelsius
        else t.criticalCelsius - t.warningMarginCelsius,
    },

  // The models whose `key` threshold differs from the default, and a matcher for all the others.
  local ownModels(cfg, key) = [
    m
    for m in std.objectFields(cfg.modelThresholds)
    if $.thresholdsFor(cfg, m)[key] != $.thresholdsFor(cfg, null)[key]
  ],

  // One expression with a clause per model whose `key` threshold differs from the default and one
  // for the rest: `clause(modelMatcher, threshold)` writes a clause. An H100 and an RTX 5090 never
  // share limits unless configured so. One rule, so the alert has one identity whatever the model.
  perModel(cfg, key, clause)::
    local own = ownModels(cfg, key);
    local rest =
      if std.length(own) == 0 then ''
      else '%s!~"%s"' % [cfg.modelLabel, std.join('|', [$.escapeRegex(m) for m in own])];
    local clauses =
      [clause(rest, $.thresholdsFor(cfg, null)[key])]
      + [clause('%s="%s"' % [cfg.modelLabel, m], $.thresholdsFor(cfg, m)[key]) for m in own];
    if std.length(clauses) == 1 then clauses[0]
    else std.join('\nor\n', ['(%s)' % c for c in clauses]),

  // The `key` threshold of the alerting GPU's model, as a template for annotations.
  limitTemplate(cfg, key)::
    local own = ownModels(cfg, key);
    std.join('', [
      '{{ %sif eq $labels.%s "%s" }}%g' % [if i == 0 then '' else 'else ', cfg.modelLabel, own[i], $.thresholdsFor(cfg, own[i])[key]]
      for i in std.range(0, std.length(own) - 1)
    ])
    + (if std.length(own) == 0 then '%g' else '{{ else }}%g{{ end }}') % $.thresholdsFor(cfg, null)[key],

  // "GPU 0 (NVIDIA GeForce RTX 5090) on node-1": how descriptions name a GPU.
  gpuName(cfg):: 'GPU {{ $labels.gpu }} ({{ $labels.%s }}) on {{ $labels.%s }}' % [cfg.modelLabel, cfg.hostLabel],
}
