// Every file `make render` writes, keyed by its path in the repository. `overrides` is merged
// over `_config` field by field (nested objects merge, anything else replaces), so a caller can
// move addresses, ports and file paths and keep everything else as shipped.
function(overrides={})
  local patch(o) =
    { [k]+: patch(o[k]) for k in std.objectFields(o) if std.isObject(o[k]) }
    + { [k]: o[k] for k in std.objectFields(o) if !std.isObject(o[k]) };
  local mixin = (import 'mixin.libsonnet') + { _config+:: patch(overrides) };
  {
    'rules/gpuguard.rules.yml': {
      groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups,
    },
    'alertmanager/alertmanager.yml': mixin.alertmanagerConfig,
    'actions/policy.yml': mixin.actionsPolicy,
    'deploy/prometheus/prometheus.yml': mixin.prometheusConfig,
  } + {
    ['dashboards/%s' % name]: mixin.grafanaDashboards[name]
    for name in std.objectFields(mixin.grafanaDashboards)
  }
