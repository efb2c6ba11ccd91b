// Prometheus for gpuguard: a fast job for the few thermal series the remediation rules read, a
// normal job for the rest, and the receiver's own metrics.
{
  prometheusConfig(cfg):: {
    local thermalRegex = std.join('|', cfg.thermalSeries),

    global: {
      scrape_interval: cfg.intervals.scrape,
      evaluation_interval: cfg.intervals.evaluation,
    },
    rule_files: cfg.ruleFiles,
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [cfg.alertmanagerAddress] }] }],
    },
    scrape_configs: [
      {
        // Seconds matter here: collect (1 s) + scrape + evaluate + `for` + Alertmanager must stay
        // well under the 10 s remediation budget. Keeping only the thermal series keeps a fleet
        // affordable at this rate.
        job_name: cfg.thermalJobName,
        scrape_interval: cfg.intervals.thermalScrape,
        scrape_timeout: cfg.intervals.thermalScrape,
        static_configs: [{ targets: [cfg.exporterAddress] }],
        metric_relabel_configs: [
          { source_labels: ['__name__'], regex: thermalRegex, action: 'keep' },
        ],
      },
      {
        job_name: cfg.exporterJobName,
        static_configs: [{ targets: [cfg.exporterAddress] }],
        metric_relabel_configs: [
          { source_labels: ['__name__'], regex: thermalRegex, action: 'drop' },
        ],
      },
      {
        job_name: cfg.receiverJobName,
        static_configs: [{ targets: [cfg.receiverAddress] }],
      },
    ],
  },
}
