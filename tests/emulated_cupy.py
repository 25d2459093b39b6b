"""CuPy's stand-in when nncore is built with NNCORE_CUDA=SIM: the CUDA twins then
run on the CPU emulator (csrc/sim), which takes host memory for device memory.

Its arrays are NumPy arrays that also carry __cuda_array_interface__, so nncore
sends them to the CUDA twins; its functions are NumPy's, returning such arrays.
It holds what tests/cuda and nncore's Python layer call, nothing more.
conftest.py installs it as `cupy` only for an emulator build."""

import sys
import types

import numpy as np


class Device:
    def __init__(self, id=0):
        self.id = int(id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


class ndarray(np.ndarray):
    """A NumPy array that says it is on CUDA device 0."""

    @property
    def __cuda_array_interface__(self):
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ctypes.data, not self.flags.writeable),
            "strides": None if self.flags.c_contiguous else self.strides,
            "version": 3,
            "stream": None,
        }

    @property
    def device(self):
        return Device(0)

    def get(self, stream=None, order="C", out=None):
        if out is None:
            return np.array(self, order=order)
        np.copyto(out, self)
        return out

    def set(self, arr, stream=None):
        np.copyto(self, arr)


def _on_device(x):
    if isinstance(x, np.ndarray) and not isinstance(x, ndarray):
        return x.view(ndarray)
    if isinstance(x, tuple):
        return tuple(_on_device(v) for v in x)
    if isinstance(x, list):
        return [_on_device(v) for v in x]
    return x


def _wrap(fn):
    def on_device(*args, **kwargs):
        return _on_device(fn(*args, **kwargs))

    on_device.__name__ = getattr(fn, "__name__", "function")
    return on_device


def asarray(a, dtype=None):
    if isinstance(a, ndarray) and (dtype is None or a.dtype == np.dtype(dtype)):
        return a
    return np.array(a, dtype=dtype).view(ndarray)  # a copy, as a host-to-device transfer is


array = asarray


def asnumpy(a):
    return np.array(a)


def from_dlpack(obj):
    return np.from_dlpack(obj).view(ndarray)


class Stream:
    """Streams order nothing on the emulator (kernels run when launched); this
    one only keeps CuPy's current-stream bookkeeping."""

    _current = []

    def __init__(self, non_blocking=False):
        self.ptr = 0 if non_blocking is None else id(self)

    def __enter__(self):
        Stream._current.append(self)
        return self

    def __exit__(self, *exc):
        Stream._current.pop()
        return False

    def synchronize(self):
        pass


class MemoryPointer:
    """What cupy.cuda.alloc returns: .ptr is the address of `nbytes` bytes,
    poisoned (0xFF: NaN in every float type) as fresh device memory may be."""

    def __init__(self, nbytes):
        self._buffer = np.full(max(int(nbytes), 1), 0xFF, np.uint8)
        self.ptr = self._buffer.ctypes.data


def _current_stream():
    return Stream._current[-1] if Stream._current else Stream.null


Stream.null = Stream(non_blocking=None)


class _Random:
    def __init__(self):
        self._gen = np.random.default_rng()

    def seed(self, seed=None):
        self._gen = np.random.default_rng(seed)

    def __getattr__(self, name):
        return _wrap(getattr(self._gen, name))


cuda = types.SimpleNamespace(
    Device=Device,
    alloc=MemoryPointer,
    get_current_stream=_current_stream,
    Stream=Stream,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
)
random = _Random()
__version__ = "emulated"


def __getattr__(name):
    value = getattr(np, name)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or type(value).__name__ in (
        "_ArrayFunctionDispatcher",
    ):
        return _wrap(value)
    return value


def install():
    """Makes `import cupy` and `import cupyx` give this module, its scatter_add and
    empty_pinned (host memory is all there is)."""
    sys.modules["cupy"] = sys.modules[__name__]
    sys.modules["cupyx"] = types.SimpleNamespace(scatter_add=np.add.at, empty_pinned=np.empty)
