// Helpers for the promtool unit tests. The tests state thresholds, labels and texts literally (as
// DESIGN.md and config.libsonnet's comments give them) and never import config.libsonnet: a test
// that read its expectations from the code under test could not fail.
{
  runbook:: 'https://github.com/gpuguard/gpuguard/blob/main/rules/runbooks.md#',

  // The labels the exporter puts on one GPU's series, as scraped by `job` from `host`.
  gpu(host, index, model, uuid, job='gpuguard-thermal'):: {
    job: job,
    instance: host + ':9400',
    gpu: std.toString(index),
    UUID: uuid,
    pci_bus_id: '00000000:%02d:00.0' % (index + 1),
    device: 'nvidia%d' % index,
    modelName: model,
    Hostname: host,
    DCGM_FI_DRIVER_VERSION: '575.64.03',
  },

  rtx5090:: 'NVIDIA GeForce RTX 5090',
  rtxPro6000:: 'NVIDIA RTX PRO 6000 Blackwell Workstation Edition',
  h100:: 'NVIDIA H100 80GB HBM3',

  series(name, labels, values):: {
    series: '%s{%s}' % [name, std.join(', ', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)])],
    values: values,
  },

  without(labels, names):: { [k]: labels[k] for k in std.objectFields(labels) if !std.member(names, k) },

  // One firing alert: its labels (the series' plus the rule's) and every annotation.
  fired(labels, summary, description, alertname):: {
    exp_labels: labels,
    exp_annotations: {
      summary: summary,
      description: description,
      runbook_url: $.runbook + std.asciiLower(alertname),
    },
  },

  // alert_rule_test entries: `alerts` at each time in `times` (an empty list: none firing).
  at(alertname, times, alerts):: [
    { eval_time: t, alertname: alertname, exp_alerts: alerts }
    for t in times
  ],
}
