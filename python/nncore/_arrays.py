"""How nncore.ops sees its inputs: NumPy on the CPU, CuPy on the GPU, anything
with __dlpack__ converted without a copy; and where outputs come from."""

import numpy as np

from . import _C

_DLPACK_CPU, _DLPACK_CUDA = 1, 2


def is_cuda(x):
    return x.__class__ is not np.ndarray and hasattr(x, "__cuda_array_interface__")


def as_kernel_array(x, op, arg):
    """NumPy or CUDA arrays pass through; other __dlpack__ arrays are wrapped."""
    if isinstance(x, np.ndarray) or is_cuda(x):
        return x
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        device_type = int(x.__dlpack_device__()[0])
        if device_type == _DLPACK_CPU:
            return np.from_dlpack(x)
        if device_type == _DLPACK_CUDA:
            import cupy

            return cupy.from_dlpack(x)
        raise TypeError(f"{op}: {arg} lives on DLPack device type {device_type}; expected CPU or CUDA")
    raise TypeError(f"{op}: {arg} must be a numpy.ndarray or a CuPy array, got {type(x).__name__}")


def array_module(x):
    if is_cuda(x):
        import cupy

        return cupy
    return np


def empty(shape, dtype, like):
    """Uninitialised output on the device of `like`: nncore's host cache on the
    CPU (no page faults on repeated calls), CuPy's memory pool on the GPU."""
    if not is_cuda(like):
        try:
            return _C.empty(shape, dtype if isinstance(dtype, np.dtype) else np.dtype(dtype))
        except (ValueError, MemoryError) as e:
            raise ValueError(f"the output of shape {tuple(shape)} is too large to allocate ({e})") from None
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.empty(shape, dtype)


def _cuda_workspace(nbytes):
    """Scratch memory for a CUDA kernel call, from CuPy's pool on its current device."""
    import cupy

    return cupy.cuda.alloc(nbytes)


_C.set_cuda_workspace_allocator(_cuda_workspace)


def stream_of(like):
    """CuPy's current stream as an integer handle (0 for CPU arrays)."""
    if not is_cuda(like):
        return 0
    import cupy

    return cupy.cuda.get_current_stream().ptr
