"""Shared benchmark plumbing: thread settings applied to every side (nncore,
NumPy's BLAS, PyTorch), optional peers, and rates in extra_info.

Run `pytest bench --benchmark-only` to compare; `--benchmark-disable` runs
each benchmark once as a smoke test (what CI does)."""

import time

import pytest

import nncore

try:
    import torch
except ImportError:
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


@pytest.fixture(params=[1, 2], ids=lambda n: f"t{n}")
def threads(request):
    """Runs the benchmark with the same thread count on every side."""
    n = request.param
    before = nncore.get_num_threads()
    nncore.set_num_threads(n)
    torch_before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(n)
    limiter = threadpool_limits(n) if threadpool_limits else None
    time.sleep(0.05)  # let OpenBLAS's spinning workers go idle (PERF.md, trap 3)
    try:
        yield n
    finally:
        nncore.set_num_threads(before)
        if torch:
            torch.set_num_threads(torch_before)
        if limiter is not None:
            limiter.restore_original_limits()
