// A small dashboard builder that emits what Grafana's strict dashboard schema requires
// (fieldConfig with overrides, thresholds with a mode, templating and annotations present).
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  target(expr, legend='', instant=false):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
    range: !instant,
    instant: instant,
  } + (if instant then { format: 'table' } else {}),

  local fieldConfig(unit, min, max, steps, extra) = {
    defaults: {
                unit: unit,
                color: { mode: if steps == null then 'palette-classic' else 'thresholds' },
                thresholds: {
                  mode: 'absolute',
                  steps: if steps == null then [{ value: null, color: 'green' }] else steps,
                },
              } + (if min != null then { min: min } else {})
              + (if max != null then { max: max } else {})
              + extra,
    overrides: [],
  },

  // Threshold steps from a list of [value, color] after a green base.
  steps(pairs):: [{ value: null, color: 'green' }] + [{ value: p[0], color: p[1] } for p in pairs],

  panel(type, title, description, targets, unit, w, h, min=null, max=null, steps=null, options={}, custom={}):: {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    targets: [targets[i] { refId: std.char(65 + i) } for i in std.range(0, std.length(targets) - 1)],
    fieldConfig: fieldConfig(unit, min, max, steps, if custom == {} then {} else { custom: custom }),
    options: options,
    w:: w,
    h:: h,
  },

  timeseries(title, description, targets, unit, w=12, h=8, min=null, max=null, steps=null)::
    $.panel('timeseries',
            title,
            description,
            targets,
            unit,
            w,
            h,
            min,
            max,
            steps,
            options={ legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
            custom=if steps == null then {} else { thresholdsStyle: { mode: 'line' } }),

  bargauge(title, description, targets, unit, w=12, h=8, min=null, max=null, steps=null)::
    $.panel('bargauge',
            title,
            description,
            targets,
            unit,
            w,
            h,
            min,
            max,
            steps,
            options={ orientation: 'horizontal', displayMode: 'gradient', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } }),

  stat(title, description, targets, unit, w=6, h=4, steps=null)::
    $.panel('stat',
            title,
            description,
            targets,
            unit,
            w,
            h,
            steps=steps,
            options={ reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' }),

  table(title, description, targets, w=24, h=8)::
    $.panel('table',
            title,
            description,
            targets,
            'short',
            w,
            h,
            options={ showHeader: true }),

  // Lay rows of panels out on the 24-column grid, numbering panels from 1 in reading order.
  grid(rows)::
    local heights = [std.foldl(function(m, p) std.max(m, p.h), row, 0) for row in rows];
    local tops = [std.foldl(function(s, i) s + heights[i], std.range(0, r - 1), 0) for r in std.range(0, std.length(rows) - 1)];
    local placed = [
      rows[r][c] {
        gridPos: {
          x: std.foldl(function(s, i) s + rows[r][i].w, std.range(0, c - 1), 0),
          y: tops[r],
          w: rows[r][c].w,
          h: rows[r][c].h,
        },
      }
      for r in std.range(0, std.length(rows) - 1)
      for c in std.range(0, std.length(rows[r]) - 1)
    ];
    [placed[i] { id: i + 1 } for i in std.range(0, std.length(placed) - 1)],

  queryVariable(name, label, query, multi=true):: {
    type: 'query',
    name: name,
    label: label,
    datasource: $.datasource,
    query: query,
    definition: query,
    refresh: 2,
    sort: 1,
    multi: multi,
    includeAll: true,
    allValue: '.*',
    current: { text: ['All'], value: ['$__all'] },
    options: [],
  },

  dashboard(cfg, uid, title, description, variables, rows, annotationExpr):: {
    uid: uid,
    title: title,
    description: description,
    tags: cfg.dashboardTags,
    editable: true,
    graphTooltip: 1,
    refresh: cfg.dashboardRefresh,
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    timezone: 'browser',
    templating: {
      list: [{
        type: 'datasource',
        name: 'datasource',
        label: 'Data source',
        query: 'prometheus',
        current: { text: 'default', value: 'default' },
        options: [],
        refresh: 1,
      }] + variables,
    },
    annotations: {
      list: [{
        name: 'GPU alerts',
        datasource: $.datasource,
        enable: true,
        hide: false,
        iconColor: 'red',
        expr: annotationExpr,
        step: '10s',
        titleFormat: '{{alertname}}',
        textFormat: '{{%s}} GPU {{gpu}}' % cfg.hostLabel,
        tagKeys: 'severity,gpuguard_action',
        useValueForTime: false,
      }],
    },
    panels: $.grid(rows),
  },
}
