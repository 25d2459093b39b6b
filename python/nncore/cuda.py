"""GPU availability. nncore's GPU arrays are CuPy's; everything here answers
without raising on machines with no GPU, no driver or no CuPy."""

from . import _C


def is_available():
    """True when nncore was built with CUDA, CuPy imports and a device is visible."""
    if not _C.build_info()["cuda_built"]:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def device_count():
    return _C.build_info()["cuda_devices"] if is_available() else 0
