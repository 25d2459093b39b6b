"""Build facts, threads, ISA choice and the host cache."""

import os
import subprocess
import sys

import numpy as np
import pytest

import nncore
from nncore import ops


def test_build_info_fields():
    info = nncore.build_info()
    for key in ("version", "compiler", "isa_compiled", "isa_supported", "isa_active", "openmp", "num_threads",
                "cuda_built", "cuda_architectures", "cuda_devices", "cupy", "numpy"):
        assert key in info
    assert "scalar" in info["isa_compiled"]
    assert info["isa_active"] in info["isa_compiled"]
    assert info["version"] == nncore.__version__


def test_cuda_is_available_never_raises():
    assert nncore.cuda.is_available() in (True, False)
    if not nncore.build_info()["cuda_built"]:
        assert nncore.cuda.is_available() is False


def test_num_threads_roundtrip():
    before = nncore.get_num_threads()
    try:
        nncore.set_num_threads(1)
        assert nncore.get_num_threads() == 1
        nncore.set_num_threads(3)
        assert nncore.get_num_threads() == 3
    finally:
        nncore.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1])
def test_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="n must be >= 1"):
        nncore.set_num_threads(bad)


def test_num_threads_rejects_non_int():
    with pytest.raises(TypeError, match="must be an int"):
        nncore.set_num_threads(1.5)


def test_set_isa_validates():
    with pytest.raises(ValueError, match="expected one of"):
        nncore.set_isa("sse9")
    before = nncore.get_isa()
    nncore.set_isa("scalar")
    assert nncore.get_isa() == "scalar"
    nncore.set_isa("auto")
    assert nncore.get_isa() == nncore.build_info()["isa_supported"]
    nncore.set_isa(before)


def test_environment_variables_are_read():
    code = "import nncore; print(nncore.get_isa(), nncore.get_num_threads())"
    env = dict(os.environ, NNCORE_ISA="scalar", NNCORE_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["scalar", "1"]


def test_host_cache_reuses_blocks():
    a = nncore._C.empty((1000, 1000), np.dtype(np.float32))
    addr = a.ctypes.data
    del a
    assert nncore._C.host_cache_cached_bytes() >= 4_000_000
    b = nncore._C.empty((1000, 1000), np.dtype(np.float32))
    assert b.ctypes.data == addr
    assert b.ctypes.data % 64 == 0
    del b
    nncore.empty_host_cache()
    assert nncore._C.host_cache_cached_bytes() == 0


def test_repeated_gemm_pays_no_page_faults():
    import resource

    a = np.random.default_rng(0).standard_normal((700, 700), dtype=np.float32)
    for _ in range(3):
        ops.gemm(a, a)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        ops.gemm(a, a)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # A fresh 700x700 float32 output is ~480 pages, so paying for fresh memory
    # would cost ~4800 faults here; reused memory costs none, up to the stray
    # faults of a busy machine (page reclaim, other allocations).
    pages = 700 * 700 * 4 // 4096
    assert faults < 10 * pages // 4, faults
