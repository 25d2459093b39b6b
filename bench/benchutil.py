"""Helpers shared by the benchmark modules (import as `from benchutil import ...`)."""

import resource

import numpy as np
import pytest

try:
    import torch
except ImportError:
    torch = None

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
