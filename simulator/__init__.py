"""The simulated GPU node: a C libnvidia-ml.so.1 over a shared thermal model (see README.md).

Python here is the control side only (the `gpuguard sim` CLI and the test API in `node.py`);
production code meets the simulator exclusively through the driver library, as it meets a real one.
"""
