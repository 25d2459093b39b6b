"""CUDA softmax family against the CPU twin: rows (warp per row) and non-last
axes (thread per position), every cross-entropy option, bad targets."""

import itertools

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


def tol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-11


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, dim", [((37, 21), -1), ((5, 1000), 1), ((3, 33, 17), 1), ((2, 3, 70), 0),
                                        ((64, 1), 1), ((7,), 0)])
def test_softmax_matches_cpu(cupy, rng, dtype, shape, dim):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for log in (False, True):
        f = ops.log_softmax if log else ops.softmax
        b = ops.log_softmax_backward if log else ops.softmax_backward
        want = f(x, dim)
        out = cupy.full(shape, np.nan, dtype)
        got = f(cupy.asarray(x), dim, out=out)
        assert got is out
        np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=tol(dtype), atol=tol(dtype))
        want_b = b(g, want, dim)
        got_b = b(cupy.asarray(g), cupy.asarray(want), dim)
        np.testing.assert_allclose(cupy.asnumpy(got_b), want_b, rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_matches_cpu(cupy, rng, dtype):
    for shape in [(37, 21), (4, 1000), (3, 7, 5, 4), (2, 5, 70), (9,)]:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        C = shape[0] if len(shape) == 1 else shape[1]
        positions = () if len(shape) == 1 else (shape[0],) + shape[2:]
        w = rng.uniform(0.5, 2, C).astype(dtype)
        for kind, weighted, reduction, smoothing in itertools.product(("index", "prob"), (False, True),
                                                                      ("mean", "sum", "none"), (0.0, 0.2)):
            if kind == "index":
                t = rng.integers(0, C, positions).astype(np.int64)
                if t.ndim and t.size > 2:
                    t.reshape(-1)[::3] = -100
            else:
                t = rng.uniform(0, 1, shape).astype(dtype)
            go = rng.standard_normal(positions).astype(dtype) if reduction == "none" else 1.3
            kw = dict(weight=w if weighted else None, reduction=reduction, label_smoothing=smoothing)
            want_loss, want_grad = ops.cross_entropy_with_grad(x, t, grad_output=go, **kw)
            dkw = dict(kw, weight=cupy.asarray(w) if weighted else None)
            got_loss, got_grad = ops.cross_entropy_with_grad(
                cupy.asarray(x), cupy.asarray(t), grad_output=cupy.asarray(go) if reduction == "none" else go, **dkw)
            np.testing.assert_allclose(cupy.asnumpy(got_loss), want_loss, rtol=tol(dtype) * 10, atol=tol(dtype))
            np.testing.assert_allclose(cupy.asnumpy(got_grad), want_grad, rtol=tol(dtype), atol=tol(dtype))
            back = ops.cross_entropy_backward(cupy.asarray(go) if reduction == "none" else go, cupy.asarray(x),
                                              cupy.asarray(t), **dkw)
            np.testing.assert_allclose(cupy.asnumpy(back), want_grad, rtol=tol(dtype), atol=tol(dtype))


def test_cross_entropy_extreme_logits_and_determinism(cupy, rng):
    x = rng.uniform(-1e4, 1e4, (69856, 21)).astype(np.float32)
    t = rng.integers(0, 21, 69856)
    dx, dt = cupy.asarray(x), cupy.asarray(t)
    loss, grad = ops.cross_entropy_with_grad(dx, dt)
    want_loss, want_grad = ops.cross_entropy_with_grad(x, t)
    assert np.isfinite(float(loss))
    np.testing.assert_allclose(float(loss), float(want_loss), rtol=1e-5)
    np.testing.assert_allclose(cupy.asnumpy(grad), want_grad, atol=1e-8)
    again, _ = ops.cross_entropy_with_grad(dx, dt)
    assert float(again) == float(loss)


def test_bad_targets_raise(cupy, rng):
    x = cupy.asarray(rng.standard_normal((6, 5)).astype(np.float32))
    with pytest.raises(ValueError, match=r"target 7 \(at flat position 2\) is out of bounds"):
        ops.cross_entropy(x, cupy.asarray(np.array([0, 1, 7, 2, -100, 4])))
    p = np.full((6, 5), 0.2, np.float32)
    p[1, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        ops.cross_entropy(x, cupy.asarray(p))
    with pytest.raises(ValueError, match="must be on the device of input"):
        ops.cross_entropy(x, np.zeros(6, np.int64))
