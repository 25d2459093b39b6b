"""ops.batch_norm / batch_norm_backward and F.batch_norm on float32 against
float64 NumPy references, every twin: training and eval forwards, running
statistics, backward (training and eval formulas), finite differences through
autograd, PyTorch as a second oracle, and the argument checks."""

import itertools

import numpy as np
import pytest

import nncore
from nncore import nn, ops
from nncore import functional as F

from support import isa, poisoned

EPS = 1e-5


def shapes():
    """(N, C, L) cases: N in 1..17 with L in 1, 7, 16, 17, 49 and C cycling through
    1..17, a 64-channel case per L, and a few L = 3136 (56 x 56) ones."""
    cases = [(n, 1 + (3 * n + l) % 17, l) for n in range(1, 18) for l in (1, 7, 16, 17, 49)]
    cases += [(n, 64, l) for n, l in ((5, 1), (2, 7), (3, 16), (2, 17), (2, 49), (64, 1))]
    cases += [(1, 1, 3136), (2, 3, 3136), (3, 2, 3136), (1, 64, 3136)]
    return cases


def as_input(rng, n, c, l):
    """(N, C, L) as (N, C) for L = 1, else (N, C, H, W) or (N, C, L); off-centre values."""
    x = rng.standard_normal((n, c, l)) * rng.uniform(0.5, 3, (1, c, 1)) + rng.uniform(-4, 4, (1, c, 1))
    if l == 1:
        return x.reshape(n, c).astype(np.float32)
    side = int(round(np.sqrt(l)))
    return (x.reshape(n, c, side, side) if side * side == l else x).astype(np.float32)


def per_channel(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


def ref_stats(x):
    x3 = per_channel(x).astype(np.float64)
    return x3.mean(axis=(0, 2)), x3.var(axis=(0, 2))


def ref_forward(x, mean, var, w, b):
    x3 = per_channel(x).astype(np.float64)
    invstd = 1 / np.sqrt(var + EPS)
    y = (x3 - mean[:, None]) * (invstd * w)[:, None] + b[:, None]
    return y.reshape(x.shape), invstd


def ref_backward(g, x, mean, invstd, w, training):
    g3, x3 = per_channel(g).astype(np.float64), per_channel(x).astype(np.float64)
    count = g3.shape[0] * g3.shape[2]
    xhat = (x3 - mean[:, None]) * invstd[:, None]
    gb = g3.sum(axis=(0, 2))
    gw = (g3 * xhat).sum(axis=(0, 2))
    scale = (invstd * w)[:, None]
    gx = scale * (g3 - gb[:, None] / count - xhat * gw[:, None] / count) if training else scale * g3
    return gx.reshape(x.shape), gw, gb


def close(got, want, err_msg="", tol=2e-5):
    scale = max(1.0, float(np.abs(want).max()) if np.size(want) else 1.0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=err_msg)


def params(rng, c):
    w = rng.uniform(0.5, 2, c).astype(np.float32) * rng.choice([-1, 1], c).astype(np.float32)
    return w, rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32) * 0.5, \
        rng.uniform(0.5, 2, c).astype(np.float32)


def test_training_forward_and_running_stats(each_isa, rng):
    for n, c, l in shapes():
        if n * l == 1:
            continue
        x = as_input(rng, n, c, l)
        w, b, rm, rv = params(rng, c)
        rm0, rv0 = rm.copy(), rv.copy()
        out, sm, si = poisoned(x.shape), poisoned(c), poisoned(c)
        got = ops.batch_norm(x, rm, rv, w, b, True, 0.3, EPS, out=out, save_mean=sm, save_invstd=si)
        assert got[0] is out and got[1] is sm and got[2] is si
        mean, var = ref_stats(x)
        y, invstd = ref_forward(x, mean, var, w, b)
        msg = f"N={n} C={c} L={l} {each_isa}"
        close(out, y, msg)
        close(sm, mean, msg)
        close(si, invstd, msg)
        close(rm, 0.7 * rm0 + 0.3 * mean, msg)
        close(rv, 0.7 * rv0 + 0.3 * var * (n * l) / (n * l - 1), msg)


def test_eval_forward(each_isa, rng):
    for n, c, l in shapes()[::3]:
        x = as_input(rng, n, c, l)
        w, b, rm, rv = params(rng, c)
        before = rm.copy(), rv.copy()
        out, sm, si = ops.batch_norm(x, rm, rv, w, b, False, 0.3, EPS, out=poisoned(x.shape),
                                     save_mean=poisoned(c), save_invstd=poisoned(c))
        y, invstd = ref_forward(x, rm.astype(np.float64), rv.astype(np.float64), w, b)
        close(out, y, f"N={n} C={c} L={l}")
        close(si, invstd)
        np.testing.assert_array_equal(sm, rm)
        np.testing.assert_array_equal(rm, before[0])  # eval never touches the running statistics
        np.testing.assert_array_equal(rv, before[1])


