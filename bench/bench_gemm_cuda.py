"""SGEMM on the GPU: nncore's CUDA kernel against cuBLAS (PyTorch), in float32
(TF32 off on both sides) and with TF32 tensor cores on both sides."""

import numpy as np
import pytest

import nncore
from nncore import ops

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("tf32", [False, True], ids=["fp32", "tf32"])
@pytest.mark.parametrize("n", [1024, 4096])
def test_gemm_cuda(benchmark, impl, tf32, n):
    cupy = pytest.importorskip("cupy")
    benchmark.group = f"gemm cuda {n}x{n}x{n} {'tf32' if tf32 else 'fp32'}"
    a = cupy.random.standard_normal((n, n), dtype=np.float32)
    b = cupy.random.standard_normal((n, n), dtype=np.float32)
    out = cupy.empty((n, n), np.float32)
    if impl == "nncore":
        nncore.cuda.set_tf32_enabled(tf32)

        def fn():
            ops.gemm(a, b, out=out)
            cupy.cuda.get_current_stream().synchronize()
    else:
        torch = pytest.importorskip("torch")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        ta, tb, tout = torch.from_dlpack(a), torch.from_dlpack(b), torch.from_dlpack(out)

        def fn():
            torch.matmul(ta, tb, out=tout)
            torch.cuda.synchronize()
    try:
        benchmark(fn)
    finally:
        nncore.cuda.set_tf32_enabled(False)
        if impl == "torch":
            torch.backends.cuda.matmul.allow_tf32 = False
    if benchmark.stats is not None:
        benchmark.extra_info["GFLOP/s"] = round(2.0 * n**3 / benchmark.stats.stats.min / 1e9, 1)
