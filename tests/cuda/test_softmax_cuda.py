"""CUDA softmax family against the CPU twin, outputs poisoned: rows of a
contiguous class axis (a warp per row, 8 rows a block) and non-last axes (a
thread per position, 256 a block), class and position counts around those
multiples, more positions than the grid has groups, in place, every
cross-entropy option, bad targets."""

import itertools

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

# (shape, dim): rows x classes with classes 1, 31, 32, 33, 1023, 1025 and rows 1, 7, 8, 9, 257;
# then non-last axes with 51, 210, 255, 256, 257 and 1023 positions (outer * inner)
SOFTMAX_CASES = [((1, 1), -1), ((7, 31), -1), ((8, 32), 1), ((9, 33), -1), ((3, 1023), -1), ((2, 1025), 1),
                 ((257, 5), -1), ((7,), 0), ((3, 33, 17), 1), ((2, 3, 70), 0), ((3, 4, 85), 1), ((2, 3, 128), 1),
                 ((1, 5, 257), 1), ((31, 4, 33), 1), ((4, 1, 64), 1),
                 ((5, 4), -1), ((3, 128), 1), ((2, 1024), -1), ((33, 36), 1)]  # whole 4-element vectors per row
# logits shapes for cross_entropy: (C,), (N, C) (a warp per row) and (N, C, d...) (a thread per position,
# 60, 140, 255, 256, 257 and 1023 positions)
CE_SHAPES = [(1, 1), (7, 31), (8, 32), (9, 33), (3, 1025), (257, 5), (9,), (5, 4), (3, 1024), (12,),
             (3, 7, 5, 4), (2, 1, 70), (5, 3, 51), (2, 5, 128), (1, 33, 257), (31, 2, 33)]


def tol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-11