@pytest.mark.parametrize("training", [True, False])
def test_backward(each_isa, rng, training):
    for n, c, l in shapes()[::2]:
        if training and n * l == 1:
            continue
        x = as_input(rng, n, c, l)
        g = rng.standard_normal(x.shape).astype(np.float32)
        w, b, rm, rv = params(rng, c)
        _, sm, si = ops.batch_norm(x, rm, rv, w, b, training, 0.1, EPS)
        gi, gw, gb = poisoned(x.shape), poisoned(c), poisoned(c)
        got = ops.batch_norm_backward(g, x, w, sm, si, training, grad_input=gi, grad_weight=gw, grad_bias=gb)
        assert got[0] is gi and got[1] is gw and got[2] is gb
        want = ref_backward(g, x, sm.astype(np.float64), si.astype(np.float64), w, training)
        msg = f"N={n} C={c} L={l} training={training}"
        close(gi, want[0], msg, tol=5e-5)
        close(gw, want[1], msg, tol=5e-5)
        close(gb, want[2], msg, tol=5e-5)
        only_params = ops.batch_norm_backward(g, x, w, sm, si, training, input_grad=False)
        assert only_params[0] is None
        np.testing.assert_array_equal(only_params[1], gw)


def test_no_affine_no_running_stats(each_isa, rng):
    x = as_input(rng, 6, 5, 49)
    out, sm, si = ops.batch_norm(x, None, None, None, None, True)
    mean, var = ref_stats(x)
    close(out, ref_forward(x, mean, var, np.ones(5), np.zeros(5))[0])
    g = rng.standard_normal(x.shape).astype(np.float32)
    gi, _, _ = ops.batch_norm_backward(g, x, None, sm, si, True)
    close(gi, ref_backward(g, x, mean, 1 / np.sqrt(var + EPS), np.ones(5), True)[0], tol=5e-5)


def test_large_mean_keeps_the_variance(each_isa, rng):
    """Sums shifted by each channel's first value: a mean 1e4 times the spread costs no precision."""
    for l in (1, 49):
        x = (1000 + 0.1 * rng.standard_normal((16, 3, l))).astype(np.float32)
        _, sm, si = ops.batch_norm(x, None, None, None, None, True)
        mean, var = ref_stats(x)
        np.testing.assert_allclose(si, 1 / np.sqrt(var + EPS), rtol=1e-5)


def test_twins_and_thread_counts_agree(rng):
    """Each channel's sums run in one fixed order: threads never change a result."""
    before = nncore.get_num_threads()
    for n, c, l in [(8, 64, 1), (4, 16, 7), (2, 64, 3136), (32, 64, 49)]:
        x = as_input(rng, n, c, l)
        g = rng.standard_normal(x.shape).astype(np.float32)
        results = []
        try:
            for threads in (1, 2):
                nncore.set_num_threads(threads)
                y, sm, si = ops.batch_norm(x, None, None, None, None, True)
                results.append((y, sm, si) + ops.batch_norm_backward(g, x, None, sm, si, True))
        finally:
            nncore.set_num_threads(before)
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


def test_functional_float32_matches_float64_path(each_isa, rng):
    """F.batch_norm on float32 (the kernels) against float64 (the NumPy path, gradchecked)."""
    for shape, training in itertools.product([(5, 3), (4, 3, 7), (3, 4, 5, 5), (2, 6, 8, 8)], (True, False)):
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        w, b, rm, rv = (p.astype(np.float64) for p in params(rng, shape[1]))
        grads = []
        for dtype in (np.float32, np.float64):
            xt = nncore.tensor(x.astype(dtype), requires_grad=True)
            wt = nncore.tensor(w.astype(dtype), requires_grad=True)
            bt = nncore.tensor(b.astype(dtype), requires_grad=True)
            rmt, rvt = nncore.tensor(rm.astype(dtype)), nncore.tensor(rv.astype(dtype))
            y = F.batch_norm(xt, rmt, rvt, wt, bt, training, 0.2, EPS)
            (y * nncore.tensor(g.astype(dtype))).sum().backward()
            grads.append([y.numpy(), rmt.numpy(), rvt.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()])
        for got, want in zip(*grads):
            close(got, want, f"{shape} training={training}", tol=5e-5)


