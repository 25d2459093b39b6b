"""GPU availability and settings. nncore's GPU arrays are CuPy's; everything
here answers without raising on machines with no GPU, no driver or no CuPy."""

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


def set_tf32_enabled(enabled):
    """Lets float32 gemm/matmul and convolutions on CUDA use TF32 tensor cores
    (sm_80 and later): inputs rounded to 10 mantissa bits, float32 accumulation.
    Off by default, so float32 means float32; a process-wide setting."""
    _C.set_cuda_tf32_enabled(bool(enabled))


def tf32_enabled():
    return _C.cuda_tf32_enabled()
