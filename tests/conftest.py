"""Shared test fixtures: seeded generators, ISA switching, poison values, and
the `cuda` marker (skipped unless nncore was built with CUDA and a GPU is visible)."""

import contextlib

import numpy as np
import pytest

import nncore

POISON = np.float32(np.nan)


def pytest_collection_modifyitems(config, items):
    if nncore.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU, CuPy and a CUDA build of nncore")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: fresh inputs per test, reproducible runs."""
    seed = abs(hash(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def isa(name):
    """Run a block with the CPU twin `name` ('scalar', 'avx2', 'avx512')."""
    before = nncore.get_isa()
    nncore.set_isa(name)
    try:
        yield
    finally:
        nncore.set_isa(before)


def available_isas():
    names = ["scalar", "avx2", "avx512"]
    best = nncore.build_info()["isa_supported"]
    return names[: names.index(best) + 1]


@pytest.fixture(params=available_isas())
def each_isa(request):
    """Parametrises a test over every CPU twin this machine can run."""
    with isa(request.param):
        yield request.param


def poisoned(shape, dtype=np.float32):
    """An output buffer full of NaN, so an element the kernel forgets to write shows."""
    out = np.empty(shape, dtype)
    out.fill(np.nan)
    return out
