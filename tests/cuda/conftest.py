"""Fixtures shared by the CUDA tests: CuPy (or its emulator stand-in), poisoned
outputs, and the comparison of a device result with the CPU twin's."""

import numpy as np
import pytest

INT_POISON = -(2**62) - 7
# Poisoned elements either side of each output, to catch writes past its ends; a
# multiple of 4, so outputs keep the 16-byte alignment that CuPy's own have.
GUARD = 64


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


def _poison_value(dtype):
    return np.nan if np.dtype(dtype).kind == "f" else INT_POISON


def _is_poison(values):
    return np.isnan(values) if values.dtype.kind == "f" else values == INT_POISON


@pytest.fixture
def _guarded_outputs(cupy):
    """Makes poisoned device outputs inside larger poisoned buffers; at teardown,
    fails if anything wrote to a buffer outside its output."""
    plain_empty = cupy.empty
    buffers = []

    def make(shape, dtype=float):
        shape = tuple(int(n) for n in shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        size = int(np.prod(shape, dtype=np.int64))
        buffer = plain_empty((GUARD + size + GUARD,), dtype)
        buffer.fill(_poison_value(buffer.dtype))
        buffers.append((buffer, size))
        return buffer[GUARD:GUARD + size].reshape(shape)

    yield make
    for buffer, size in buffers:
        host = cupy.asnumpy(buffer)
        guards = np.concatenate([host[:GUARD], host[GUARD + size:]])
        assert _is_poison(guards).all(), f"a kernel wrote past the ends of a {host.dtype} output of {size} elements"


@pytest.fixture
def poisoned(_guarded_outputs):
    """poisoned(shape, dtype): a device array full of NaN (integers: INT_POISON), to
    pass as out=, so an element the kernel forgets to write shows; guarded (above)."""
    return _guarded_outputs


@pytest.fixture
def poison_outputs(cupy, monkeypatch, _guarded_outputs):
    """Every device output nncore.ops allocates itself (through cupy.empty) starts
    poisoned and guarded, for the ops whose outputs cannot all be passed as out=."""

    made = []

    def poisoned_empty(shape, dtype=float, order="C"):
        assert order == "C"
        made.append(_guarded_outputs(shape, dtype))
        return made[-1]

    monkeypatch.setattr(cupy, "empty", poisoned_empty)
    yield
    assert made, "no output came through cupy.empty: nncore allocates elsewhere now, and nothing was poisoned"


@pytest.fixture
def assert_matches(cupy):
    """assert_matches(got, want, rtol=0, atol=0): got is a device array with want's
    shape and dtype, NaN exactly where want has NaN (a poisoned element left
    unwritten fails), and within the tolerances elsewhere (0, 0: bit-identical)."""

    def check(got, want, rtol=0.0, atol=0.0, err_msg=""):
        assert isinstance(got, cupy.ndarray), f"{err_msg}: a {type(got).__name__}, not a device array"
        got = cupy.asnumpy(got)
        want = np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, (
            f"{err_msg}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}")
        if want.dtype.kind != "f":
            np.testing.assert_array_equal(got, want, err_msg=err_msg)
            return
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{err_msg}: NaN (unwritten?) elements")
        if rtol == 0 and atol == 0:
            np.testing.assert_array_equal(got, want, err_msg=err_msg)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=err_msg)

    return check
