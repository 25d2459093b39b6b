"""Fixtures shared by the CUDA tests: CuPy (or its emulator stand-in), poisoned
outputs, and the comparison of a device result with the CPU twin's."""

import numpy as np
import pytest

INT_POISON = -(2**62) - 7


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


def _poison_value(dtype):
    return np.nan if np.dtype(dtype).kind == "f" else INT_POISON


@pytest.fixture
def poisoned(cupy):
    """poisoned(shape, dtype): a device array full of NaN (integers: INT_POISON), to
    pass as out=, so an element the kernel forgets to write shows."""

    def make(shape, dtype):
        return cupy.full(shape, _poison_value(dtype), dtype)

    return make


@pytest.fixture
def poison_outputs(cupy, monkeypatch):
    """Every device output nncore.ops allocates itself (through cupy.empty) starts
    poisoned, for the ops whose outputs cannot all be passed as out=."""
    plain_empty = cupy.empty

    def poisoned_empty(shape, dtype=float, *args, **kwargs):
        out = plain_empty(shape, dtype, *args, **kwargs)
        out.fill(_poison_value(out.dtype))
        return out

    monkeypatch.setattr(cupy, "empty", poisoned_empty)


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
