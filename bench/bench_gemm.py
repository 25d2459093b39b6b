"""SGEMM: nncore against NumPy (OpenBLAS) and PyTorch (MKL/oneDNN), square and
skinny shapes, 1 and 2 threads. Allocator mode: every side writes into a
preallocated output (out=), so no side pays page faults."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

SQUARE = [(n, n, n) for n in (256, 512, 1024, 2048)]
SKINNY = [(n, 64, n) for n in (512, 2048)] + [(64, n, n) for n in (512, 2048)] + [(n, n, 64) for n in (512, 2048)]


@pytest.mark.parametrize("impl", ["nncore", "numpy", "torch"])
@pytest.mark.parametrize("mnk", SQUARE + SKINNY, ids=lambda s: "x".join(map(str, s)))
def test_gemm(benchmark, threads, impl, mnk):
    m, n, k = mnk
    benchmark.group = f"gemm M={m} N={n} K={k} threads={threads}"
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    if impl == "nncore":
        fn = lambda: ops.gemm(a, b, out=out)
    elif impl == "numpy":
        fn = lambda: np.matmul(a, b, out=out)
    else:
        torch = need_peer("torch")
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        fn = lambda: torch.matmul(ta, tb, out=tout)
    run(benchmark, fn, flops=2.0 * m * n * k)
    if impl == "nncore":
        ref = a.astype(np.float64) @ b.astype(np.float64)
        assert np.max(np.abs(out - ref)) <= 1e-4 * np.max(np.abs(a)) * np.max(np.abs(b)) * k
