"""Process-wide settings of the kernels: threads, CPU twin, host cache, build facts."""

import platform

import numpy as np

from . import _C


def set_num_threads(n):
    """Threads used by every CPU kernel (also settable with NNCORE_NUM_THREADS)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(int(n))


def get_num_threads():
    return _C.get_num_threads()


def set_isa(name):
    """Choose the CPU twin: 'auto', 'scalar', 'avx2' or 'avx512' (also NNCORE_ISA)."""
    if not isinstance(name, str):
        raise TypeError(f"set_isa: name must be a str, got {type(name).__name__}")
    _C.set_isa(name)


def get_isa():
    return _C.get_isa()


def empty_host_cache():
    """Give the memory nncore keeps for reuse back to the system."""
    _C.host_cache_clear()


def build_info():
    """What was built (compiler, ISAs, OpenMP, CUDA) and what this machine offers."""
    info = dict(_C.build_info())
    info["python"] = platform.python_version()
    info["numpy"] = np.__version__
    info["machine"] = platform.machine()
    try:
        import cupy

        info["cupy"] = cupy.__version__
    except Exception as exc:  # any failure to import means "not usable here"
        info["cupy"] = None
        info["cupy_unavailable_reason"] = f"{type(exc).__name__}: {exc}"
    return info