@pytest.mark.parametrize("training", [True, False])
def test_autograd_finite_differences(rng, training):
    """d sum(r * y) / d (x, weight, bias) of the float32 kernels against central differences
    (h = 1e-2 on values of order 1; the loss is summed in float64)."""
    x = as_input(rng, 3, 2, 7)
    w, b, rm, rv = params(rng, 2)
    r = rng.standard_normal(x.shape)

    def loss(xv, wv, bv):
        y = F.batch_norm(nncore.tensor(xv), nncore.tensor(rm.copy()), nncore.tensor(rv.copy()),
                         nncore.tensor(wv), nncore.tensor(bv), training, 0.1, EPS)
        return float((y.numpy().astype(np.float64) * r).sum())

    xt, wt, bt = (nncore.tensor(v.copy(), requires_grad=True) for v in (x, w, b))
    y = F.batch_norm(xt, nncore.tensor(rm.copy()), nncore.tensor(rv.copy()), wt, bt, training, 0.1, EPS)
    (y * nncore.tensor(r.astype(np.float32))).sum().backward()
    h = np.float32(1e-2)
    for k, grad in enumerate((xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())):
        args = [x, w, b]
        for i in range(grad.size):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[k].reshape(-1)[i] += h
            minus[k].reshape(-1)[i] -= h
            numeric = (loss(*plus) - loss(*minus)) / (2 * float(h))
            assert abs(grad.reshape(-1)[i] - numeric) <= 2e-3 * max(1.0, abs(numeric)), (k, i, training)


def test_momentum_none_is_a_cumulative_average(rng):
    bn = nn.BatchNorm2d(3, momentum=None)
    xs = [rng.standard_normal((4, 3, 5, 5)).astype(np.float32) + k for k in range(3)]
    for x in xs:
        bn(nncore.tensor(x))
    means = [ref_stats(x)[0] for x in xs]
    variances = [ref_stats(x)[1] * 100 / 99 for x in xs]
    close(bn.running_mean.numpy(), np.mean(means, axis=0))
    close(bn.running_var.numpy(), np.mean(variances, axis=0))


@pytest.mark.parametrize("training", [True, False])
def test_matches_torch(rng, training):
    torch = pytest.importorskip("torch")
    for n, c, l in [(4, 3, 1), (5, 7, 16), (2, 16, 49), (3, 64, 17)]:
        x = as_input(rng, n, c, l)
        g = rng.standard_normal(x.shape).astype(np.float32)
        w, b, rm, rv = params(rng, c)
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        xt = torch.tensor(x, requires_grad=True)
        wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        yt = torch.nn.functional.batch_norm(xt, trm, trv, wt, bt, training, 0.1, EPS)
        yt.backward(torch.tensor(g))
        out, sm, si = ops.batch_norm(x, rm, rv, w, b, training, 0.1, EPS)
        gi, gw, gb = ops.batch_norm_backward(g, x, w, sm, si, training)
        for ours, theirs in ((out, yt), (rm, trm), (rv, trv), (gi, xt.grad), (gw, wt.grad), (gb, bt.grad)):
            close(ours, theirs.detach().numpy(), f"{(n, c, l)} training={training}", tol=1e-4)


def test_bad_arguments_name_the_argument(rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    c3 = np.ones(3, np.float32)
    cases = [
        (lambda: ops.batch_norm(x.astype(np.float64), c3, c3), TypeError, "input"),
        (lambda: ops.batch_norm(x[:, :, ::2], c3, c3), ValueError, "input"),
        (lambda: ops.batch_norm(x[0, 0], c3, c3), ValueError, "input"),
        (lambda: ops.batch_norm(x, np.ones(4, np.float32), c3), ValueError, "running_mean"),
        (lambda: ops.batch_norm(x, c3, None, training=True), ValueError, "running_var"),
        (lambda: ops.batch_norm(x, None, None, training=False), ValueError, "running_mean"),
        (lambda: ops.batch_norm(x, c3, c3, np.ones(2, np.float32)), ValueError, "weight"),
        (lambda: ops.batch_norm(x, c3, c3, None, c3.astype(np.float64)), TypeError, "bias"),
        (lambda: ops.batch_norm(x, c3, c3, eps=0.0), ValueError, "eps"),
        (lambda: ops.batch_norm(x, c3, c3, eps=-1.0), ValueError, "eps"),
        (lambda: ops.batch_norm(np.ascontiguousarray(x[:1, :, :1]), None, None, training=True), ValueError, "more than 1 value"),
        (lambda: ops.batch_norm(x, c3, c3, out=np.empty((4, 3, 4), np.float32)), ValueError, "out"),
        (lambda: ops.batch_norm(x, c3, c3, out=x), ValueError, "out"),
        (lambda: ops.batch_norm_backward(x[:2], x, None, c3, c3, True), ValueError, "grad_output"),
        (lambda: ops.batch_norm_backward(x, x, None, c3[:2], c3, True), ValueError, "save_mean"),
        (lambda: ops.batch_norm_backward(x, x, None, c3, c3, True, grad_weight=np.ones(3)), TypeError,
         "grad_weight"),
    ]
    for call, error, name in cases:
        with pytest.raises(error, match=name):
            call()
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(3)(nncore.tensor(np.ones((1, 3), np.float32)))


def test_empty_batch_in_eval(each_isa):
    x = np.zeros((0, 3, 4, 4), np.float32)
    c3 = np.ones(3, np.float32)
    out, _, _ = ops.batch_norm(x, c3, c3)
    assert out.shape == x.shape
