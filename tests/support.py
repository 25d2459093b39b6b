"""Helpers shared by the test modules (import as `from support import ...`)."""

import contextlib

import numpy as np

import nncore


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


def poisoned(shape, dtype=np.float32):
    """An output buffer full of NaN, so an element the kernel forgets to write shows."""
    out = np.empty(shape, dtype)
    out.fill(np.nan)
    return out
