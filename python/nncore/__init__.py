"""nncore: hand-written CPU (AVX2/AVX-512) and CUDA kernels for classic neural
networks, on NumPy arrays (CPU) and CuPy arrays (GPU)."""

from . import _C
from ._runtime import (
    build_info,
    empty_host_cache,
    get_isa,
    get_num_threads,
    set_isa,
    set_num_threads,
)
from . import cuda, ops

__version__ = _C.build_info()["version"]

__all__ = [
    "build_info",
    "cuda",
    "empty_host_cache",
    "get_isa",
    "get_num_threads",
    "ops",
    "set_isa",
    "set_num_threads",
]
