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


def _two_thread_scaling():
    """GEMM throughput on 2 threads over 1 (PERF.md, trap 2: ~2.0 when the two
    vCPUs are two cores, ~1.0 when the host runs both on one core)."""
    import numpy as np

    from nncore import ops

    a = np.random.default_rng(0).standard_normal((512, 512), dtype=np.float32)
    out = np.empty_like(a)
    rates = {}
    before = nncore.get_num_threads()
    try:
        for n in (1, 2):
            nncore.set_num_threads(n)
            ops.gemm(a, a, out=out)
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(4):
                    ops.gemm(a, a, out=out)
                best = min(best, (time.perf_counter() - t0) / 4)
            rates[n] = 1.0 / best
    finally:
        nncore.set_num_threads(before)
    return round(rates[2] / rates[1], 2)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["nncore"] = {k: str(v) for k, v in nncore.build_info().items()}
    machine_info["two_thread_scaling"] = _two_thread_scaling()
