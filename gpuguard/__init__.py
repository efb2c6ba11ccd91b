"""gpuguard: GPU thermal protection for the Prometheus world."""

__version__ = "0.1.0"
