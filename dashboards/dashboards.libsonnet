{ dashboards(cfg):: {} }
