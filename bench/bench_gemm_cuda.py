"""SGEMM on the GPU: nncore's CUDA kernel against cuBLAS (PyTorch, TF32 off)."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("n", [1024, 4096])
def test_gemm_cuda(benchmark, impl, n):
    cupy = pytest.importorskip("cupy")
    benchmark.group = f"gemm cuda {n}x{n}x{n}"
    a = cupy.random.standard_normal((n, n), dtype=np.float32)
    b = cupy.random.standard_normal((n, n), dtype=np.float32)
    out = cupy.empty((n, n), np.float32)
    if impl == "nncore":
        def fn():
            ops.gemm(a, b, out=out)
            cupy.cuda.get_current_stream().synchronize()
    else:
        torch = pytest.importorskip("torch")
        torch.backends.cuda.matmul.allow_tf32 = False
        ta, tb, tout = torch.from_dlpack(a), torch.from_dlpack(b), torch.from_dlpack(out)

        def fn():
            torch.matmul(ta, tb, out=tout)
            torch.cuda.synchronize()
    benchmark(fn)
    if benchmark.stats is not None:
        benchmark.extra_info["GFLOP/s"] = round(2.0 * n**3 / benchmark.stats.stats.min / 1e9, 1)
