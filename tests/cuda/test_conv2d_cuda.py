"""CUDA conv2d / conv_transpose2d (forward and backward) against the CPU twin
on the same fresh inputs, outputs poisoned first, at channel and pixel counts
around the 64x64 GEMM tile and its 16-deep slabs (1, 15, 16, 17, 63, 64, 65)."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

CASES = [  # N, C, H, W, K, R, S, options
    (2, 4, 9, 11, 6, 3, 3, dict(padding=1)),
    (3, 6, 10, 7, 4, 3, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (2, 8, 8, 8, 8, 3, 3, dict(padding=1, groups=8)),
    (1, 5, 6, 6, 7, 1, 1, dict()),
    (1, 1, 1, 1, 1, 1, 1, dict()),
    (2, 3, 17, 19, 70, 7, 7, dict(stride=2, padding=3)),
    (4, 20, 12, 12, 50, 5, 5, dict()),
    (1, 16, 8, 8, 65, 1, 1, dict()),   # reduction exactly one slab, K one past a tile
    (1, 17, 4, 16, 64, 1, 1, dict()),  # one past a slab; 64 pixels: one tile
    (2, 7, 5, 13, 63, 3, 3, dict(padding=1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_conv2d_matches_cpu_twin(cupy, rng, poisoned, poison_outputs, assert_matches, case, dtype):
    N, C, H, W, K, R, S, opts = case
    groups = opts.get("groups", 1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    want = ops.conv2d(x, w, b, **opts)
    gy = rng.standard_normal(want.shape).astype(dtype)
    want_grads = ops.conv2d_backward(gy, x, w, **opts)
    dx, dw, db, dgy = (cupy.asarray(a) for a in (x, w, b, gy))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    out = poisoned(want.shape, dtype)
    assert ops.conv2d(dx, dw, db, out=out, **opts) is out
    assert_matches(out, want, rtol=tol, atol=tol)
    assert_matches(ops.conv2d(dx, dw, None, **opts), ops.conv2d(x, w, None, **opts), rtol=tol, atol=tol)
    for got, w_, name in zip(ops.conv2d_backward(dgy, dx, dw, **opts), want_grads, ("dx", "dw", "db")):
        assert_matches(got, w_, rtol=tol, atol=tol * 10, err_msg=name)


@pytest.mark.parametrize("case", CASES[:3] + CASES[6:8], ids=range(5))
def test_conv_transpose2d_matches_cpu_twin(cupy, rng, poisoned, poison_outputs, assert_matches, case):
    N, C, H, W, K, R, S, opts = case
    groups = opts.get("groups", 1)
    topts = dict(opts, output_padding=1 if opts.get("stride", 1) != 1 else 0)
    x = rng.standard_normal((N, K, 5, 4)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, R, S)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    want = ops.conv_transpose2d(x, w, b, **topts)
    gy = rng.standard_normal(want.shape).astype(np.float32)
    want_grads = ops.conv_transpose2d_backward(gy, x, w, **topts)
    dx, dw, db, dgy = (cupy.asarray(a) for a in (x, w, b, gy))
    out = poisoned(want.shape, np.float32)
    assert_matches(ops.conv_transpose2d(dx, dw, db, out=out, **topts), want, rtol=1e-4, atol=1e-4)
    for got, w_, name in zip(ops.conv_transpose2d_backward(dgy, dx, dw, **topts), want_grads, ("dx", "dw", "db")):
        assert_matches(got, w_, rtol=1e-4, atol=1e-3, err_msg=name)


def test_results_are_deterministic(cupy, rng):
    x = rng.standard_normal((4, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    dx, dw = cupy.asarray(x), cupy.asarray(w)
    first = ops.conv2d(dx, dw, padding=1).get()
    assert np.array_equal(first, ops.conv2d(dx, dw, padding=1).get())
    gy = cupy.asarray(rng.standard_normal(first.shape).astype(np.float32))
    grads = [g.get() for g in ops.conv2d_backward(gy, dx, dw, padding=1)]
    assert all(np.array_equal(a, g.get()) for a, g in zip(grads, ops.conv2d_backward(gy, dx, dw, padding=1)))
