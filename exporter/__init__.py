"""gpuguard's exporter: DCGM-compatible GPU metrics read straight from NVML (`gpuguard exporter`)."""
