// gpuguard as a monitoring mixin: prometheusAlerts, prometheusRules and grafanaDashboards as
// node-mixin and kubernetes-mixin define them, plus the Alertmanager config, the receiver's policy
// and the Prometheus config, all from one `_config` (config.libsonnet).
local alertmanager = import 'alertmanager/alertmanager.libsonnet';
local dashboards = import 'dashboards/dashboards.libsonnet';
local prometheus = import 'deploy/prometheus/prometheus.libsonnet';
local policy = import 'policy.libsonnet';
local health = import 'rules/health.libsonnet';
local performance = import 'rules/performance.libsonnet';
local recording = import 'rules/recording.libsonnet';
local thermal = import 'rules/thermal.libsonnet';

(import 'config.libsonnet') + {
  prometheusRules+:: {
    groups+: [recording.recordingGroup($._config)],
  },
  prometheusAlerts+:: {
    groups+: [
      thermal.thermalGroup($._config),
      health.healthGroup($._config),
      performance.performanceGroup($._config),
      performance.capacityGroup($._config),
    ],
  },
  grafanaDashboards+:: dashboards.dashboards($._config),
  alertmanagerConfig:: alertmanager.alertmanagerConfig($._config),
  actionsPolicy:: policy.actionsPolicy($._config),
  prometheusConfig:: prometheus.prometheusConfig($._config),
}
