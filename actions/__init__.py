"""gpuguard.actions: the Alertmanager webhook receiver that acts on this node's GPUs."""
