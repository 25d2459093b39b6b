"""CUDA conv2d / conv_transpose2d (forward and backward) against the CPU twin
on the same inputs. Skipped without a GPU, CuPy and a CUDA build."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

CASES = [
    (2, 4, 9, 11, 6, 3, 3, dict(padding=1)),
    (3, 6, 10, 7, 4, 3, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (2, 8, 8, 8, 8, 3, 3, dict(padding=1, groups=8)),
    (1, 5, 6, 6, 7, 1, 1, dict()),
    (2, 3, 17, 19, 70, 7, 7, dict(stride=2, padding=3)),
    (4, 20, 12, 12, 50, 5, 5, dict()),
]


def to_gpu(*arrays):
    cupy = pytest.importorskip("cupy")
    return [cupy.asarray(a) for a in arrays]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_conv2d_matches_cpu_twin(case, dtype):
    N, C, H, W, K, R, S, opts = case
    rng = np.random.default_rng(0)
    groups = opts.get("groups", 1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    want = ops.conv2d(x, w, b, **opts)
    gy = rng.standard_normal(want.shape).astype(dtype)
    want_grads = ops.conv2d_backward(gy, x, w, **opts)
    dx, dw, db, dgy = to_gpu(x, w, b, gy)
    got = ops.conv2d(dx, dw, db, **opts)
    assert type(got) is type(dx)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got.get(), want, rtol=tol, atol=tol)
    for g, w_ in zip(ops.conv2d_backward(dgy, dx, dw, **opts), want_grads):
        np.testing.assert_allclose(g.get(), w_, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", CASES[:3], ids=range(3))
def test_conv_transpose2d_matches_cpu_twin(case):
    N, C, H, W, K, R, S, opts = case
    rng = np.random.default_rng(1)
    groups = opts.get("groups", 1)
    topts = dict(opts, output_padding=1 if opts.get("stride", 1) != 1 else 0)
    x = rng.standard_normal((N, K, 5, 4)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, R, S)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    want = ops.conv_transpose2d(x, w, b, **topts)
    gy = rng.standard_normal(want.shape).astype(np.float32)
    want_grads = ops.conv_transpose2d_backward(gy, x, w, **topts)
    dx, dw, db, dgy = to_gpu(x, w, b, gy)
    np.testing.assert_allclose(ops.conv_transpose2d(dx, dw, db, **topts).get(), want, rtol=1e-4, atol=1e-4)
    for g, w_ in zip(ops.conv_transpose2d_backward(dgy, dx, dw, **topts), want_grads):
        np.testing.assert_allclose(g.get(), w_, rtol=1e-4, atol=1e-3)


def test_results_are_deterministic():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    dx, dw = to_gpu(x, w)
    first = ops.conv2d(dx, dw, padding=1).get()
    assert np.array_equal(first, ops.conv2d(dx, dw, padding=1).get())