def logits(rng, shape, dtype):
    x = rng.standard_normal(shape) * 3
    x.reshape(-1)[rng.random(x.size) < 0.02] = -np.inf  # a class that never wins
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_backward_match_cpu(rng, cupy, poisoned, assert_matches, dtype):
    for (shape, dim), log in itertools.product(SOFTMAX_CASES, (False, True)):
        f, f_backward = (ops.log_softmax, ops.log_softmax_backward) if log else (ops.softmax, ops.softmax_backward)
        x = logits(rng, shape, dtype)
        g = rng.standard_normal(shape).astype(dtype)
        want = f(x, dim)
        out = poisoned(shape, dtype)
        assert f(cupy.asarray(x), dim, out=out) is out
        assert_matches(out, want, tol(dtype), tol(dtype), err_msg=f"{shape} {dim} log={log}")
        grad = poisoned(shape, dtype)
        assert f_backward(cupy.asarray(g), out, dim, out=grad) is grad
        assert_matches(grad, f_backward(g, want, dim), tol(dtype), tol(dtype), err_msg=f"{shape} {dim} log={log}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [1, 2, 4])
def test_rows_of_vectors_at_unaligned_addresses(rng, cupy, poisoned, assert_matches, dtype, offset):
    """Rows of 4-element multiples start 16-byte aligned only when the array does:
    inputs and outputs offset by 1, 2 or 4 elements from an aligned buffer."""
    shape = (6, 36)
    n = int(np.prod(shape))

    def at_offset(host):
        buffer = cupy.asarray(np.full(n + offset, np.nan, dtype))
        view = buffer[offset:].reshape(shape)
        view[...] = cupy.asarray(host)
        return view

    x, g = logits(rng, shape, dtype), rng.standard_normal(shape).astype(dtype)
    for f, f_backward in ((ops.softmax, ops.softmax_backward), (ops.log_softmax, ops.log_softmax_backward)):
        want = f(x, -1)
        out = at_offset(np.full(shape, np.nan, dtype))
        assert_matches(f(at_offset(x), -1, out=out), want, tol(dtype), tol(dtype))
        grad = at_offset(np.full(shape, np.nan, dtype))
        assert_matches(f_backward(at_offset(g), at_offset(want), -1, out=grad), f_backward(g, want, -1),
                       tol(dtype), tol(dtype))


def test_softmax_in_place_and_rows_of_minus_inf(rng, cupy, assert_matches):
    for shape, dim in [((9, 33), 1), ((3, 5, 40), 1)]:
        x = logits(rng, shape, np.float64)
        x[1] = -np.inf  # every class impossible: NaN, as on the CPU
        for log in (False, True):
            f, f_backward = (ops.log_softmax, ops.log_softmax_backward) if log else (ops.softmax, ops.softmax_backward)
            want = f(x, dim)
            dx = cupy.asarray(x)
            assert f(dx, dim, out=dx) is dx
            assert_matches(dx, want, 1e-12, 1e-12)
            g = rng.standard_normal(shape)
            dg = cupy.asarray(g)
            assert f_backward(dg, dx, dim, out=dg) is dg
            assert_matches(dg, f_backward(g, want, dim), 1e-12, 1e-12)


def test_more_positions_than_the_grid_has_groups(rng, cupy, poisoned, assert_matches):
    """1024 blocks hold 8192 warps (rows) or 262144 threads (positions): beyond, each loops."""
    for shape, dim in [((8195, 3), 1), ((1, 2, 262147), 1)]:
        x = logits(rng, shape, np.float32)
        want = ops.log_softmax(x, dim)
        got = ops.log_softmax(cupy.asarray(x), dim, out=poisoned(shape, np.float32))
        assert_matches(got, want, 2e-5, 2e-5)
        g = rng.standard_normal(shape).astype(np.float32)
        assert_matches(ops.log_softmax_backward(cupy.asarray(g), got, dim, out=poisoned(shape, np.float32)),
                       ops.log_softmax_backward(g, want, dim), 2e-5, 2e-5)
        t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
        loss, grad = ops.cross_entropy_with_grad(cupy.asarray(x), cupy.asarray(t), reduction="sum",
                                                 out=poisoned((), np.float32), grad_out=poisoned(shape, np.float32))
        want_loss, want_grad = ops.cross_entropy_with_grad(x, t, reduction="sum")
        assert_matches(loss, want_loss, 1e-5, 0)
        assert_matches(grad, want_grad, 2e-5, 2e-5)


def targets(rng, kind, shape, dtype):
    C = shape[0] if len(shape) == 1 else shape[1]
    positions = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if kind == "prob":
        return rng.uniform(0, 1, shape).astype(dtype)
    t = rng.integers(0, C, positions).astype(np.int64)
    if t.size > 2:
        t.reshape(-1)[::3] = -100
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_cross_entropy_matches_cpu(rng, cupy, poisoned, assert_matches, dtype, kind):
    for shape in CE_SHAPES:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        C = shape[0] if len(shape) == 1 else shape[1]
        positions = () if len(shape) == 1 else (shape[0],) + shape[2:]
        w = rng.uniform(0.5, 2, C).astype(dtype)
        t = targets(rng, kind, shape, dtype)
        dx, dt = cupy.asarray(x), cupy.asarray(t)
        for weighted, reduction, smoothing in itertools.product((False, True), ("mean", "sum", "none"), (0.0, 0.2)):
            kw = dict(weight=w if weighted else None, reduction=reduction, label_smoothing=smoothing)
            dkw = dict(kw, weight=cupy.asarray(w) if weighted else None)
            what = f"{shape} {kw}"
            loss_shape = positions if reduction == "none" else ()
            go = rng.standard_normal(loss_shape).astype(dtype) if reduction == "none" else 1.3
            want_loss, want_grad = ops.cross_entropy_with_grad(x, t, grad_output=go, **kw)
            loss, grad = poisoned(loss_shape, dtype), poisoned(shape, dtype)
            dgo = cupy.asarray(go) if reduction == "none" else go
            got_loss, got_grad = ops.cross_entropy_with_grad(dx, dt, grad_output=dgo, out=loss, grad_out=grad, **dkw)
            assert got_loss is loss and got_grad is grad
            assert_matches(loss, want_loss, tol(dtype) * 10, tol(dtype), err_msg=what)
            assert_matches(grad, want_grad, tol(dtype), tol(dtype), err_msg=what)
            assert_matches(ops.cross_entropy(dx, dt, out=poisoned(loss_shape, dtype), **dkw), want_loss,
                           tol(dtype) * 10, tol(dtype), err_msg=what)
            back = ops.cross_entropy_backward(dgo, dx, dt, out=poisoned(shape, dtype), **dkw)
            assert_matches(back, want_grad, tol(dtype), tol(dtype), err_msg=what)


@pytest.mark.parametrize("offset", [1, 2, 4])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_cross_entropy_rows_of_vectors_at_unaligned_addresses(rng, cupy, assert_matches, offset, kind):
    """Rows of 4-element multiples, logits, target probabilities and gradient
    each offset by 1, 2 or 4 float32 elements from an aligned buffer."""
    shape = (6, 36)

    def at_offset(host):
        buffer = cupy.asarray(np.full(host.size + offset, np.nan, host.dtype))
        view = buffer[offset:].reshape(host.shape)
        view[...] = cupy.asarray(host)
        return view

    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    t = targets(rng, kind, shape, np.float32)
    want_loss, want_grad = ops.cross_entropy_with_grad(x, t)
    dt = at_offset(t) if kind == "prob" else cupy.asarray(t)
    grad = at_offset(np.full(shape, np.nan, np.float32))
    loss, got_grad = ops.cross_entropy_with_grad(at_offset(x), dt, grad_out=grad)
    assert got_grad is grad
    assert_matches(loss, want_loss, 2e-5, 2e-6)
    assert_matches(grad, want_grad, 2e-5, 2e-6)


@pytest.mark.parametrize("shape", [(9, 33), (2, 5, 7)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_gradient_in_place(rng, cupy, assert_matches, shape, reduction):
    """grad_out may be the logits themselves; every lane of a row reads the target's
    logit, so none may overwrite it first."""
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    positions = (shape[0],) + shape[2:]
    for t in [np.zeros(positions, np.int64), rng.integers(0, shape[1], positions)]:
        want_loss, want_grad = ops.cross_entropy_with_grad(x, t, reduction=reduction, label_smoothing=0.1)
        dx = cupy.asarray(x)
        loss, grad = ops.cross_entropy_with_grad(dx, cupy.asarray(t), reduction=reduction, label_smoothing=0.1,
                                                 grad_out=dx)
        assert grad is dx
        assert_matches(loss, want_loss, 2e-4, 2e-5)
        assert_matches(grad, want_grad, 2e-5, 2e-5)


def test_cross_entropy_grad_output_array_and_ignored_targets(rng, cupy, poisoned, assert_matches):
    x = (rng.standard_normal((9, 33)) * 3).astype(np.float64)
    t = rng.integers(0, 33, 9)
    for go in (np.array(0.7), np.array([-2.5])):  # one element, for a reduced loss
        for reduction in ("mean", "sum", "none"):
            want = ops.cross_entropy_backward(go, x, t, reduction=reduction)
            got = ops.cross_entropy_backward(cupy.asarray(go), cupy.asarray(x), cupy.asarray(t), reduction=reduction,
                                             out=poisoned(x.shape, np.float64))
            assert_matches(got, want, 1e-12, 1e-12)
    ignored = np.full(9, -100)
    for reduction in ("mean", "sum", "none"):  # mean of nothing: the CPU's answer (0 / 0)
        want_loss, want_grad = ops.cross_entropy_with_grad(x, ignored, reduction=reduction)
        loss, grad = ops.cross_entropy_with_grad(cupy.asarray(x), cupy.asarray(ignored), reduction=reduction,
                                                 out=poisoned(want_loss.shape, np.float64),
                                                 grad_out=poisoned(x.shape, np.float64))
        assert_matches(loss, want_loss)
        assert_matches(grad, want_grad)


def test_cross_entropy_extreme_logits_and_determinism(rng, cupy, assert_matches):
    x = rng.uniform(-1e4, 1e4, (8200, 21)).astype(np.float32)
    t = rng.integers(0, 21, 8200)
    dx, dt = cupy.asarray(x), cupy.asarray(t)
    loss, grad = ops.cross_entropy_with_grad(dx, dt)
    want_loss, want_grad = ops.cross_entropy_with_grad(x, t)
    assert np.isfinite(float(loss))
    assert_matches(loss, want_loss, 1e-5, 0)
    assert_matches(grad, want_grad, 0, 1e-8)
    again, _ = ops.cross_entropy_with_grad(dx, dt)
    assert float(again) == float(loss)


def test_bad_targets_raise(rng, cupy):
    x = cupy.asarray(rng.standard_normal((6, 5)).astype(np.float32))
    with pytest.raises(ValueError, match=r"target 7 \(at flat position 2\) is out of bounds"):
        ops.cross_entropy(x, cupy.asarray(np.array([0, 1, 7, 2, -100, 4])))
    with pytest.raises(ValueError, match=r"target -3 \(at flat position 50\) is out of bounds"):
        t = np.zeros((3, 50), np.int64)
        t[1, 0], t[2, 3] = -3, 9
        ops.cross_entropy_backward(1.0, cupy.asarray(rng.standard_normal((3, 5, 50)).astype(np.float32)),
                                   cupy.asarray(t))
    p = np.full((6, 5), 0.2, np.float32)
    p[1, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        ops.cross_entropy(x, cupy.asarray(p))
    with pytest.raises(ValueError, match="must be on the device of input"):
        ops.cross_entropy(x, np.zeros(6, np.int64))
