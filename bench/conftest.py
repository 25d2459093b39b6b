"""Shared benchmark plumbing: thread settings applied to every side (nncore,
NumPy's BLAS, PyTorch), optional peers, and rates in extra_info.

Run `pytest bench --benchmark-only` to compare; `--benchmark-disable` runs
each benchmark once as a smoke test (what CI does)."""

import resource
import time

import numpy as np
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


def need_peer(name):
    """Skips a peer's benchmark when that peer is not installed."""
    if name == "torch" and torch is None:
        pytest.skip("PyTorch not installed")
    return torch if name == "torch" else np


def run(benchmark, fn, *, flops=None, bytes_moved=None):
    """Benchmarks fn, then records GFLOP/s or GB/s (fastest round) and minor page
    faults per call in extra_info."""
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    calls = [0]

    def counted():
        calls[0] += 1
        return fn()

    result = benchmark(counted)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    benchmark.extra_info["faults_per_call"] = round(faults / max(calls[0], 1), 1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.min > 0:
        best = stats.stats.min
        if flops is not None:
            benchmark.extra_info["GFLOP/s"] = round(flops / best / 1e9, 1)
        if bytes_moved is not None:
            benchmark.extra_info["GB/s"] = round(bytes_moved / best / 1e9, 2)
    return result
