"""The TF32 tensor-core path of the CUDA GEMM and convolutions: off by default;
when enabled, float32 products equal a float64 product of inputs rounded to TF32
(10 mantissa bits, nearest, ties away) up to float32 accumulation error."""

import numpy as np
import pytest

import nncore
from nncore import ops

pytestmark = pytest.mark.cuda

cp = pytest.importorskip("cupy")


def to_tf32(x):
    """Rounds float32 to TF32 as cvt.rna.tf32.f32 does."""
    bits = np.ascontiguousarray(x, np.float32).view(np.uint32)
    finite = (bits & 0x7F800000) != 0x7F800000
    rounded = np.where(finite, (bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000), bits)
    return rounded.astype(np.uint32).view(np.float32)


@pytest.fixture
def tf32():
    assert not nncore.cuda.tf32_enabled()
    nncore.cuda.set_tf32_enabled(True)
    yield
    nncore.cuda.set_tf32_enabled(False)


def test_tf32_rounding_reference():
    one, half_ulp, tiny = 1.0, 2.0**-11, 2.0**-23
    x = np.array([one, one + half_ulp, one + 2 * half_ulp + half_ulp, -(one + half_ulp), one + half_ulp - tiny,
                  np.inf, -np.inf], np.float32)
    want = [one, one + 2 * half_ulp, one + 4 * half_ulp, -(one + 2 * half_ulp), one, np.inf, -np.inf]
    np.testing.assert_array_equal(to_tf32(x), np.array(want, np.float32))
    assert np.isnan(to_tf32(np.array([np.nan], np.float32)))[0]


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (33, 65, 17), (64, 64, 64), (70, 31, 129)])
def test_gemm_tf32_matches_rounded_reference(tf32, rng, poisoned, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    out = poisoned((m, n), np.float32)
    got = cp.asnumpy(ops.gemm(cp.asarray(a), cp.asarray(b), trans_a=trans_a, trans_b=trans_b, out=out))
    ra, rb = to_tf32(a).astype(np.float64), to_tf32(b).astype(np.float64)
    want = (ra.T if trans_a else ra) @ (rb.T if trans_b else rb)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6 * np.sqrt(k))
    exact = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    if k >= 17:  # the rounding is visible: TF32 keeps 10 bits of the 23
        assert np.abs(got - exact).max() > 1e-5


def test_float64_and_default_float32_ignore_tf32(rng):
    a = rng.standard_normal((40, 50))
    b = rng.standard_normal((50, 30))
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        da, db = cp.asarray(a.astype(dtype)), cp.asarray(b.astype(dtype))
        nncore.cuda.set_tf32_enabled(dtype == np.float64)
        try:
            got = cp.asnumpy(ops.gemm(da, db))
        finally:
            nncore.cuda.set_tf32_enabled(False)
        np.testing.assert_allclose(got, a.astype(dtype).astype(np.float64) @ b.astype(dtype), rtol=tol, atol=tol)


def test_conv2d_tf32_matches_rounded_reference(tf32, rng):
    x = rng.standard_normal((2, 5, 9, 11)).astype(np.float32)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    got = cp.asnumpy(ops.conv2d(cp.asarray(x), cp.asarray(w), padding=1))
    want = ops.conv2d(to_tf32(x).astype(np.float64), to_tf32(w).astype(np.float64), padding=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=5e-5)
