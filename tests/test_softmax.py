"""ops.softmax / log_softmax (+ backward) and ops.cross_entropy (loss, fused
gradient, backward) against float64 NumPy references, every twin."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import ops

from support import isa, poisoned

SIZES = list(range(1, 18)) + [21, 31, 32, 33, 97, 1000]


# --- float64 references -------------------------------------------------------

def ref_log_softmax(x, dim):
    x = x.astype(np.float64)
    d = x - x.max(axis=dim, keepdims=True)
    return d - np.log(np.exp(d).sum(axis=dim, keepdims=True))


def ref_softmax(x, dim):
    return np.exp(ref_log_softmax(x, dim))


def rows_of(x):
    """(C,) or (N, C, d1, ...) as (positions, C), positions in (N, d1, ...) order."""
    if x.ndim == 1:
        return x[None, :]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def positions_shape(x):
    return () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]


def ref_cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                      grad_output=1.0):
    """(loss, grad_output * d loss / d x) as torch.nn.functional.cross_entropy defines them,
    the gradient by the chain rule through log_softmax."""
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    logp = ref_log_softmax(rows_of(x.astype(np.float64)), -1)
    p = np.exp(logp)
    w = np.ones(C) if weight is None else weight.astype(np.float64)
    eps = label_smoothing
    dloss_dlogp = np.zeros_like(logp)  # per position, d loss_i / d logp_ic
    losses = np.zeros(len(logp))
    if target.dtype.kind == "f":
        t = (1 - eps) * rows_of(target.astype(np.float64)) + eps / C
        losses = -(w * t * logp).sum(-1)
        dloss_dlogp = -w * t
        denom = float(len(logp)) if x.size else np.nan
    else:
        denom = 0.0
        for i, y in enumerate(np.asarray(target).reshape(-1)):
            if y == ignore_index:
                continue
            losses[i] = (1 - eps) * -w[y] * logp[i, y] + eps / C * -(w * logp[i]).sum()
            dloss_dlogp[i] = -eps / C * w
            dloss_dlogp[i, y] -= (1 - eps) * w[y]
            denom += w[y]
    go = np.asarray(grad_output, np.float64)
    if reduction == "none":
        loss, g = losses.reshape(positions_shape(x)), np.broadcast_to(go, positions_shape(x)).reshape(-1)
    elif reduction == "sum":
        loss, g = losses.sum(), np.full(len(losses), float(go))
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            loss, g = losses.sum() / denom, np.full(len(losses), np.float64(go) / denom)
    if target.dtype.kind != "f":
        g = np.where(np.asarray(target).reshape(-1) == ignore_index, 0.0, g)  # ignored: gradient 0
    grad_rows = g[:, None] * (dloss_dlogp - p * dloss_dlogp.sum(-1, keepdims=True))
    if x.ndim == 1:
        grad = grad_rows[0]
    else:
        grad = np.moveaxis(grad_rows.reshape((x.shape[0],) + x.shape[2:] + (C,)), -1, 1)
    return loss, grad


def assert_close(got, want, tol, what=""):
    got = np.asarray(got, np.float64)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    assert np.all(np.isfinite(got) | ~np.isfinite(want)), f"{what}: unwritten (NaN-poisoned) or non-finite elements"
    err = np.abs(got - want)
    assert np.all(err <= tol), f"{what}: max error {np.max(err)}, tolerance {np.min(tol)}"


def logits(rng, shape, scale=3.0, dtype=np.float32):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# --- softmax / log_softmax ------------------------------------------------------

@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_of_every_size(each_isa, rng, log):
    for c in SIZES:
        rows = 37 if c <= 64 else 5  # short rows: groups of 8 / 16 rows and a remainder
        x = logits(rng, (rows, c))
        out = poisoned((rows, c))
        (ops.log_softmax if log else ops.softmax)(x, -1, out=out)
        if log:
            want = ref_log_softmax(x, -1)
            assert_close(out, want, 2e-6 * (1 + np.abs(want)) + 1e-6 * np.abs(x), f"C={c}")
        else:
            want = ref_softmax(x, -1)
            assert_close(out, want, 1e-6 * want + 1e-9, f"C={c}")


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 7, 17), (3, 5, 33), (2, 3, 70), (1, 9, 129), (4, 1, 3)])
def test_softmax_any_axis(each_isa, rng, shape, log):
    x = logits(rng, shape)
    for dim in range(-len(shape), len(shape)):
        out = poisoned(shape)
        (ops.log_softmax if log else ops.softmax)(x, dim, out=out)
        want = ref_log_softmax(x, dim) if log else ref_softmax(x, dim)
        assert_close(out, want, 2e-6 * (1 + np.abs(want)) + 1e-6 * np.abs(x), f"dim={dim}")


def test_softmax_zero_d_and_empty(each_isa):
    assert ops.softmax(np.array(3.0, np.float32)) == 1.0
    assert ops.log_softmax(np.array(3.0, np.float32), 0) == 0.0
    assert ops.softmax(np.ones((0, 5), np.float32)).shape == (0, 5)
    assert ops.log_softmax(np.ones((4, 0), np.float32), 1).shape == (4, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_logits(each_isa, rng, dtype):
    x = rng.uniform(-1e4, 1e4, (6, 37)).astype(dtype)
    x[1] = 1e4
    x[2, ::2] = -1e4
    x[3, 5] = -np.inf
    for dim in (1, 0):
        y = ops.softmax(x, dim)
        assert_close(y, ref_softmax(x, dim), 1e-6 * ref_softmax(x, dim) + 1e-30)
        ly = ops.log_softmax(x, dim)
        want = ref_log_softmax(x, dim)
        fin = np.isfinite(want)
        assert np.array_equal(np.isfinite(ly), fin)
        assert np.all(np.abs(ly[fin] - want[fin]) <= 1e-6 * np.abs(want[fin]) + 1e-5)


def test_softmax_in_place(each_isa, rng):
    x = logits(rng, (9, 23))
    want = ref_softmax(x, 1)
    y = ops.softmax(x, 1, out=x)
    assert y is x
    assert_close(x, want, 1e-6 * want + 1e-9)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape, dim", [((7, 21), -1), ((5, 1000), 1), ((3, 17, 9), 1), ((2, 3, 70), 1), ((16, 5), 0)])
def test_softmax_backward(each_isa, rng, shape, dim, log):
    x = logits(rng, shape)
    g = rng.standard_normal(shape).astype(np.float32)
    if log:
        y = ref_log_softmax(x, dim).astype(np.float32)
        want = g - np.exp(y.astype(np.float64)) * g.astype(np.float64).sum(dim, keepdims=True)
        got = ops.log_softmax_backward(g, y, dim, out=poisoned(shape))
    else:
        y = ref_softmax(x, dim).astype(np.float32)
        y64, g64 = y.astype(np.float64), g.astype(np.float64)
        want = y64 * (g64 - (g64 * y64).sum(dim, keepdims=True))
        got = ops.softmax_backward(g, y, dim, out=poisoned(shape))
    scale = np.abs(g).sum(dim, keepdims=True) + np.abs(g)
    assert_close(got, want, 1e-5 * scale)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape, dim", [((3, 7), 1), ((2, 5, 3), 1), ((4, 3), 0)])
def test_softmax_backward_finite_differences(rng, shape, dim, log):
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    f = ops.log_softmax if log else ops.softmax
    grad = (ops.log_softmax_backward if log else ops.softmax_backward)(g, f(x, dim).copy(), dim)
    h = 1e-6
    fd = np.zeros(shape)
    for idx in np.ndindex(*shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = ((g * f(xp, dim)).sum() - (g * f(xm, dim)).sum()) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_softmax_float64_is_exact(rng):
    x = rng.standard_normal((11, 13))
    np.testing.assert_allclose(ops.softmax(x, 0), ref_softmax(x, 0), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(ops.log_softmax(x, 1), ref_log_softmax(x, 1), rtol=1e-14, atol=1e-14)


# --- cross_entropy ------------------------------------------------------------

def make_target(rng, x, kind, ignore_index=-100):
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    if kind == "prob":
        t = rng.uniform(0, 1, x.shape)
        return (t / t.sum(axis=0 if x.ndim == 1 else 1, keepdims=True)).astype(x.dtype)
    t = rng.integers(0, C, positions_shape(x)).astype(np.int64)
    if t.ndim and t.size > 2:
        t.reshape(-1)[:: 3] = ignore_index
    return t


# row counts past 8 / 16 reach the grouped short-row kernels (and their remainders)
CE_SHAPES = [(1, 1), (3, 2), (7, 21), (5, 16), (4, 17), (2, 1000), (6, 13), (3, 5, 4, 7), (2, 7, 70), (5,),
             (37, 21), (50, 3), (20, 64), (33, 17), (17, 65)]


def loss_tolerance(x, w, reduction, loss):
    # float32 rounding, relative to the size of the terms summed
    scale = (np.abs(rows_of(x)).max() + np.log(rows_of(x).shape[1] + 1) + 1) * (1 if w is None else np.max(w))
    n = 1 if reduction != "sum" else max(rows_of(x).shape[0], 1)
    return 2e-6 * scale * n + 1e-6 * np.abs(loss)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_every_option(each_isa, rng, kind, weighted, reduction, label_smoothing):
    for shape in CE_SHAPES:
        x = logits(rng, shape)
        C = shape[0] if len(shape) == 1 else shape[1]
        w = rng.uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
        ignore_index = int(rng.integers(0, C)) if rng.uniform() < 0.3 and kind == "index" else -100
        t = make_target(rng, x, kind, ignore_index)
        if kind == "index" and len(shape) == 1:
            t = np.array(ignore_index if C == 1 else 0, np.int64)
        go = (rng.standard_normal(positions_shape(x)).astype(np.float32) if reduction == "none"
              else float(rng.uniform(0.5, 2)))
        want_loss, want_grad = ref_cross_entropy(x, t, w, ignore_index, reduction, label_smoothing, go)
        lshape = positions_shape(x) if reduction == "none" else ()
        kw = dict(weight=w, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
        what = f"shape={shape}"

        loss = ops.cross_entropy(x, t, out=poisoned(lshape), **kw)
        if np.all(np.isnan(want_loss)):
            assert np.all(np.isnan(loss))
        else:
            assert_close(loss, want_loss, loss_tolerance(x, w, reduction, want_loss), what)
        gscale = np.abs(np.asarray(go)).max() * (1 if w is None else np.max(w))
        if reduction == "mean":
            gscale /= 1 if kind == "prob" else max(1, (np.asarray(t) != ignore_index).sum() * 0.2)
        fused_loss, grad = ops.cross_entropy_with_grad(x, t, grad_output=go, out=poisoned(lshape),
                                                       grad_out=poisoned(shape), **kw)
        np.testing.assert_array_equal(fused_loss, loss)
        assert_close(grad, want_grad, 2e-6 * gscale, what + " fused grad")
        back = ops.cross_entropy_backward(go, x, t, out=poisoned(shape), **kw)
        np.testing.assert_array_equal(back, grad)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_finite_differences(rng, kind, reduction):
    for shape, smoothing, weighted in [((4, 6), 0.0, False), ((3, 5), 0.3, True), ((2, 3, 4), 0.1, True)]:
        x = rng.standard_normal(shape)
        C = shape[1]
        w = rng.uniform(0.5, 2, C) if weighted else None
        t = make_target(rng, x, kind)
        if kind == "index":
            t.reshape(-1)[0] = -100
        go = rng.standard_normal(positions_shape(x)) if reduction == "none" else 1.7
        kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
        grad = ops.cross_entropy_backward(go, x, t, **kw)

        def objective(v):
            return float((np.asarray(go) * ops.cross_entropy(v, t, **kw)).sum())

        h = 1e-6
        fd = np.zeros(shape)
        for idx in np.ndindex(*shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            fd[idx] = (objective(xp) - objective(xm)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("shape", [(9, 21), (3, 1000), (2, 5, 19)])
def test_cross_entropy_extreme_logits(each_isa, rng, kind, shape):
    x = rng.uniform(-1e4, 1e4, shape).astype(np.float32)
    x.reshape(-1)[:: 7] = 1e4
    x.reshape(-1)[1:: 5] = -1e4
    t = make_target(rng, x, kind)
    for reduction in ("mean", "sum", "none"):
        for smoothing in (0.0, 0.1):
            loss, grad = ops.cross_entropy_with_grad(x, t, reduction=reduction, label_smoothing=smoothing)
            want_loss, want_grad = ref_cross_entropy(x, t, None, -100, reduction, smoothing)
            assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
            n = 1 if reduction != "sum" else rows_of(x).shape[0]
            assert_close(loss, want_loss, 2e-6 * 2e4 * n * (1 + smoothing * shape[1]))
            assert_close(grad, want_grad, 1e-6)


def test_cross_entropy_ignored_and_empty(each_isa, rng):
    x = logits(rng, (4, 5))
    t = np.full(4, -100, np.int64)
    loss, grad = ops.cross_entropy_with_grad(x, t)
    assert np.isnan(loss)
    assert np.array_equal(grad, np.zeros_like(x))
    assert ops.cross_entropy(x, t, reduction="sum") == 0
    assert np.array_equal(ops.cross_entropy(x, t, reduction="none"), np.zeros(4, np.float32))
    empty = np.ones((0, 5), np.float32)
    assert np.isnan(ops.cross_entropy(empty, np.ones(0, np.int64)))
    assert ops.cross_entropy(empty, np.ones(0, np.int64), reduction="sum") == 0
    assert ops.cross_entropy(empty, np.ones(0, np.int64), reduction="none").shape == (0,)
    assert np.isnan(ops.cross_entropy(empty, empty.copy()))
    assert ops.cross_entropy_with_grad(empty, np.ones(0, np.int64))[1].shape == (0, 5)


def test_cross_entropy_grad_in_place_over_logits(each_isa, rng):
    x = logits(rng, (33, 21))
    t = make_target(rng, x, "index")
    want_loss, want_grad = ref_cross_entropy(x, t)
    loss, grad = ops.cross_entropy_with_grad(x, t, grad_out=x)
    assert grad is x
    assert_close(loss, want_loss, 1e-5)
    assert_close(x, want_grad, 1e-7)


def test_bad_targets_raise(each_isa, rng):
    x = logits(rng, (6, 5))
    t = np.array([0, 1, 7, 2, -100, 4])
    with pytest.raises(ValueError, match=r"cross_entropy: target 7 \(at flat position 2\) is out of bounds"):
        ops.cross_entropy(x, t)
    for fn in (lambda t: ops.cross_entropy_with_grad(x, t), lambda t: ops.cross_entropy_backward(1.0, x, t)):
        with pytest.raises(ValueError, match="target -3 "):
            fn(np.array([0, 1, -3, 2, 0, 0]))
    with pytest.raises(ValueError, match="target -100 "):
        ops.cross_entropy(x, np.array([0, -100, 1, 2, 3, 4]), ignore_index=1, reduction="none")
    assert np.isfinite(ops.cross_entropy(x, np.array([0, 3, 3, 2, 0, 1]), ignore_index=3))
    p = np.full((6, 5), 0.2, np.float32)
    p[3, 2] = np.nan
    with pytest.raises(ValueError, match="target probabilities must be finite"):
        ops.cross_entropy(x, p)
    p[3, 2] = np.inf
    with pytest.raises(ValueError, match="target probabilities must be finite"):
        ops.cross_entropy_with_grad(x, p, reduction="sum")
    x3 = logits(rng, (2, 5, 3, 20))
    t3 = make_target(rng, x3, "prob")
    t3[1, 2, 1, 17] = np.nan
    with pytest.raises(ValueError, match="finite"):
        ops.cross_entropy(x3, t3)


def test_simd_twins_match_scalar(rng):
    x = logits(rng, (301, 37))
    x4 = logits(rng, (3, 37, 9, 11))
    t = make_target(rng, x, "index")
    t4 = make_target(rng, x4, "prob")
    w = rng.uniform(0.5, 2, 37).astype(np.float32)
    with isa("scalar"):
        want = [ops.softmax(x4, 1).copy(), *[a.copy() for a in ops.cross_entropy_with_grad(x, t, w, label_smoothing=0.1)],
                *[a.copy() for a in ops.cross_entropy_with_grad(x4, t4, reduction="none")]]
    for name in ("avx2", "avx512"):
        if name not in nncore.build_info()["isa_compiled"]:
            continue
        order = ["scalar", "avx2", "avx512"]
        if order.index(name) > order.index(nncore.build_info()["isa_supported"]):
            continue
        with isa(name):
            got = [ops.softmax(x4, 1), *ops.cross_entropy_with_grad(x, t, w, label_smoothing=0.1),
                   *ops.cross_entropy_with_grad(x4, t4, reduction="none")]
        for g, w_ in zip(got, want):
            np.testing.assert_allclose(g, w_, rtol=2e-5, atol=2e-6)


def test_results_identical_across_runs_and_threads(rng):
    x = logits(rng, (5000, 21))
    t = make_target(rng, x, "index")
    x4 = logits(rng, (4, 21, 300))
    t4 = make_target(rng, x4, "index")
    before = nncore.get_num_threads()
    try:
        results = []
        for n in (2, 2, 1):
            nncore.set_num_threads(n)
            results.append([a.copy() for a in ops.cross_entropy_with_grad(x, t, label_smoothing=0.1)]
                           + [ops.cross_entropy(x4, t4).copy(), ops.softmax(x4, 1).copy()])
        for r in results[1:]:
            for a, b in zip(results[0], r):
                assert np.array_equal(a, b)
    finally:
        nncore.set_num_threads(before)


def test_torch_agrees(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for shape in [(7, 21), (4, 1000), (3, 6, 5, 4), (8,)]:
        x = logits(rng, shape)
        C = shape[0] if len(shape) == 1 else shape[1]
        w = rng.uniform(0.5, 2, C).astype(np.float32)
        for kind, reduction, smoothing, weighted in itertools.product(("index", "prob"), ("mean", "sum", "none"),
                                                                      (0.0, 0.15), (False, True)):
            t = make_target(rng, x, kind)
            if kind == "index" and len(shape) == 1:
                t = np.array(3, np.int64)
            tx = torch.from_numpy(x.copy()).requires_grad_()
            tl = F.cross_entropy(tx, torch.from_numpy(t), torch.from_numpy(w) if weighted else None,
                                 reduction=reduction, label_smoothing=smoothing)
            tl.sum().backward()
            loss, grad = ops.cross_entropy_with_grad(x, t, w if weighted else None, reduction=reduction,
                                                     label_smoothing=smoothing,
                                                     grad_output=np.ones(tl.shape, np.float32))
            scale = 1e-5 * (1 + np.abs(tl.detach().numpy()))
            assert np.all(np.abs(loss - tl.detach().numpy()) <= scale), (shape, kind, reduction, smoothing)
            np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-4, atol=1e-6)
        for dim in range(len(shape)):
            np.testing.assert_allclose(ops.softmax(x, dim), F.softmax(torch.from_numpy(x), dim).numpy(),
                                       rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(ops.log_softmax(x, dim), F.log_softmax(torch.from_numpy(x), dim).numpy(),
                                       rtol=1e-5, atol=1e-5)


def test_dlpack_inputs_are_accepted(rng):
    torch = pytest.importorskip("torch")
    x = torch.randn(6, 5)
    t = torch.tensor([0, 1, 2, 3, 4, 0])
    got = ops.cross_entropy(x, t)
    assert abs(float(got) - float(torch.nn.functional.cross_entropy(x, t))) < 1e-5
    assert isinstance(ops.softmax(x), np.ndarray)


# --- the front door -------------------------------------------------------------

def test_errors_name_argument_and_expectation():
    f = np.ones((3, 4), np.float32)
    t = np.zeros(3, np.int64)
    with pytest.raises(TypeError, match="softmax: input must be float32 or float64, got int64"):
        ops.softmax(np.ones((3, 4), np.int64))
    with pytest.raises(ValueError, match=r"softmax: dim must be in \[-2, 1\] for a 2-D input, got 2"):
        ops.softmax(f, 2)
    with pytest.raises(TypeError, match="dim must be an int"):
        ops.log_softmax(f, 1.0)
    with pytest.raises(ValueError, match="log_softmax: input must be C-contiguous"):
        ops.log_softmax(np.ones((4, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match=r"softmax: out must have shape \(3, 4\)"):
        ops.softmax(f, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="softmax_backward: output must have the dtype of grad_output"):
        ops.softmax_backward(f, f.astype(np.float64))
    with pytest.raises(ValueError, match="must not share memory"):
        big = np.ones(20, np.float32)
        ops.softmax(big[:12].reshape(3, 4), out=big[4:16].reshape(3, 4))
    with pytest.raises(TypeError, match="cross_entropy: target must be int64 class indices or float32"):
        ops.cross_entropy(f, t.astype(np.int32))
    with pytest.raises(ValueError, match=r"target of class indices must have shape \(3,\)"):
        ops.cross_entropy(f, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"target of class probabilities must have the shape of input \(3, 4\)"):
        ops.cross_entropy(f, np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="target must have the dtype of input"):
        ops.cross_entropy(f, np.zeros((3, 4), np.float64))
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        ops.cross_entropy(f, t, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum', got 'avg'"):
        ops.cross_entropy(f, t, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        ops.cross_entropy(f, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="input must be"):
        ops.cross_entropy(np.array(1.0, np.float32), np.array(0))
    with pytest.raises(ValueError, match="ignore_index is not supported for class-probability targets"):
        ops.cross_entropy(f, np.full((3, 4), 0.25, np.float32), ignore_index=0)
    with pytest.raises(ValueError, match="grad_output must have one element or the loss's shape"):
        ops.cross_entropy_backward(np.ones(2, np.float32), f, t, reduction="none")
    with pytest.raises(ValueError, match="grad_output must have one element, got shape"):
        ops.cross_entropy_backward(np.ones(3, np.float32), f, t)
    with pytest.raises(ValueError, match="loss is read-only"):
        out = np.empty((), np.float32)
        out.flags.writeable = False
        ops.cross_entropy(f, t, out=out)


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.bool_])
_shape = st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple)


@settings(max_examples=150, deadline=None)
@given(sx=_shape, st_=_shape, dx=_dtypes, dt=_dtypes, dim=st.integers(-5, 5), step=st.sampled_from([1, 2, -1]),
       weighted=st.booleans(), reduction=st.sampled_from(["mean", "sum", "none", "bad"]),
       smoothing=st.sampled_from([0.0, 0.3, -0.1, 2.0]), ignore_index=st.integers(-101, 3))
def test_front_door_never_crashes(sx, st_, dx, dt, dim, step, weighted, reduction, smoothing, ignore_index):
    x = np.ones(sx, dx)
    if x.ndim >= 1:
        x = x[..., ::step]
    t = np.ones(st_, dt)
    w = np.ones(sx[1] if len(sx) > 1 else 3, dx) if weighted else None
    try:
        y = ops.softmax(x, dim)
        assert y.shape == x.shape
        np.testing.assert_allclose(y, ref_softmax(x, dim) if x.size else y)
    except (ValueError, TypeError):
        pass
    try:
        ops.softmax_backward(x, t, dim)
    except (ValueError, TypeError):
        pass
    try:
        loss, grad = ops.cross_entropy_with_grad(x, t, w, ignore_index=ignore_index, reduction=reduction,
                                                 label_smoothing=smoothing)
        assert grad.shape == x.shape
    except (ValueError, TypeError):
        pass


def test_flush_to_zero_does_not_leak(each_isa, rng):
    # the SIMD twins flush denormals while they run and restore the caller's mode
    ops.cross_entropy_with_grad(logits(rng, (40, 21)), make_target(rng, logits(rng, (40, 21)), "index"))
    ops.softmax(logits(rng, (40, 21)))
    tiny = np.array([1e-38], np.float32)
    assert (tiny * np.float32(0.01))[0] > 0
