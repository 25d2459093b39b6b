"""ops.max_pool2d / avg_pool2d / lp_pool2d / adaptive_avg_pool2d and their
backwards against float64 NumPy loop references, every twin, every option;
finite differences for the backwards; PyTorch as a second oracle."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import ops
from nncore.ops import pool as pool_ops

from support import isa, poisoned

# --- references (float64, one window at a time, PyTorch's rules) ------------


def out_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window may not start in the right padding
        o -= 1
    return o


def valid(shape, k, s, p, d, ceil_mode):
    H, W = shape[-2:]
    if any(v <= 0 for v in (*k, *s, *d)) or any(v < 0 for v in p):
        return False
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        return False
    return out_size(H, k[0], s[0], p[0], d[0], ceil_mode) >= 1 and out_size(W, k[1], s[1], p[1], d[1], ceil_mode) >= 1


def ref_max(x, k, s, p, d, ceil_mode):
    """Max and flat index per window: the first maximum in row-major scan wins, a NaN beats all (the last one)."""
    x = x.astype(np.float64)
    *lead, H, W = x.shape
    OH, OW = out_size(H, k[0], s[0], p[0], d[0], ceil_mode), out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.empty((*lead, OH, OW))
    idx = np.empty((*lead, OH, OW), np.int64)
    for oh in range(OH):
        rows = [oh * s[0] - p[0] + i * d[0] for i in range(k[0])]
        rows = [r for r in rows if 0 <= r < H]
        for ow in range(OW):
            cols = [ow * s[1] - p[1] + j * d[1] for j in range(k[1])]
            cols = [c for c in cols if 0 <= c < W]
            best = np.full(lead, -np.inf)
            # PyTorch starts at the first window position at or past 0 (even one past the input)
            r0 = next(oh * s[0] - p[0] + i * d[0] for i in range(k[0] + p[0]) if oh * s[0] - p[0] + i * d[0] >= 0)
            c0 = next(ow * s[1] - p[1] + j * d[1] for j in range(k[1] + p[1]) if ow * s[1] - p[1] + j * d[1] >= 0)
            at = np.full(lead, r0 * W + c0, np.int64)
            for r in rows:
                for c in cols:
                    v = x[..., r, c]
                    take = (v > best) | np.isnan(v)
                    best = np.where(take, v, best)
                    at = np.where(take, r * W + c, at)
            y[..., oh, ow] = best
            idx[..., oh, ow] = at
    return y, idx


def avg_windows(n, k, s, p, ceil_mode):
    """Per output: (first, last + 1) inside the input, and the length counted with padding."""
    o = out_size(n, k, s, p, 1, ceil_mode)
    wins = []
    for i in range(o):
        start = i * s - p
        end = min(start + k, n + p)
        wins.append((max(start, 0), min(end, n), end - start))
    return wins


def ref_avg(x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    x = x.astype(np.float64)
    *lead, H, W = x.shape
    wh, ww = avg_windows(H, k[0], s[0], p[0], ceil_mode), avg_windows(W, k[1], s[1], p[1], ceil_mode)
    y = np.empty((*lead, len(wh), len(ww)))
    for oh, (h0, h1, hp) in enumerate(wh):
        for ow, (w0, w1, wp) in enumerate(ww):
            if divisor_override:
                div = divisor_override
            else:
                div = hp * wp if count_include_pad else (h1 - h0) * (w1 - w0)
            y[..., oh, ow] = x[..., h0:h1, w0:w1].sum(axis=(-1, -2)) / div
    return y


def ref_avg_backward(gy, in_shape, k, s, p, ceil_mode, count_include_pad, divisor_override):
    gy = gy.astype(np.float64)
    H, W = in_shape[-2:]
    gx = np.zeros(in_shape)
    wh, ww = avg_windows(H, k[0], s[0], p[0], ceil_mode), avg_windows(W, k[1], s[1], p[1], ceil_mode)
    for oh, (h0, h1, hp) in enumerate(wh):
        for ow, (w0, w1, wp) in enumerate(ww):
            if divisor_override:
                div = divisor_override
            else:
                div = hp * wp if count_include_pad else (h1 - h0) * (w1 - w0)
            gx[..., h0:h1, w0:w1] += (gy[..., oh, ow] / div)[..., None, None]
    return gx


def ref_lp(x, norm, k, s, ceil_mode):
    """PyTorch's lp_pool2d: (mean of x^p over the (ceil-cut) window * kH*kW)^(1/p); inf: max |x|."""
    x = x.astype(np.float64)
    if math.isinf(norm):
        y, _ = ref_max(np.abs(x) if norm > 0 else -np.abs(x), k, s, (0, 0), (1, 1), ceil_mode)
        return y if norm > 0 else -y
    *lead, H, W = x.shape
    wh, ww = avg_windows(H, k[0], s[0], 0, ceil_mode), avg_windows(W, k[1], s[1], 0, ceil_mode)
    y = np.empty((*lead, len(wh), len(ww)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for oh, (h0, h1, _) in enumerate(wh):
            for ow, (w0, w1, _) in enumerate(ww):
                t = (x[..., h0:h1, w0:w1] ** norm).mean(axis=(-1, -2)) * (k[0] * k[1])
                y[..., oh, ow] = t ** (1.0 / norm)
    return y


def ref_adaptive(x, size):
    x = x.astype(np.float64)
    *lead, H, W = x.shape
    OH, OW = size
    y = np.empty((*lead, OH, OW))
    for oh in range(OH):
        h0, h1 = (oh * H) // OH, -(-((oh + 1) * H) // OH)
        for ow in range(OW):
            w0, w1 = (ow * W) // OW, -(-((ow + 1) * W) // OW)
            y[..., oh, ow] = x[..., h0:h1, w0:w1].mean(axis=(-1, -2))
    return y


def assert_close(got, want, rtol=2e-6, atol=1e-6):
    assert got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), "NaN pattern differs (or an output was left unwritten)"
    np.testing.assert_allclose(got[~nan], want[~nan], rtol=rtol, atol=atol)


# --- configurations: every option, odd sizes around the SIMD widths ----------

SIZES = [(1, 1), (1, 7), (3, 2), (5, 9), (7, 17), (8, 16), (11, 13), (17, 33), (16, 37), (2, 40)]


def window_configs(with_dilation):
    """(input shape, kernel, stride, padding, dilation, ceil_mode), only the valid ones."""
    out = []
    kernels = [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1), (4, 5)]
    strides = [None, (1, 1), (2, 2), (3, 3), (1, 2), (2, 3)]
    dilations = [(1, 1), (2, 2), (1, 3)] if with_dilation else [(1, 1)]
    for i, (k, s, d, ceil) in enumerate(itertools.product(kernels, strides, dilations, [False, True])):
        H, W = SIZES[i % len(SIZES)]
        W = W + i % 3  # more row ends around the vector widths
        for p in sorted({(0, 0), (k[0] // 2, k[1] // 2), (0, k[1] // 2)}):
            st_ = s or k
            if valid((H, W), k, st_, p, d, ceil):
                out.append(((2, 3, H, W), k, s, p, d, ceil))
    return out


MAX_CONFIGS = window_configs(True)
AVG_CONFIGS = window_configs(False)


def test_there_are_many_configs():
    assert len(MAX_CONFIGS) > 300 and len(AVG_CONFIGS) > 100


def test_max_pool2d_every_option(each_isa, rng):
    for shape, k, s, p, d, ceil in MAX_CONFIGS:
        x = rng.standard_normal(shape).astype(np.float32)
        want, want_idx = ref_max(x, k, s or k, p, d, ceil)
        out, idx = poisoned(want.shape), np.full(want.shape, -7, np.int64)
        ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True, out=out, indices=idx)
        assert np.array_equal(out, want.astype(np.float32)), (shape, k, s, p, d, ceil)
        assert np.array_equal(idx, want_idx), (shape, k, s, p, d, ceil)
        plain = ops.max_pool2d(x, k, s, p, d, ceil, out=poisoned(want.shape))
        assert np.array_equal(plain, out)


def test_max_pool2d_nan_and_ties(each_isa, rng):
    for shape, k, s, p, d, ceil in MAX_CONFIGS[::3]:
        x = rng.integers(-1, 2, size=shape).astype(np.float32)  # many ties, signed zeros
        x[rng.random(shape) < 0.08] = np.nan
        x[rng.random(shape) < 0.05] = -np.inf
        want, want_idx = ref_max(x, k, s or k, p, d, ceil)
        out, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        assert_close(out, want.astype(np.float32), 0, 0)
        assert np.array_equal(idx, want_idx), (shape, k, s, p, d, ceil)
        assert_close(ops.max_pool2d(x, k, s, p, d, ceil), want.astype(np.float32), 0, 0)


def test_max_pool2d_backward_scatters(each_isa, rng):
    for shape, k, s, p, d, ceil in MAX_CONFIGS[::2]:
        x = rng.standard_normal(shape).astype(np.float32)
        _, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        gy = rng.standard_normal(idx.shape).astype(np.float32)
        if idx.max() >= shape[2] * shape[3]:  # a window wholly in the padding: PyTorch's index is past the plane
            with pytest.raises(ValueError, match="indices must lie in"):
                ops.max_pool2d_backward(gy, idx, shape, k, s, p, d, ceil)
            continue
        want = np.zeros(shape)
        flat = want.reshape(shape[0] * shape[1], -1)
        for plane, (g, i) in enumerate(zip(gy.reshape(len(flat), -1), idx.reshape(len(flat), -1))):
            np.add.at(flat[plane], i, g.astype(np.float64))
        got = ops.max_pool2d_backward(gy, idx, shape, k, s, p, d, ceil, out=poisoned(shape))
        assert_close(got, want)


def test_avg_pool2d_every_option(each_isa, rng):
    for (shape, k, s, p, _, ceil), cip, div in itertools.product(AVG_CONFIGS, [True, False], [None, 3, -2]):
        if div is not None and cip is False:
            continue
        x = rng.standard_normal(shape).astype(np.float32)
        want = ref_avg(x, k, s or k, p, ceil, cip, div)
        got = ops.avg_pool2d(x, k, s, p, ceil, cip, div, out=poisoned(want.shape))
        assert_close(got, want)


def test_avg_pool2d_backward_every_option(each_isa, rng):
    for (shape, k, s, p, _, ceil), cip, div in itertools.product(AVG_CONFIGS, [True, False], [None, 5]):
        if div is not None and cip is False:
            continue
        x_shape = ref_avg(np.zeros(shape), k, s or k, p, ceil, cip, div).shape
        gy = rng.standard_normal(x_shape).astype(np.float32)
        want = ref_avg_backward(gy, shape, k, s or k, p, ceil, cip, div)
        got = ops.avg_pool2d_backward(gy, shape, k, s, p, ceil, cip, div, out=poisoned(shape))
        assert_close(got, want, atol=2e-6)


LP_NORMS = [1, 2, 3, 1.5, -1, math.inf, -math.inf]


def lp_configs():
    return [(shape, k, s, ceil) for shape, k, s, p, d, ceil in AVG_CONFIGS if p == (0, 0)]


@pytest.mark.parametrize("norm", LP_NORMS)
def test_lp_pool2d_forward(each_isa, rng, norm):
    for shape, k, s, ceil in lp_configs():
        x = rng.uniform(0.1, 2.0, shape).astype(np.float32)
        if norm in (1, 2, math.inf, -math.inf):
            x *= rng.choice([-1, 1], shape).astype(np.float32)  # even powers, sums and |x| take signs
        want = ref_lp(x, norm, k, s or k, ceil)
        got = ops.lp_pool2d(x, norm, k, s, ceil, out=poisoned(want.shape))
        assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", LP_NORMS)
def test_lp_pool2d_backward_simd_matches_scalar(rng, norm):
    for shape, k, s, ceil in lp_configs()[::2]:
        x = rng.uniform(0.2, 2.0, shape).astype(np.float32)
        y = ops.lp_pool2d(x, norm, k, s, ceil).copy()
        gy = rng.standard_normal(y.shape).astype(np.float32)
        with isa("scalar"):
            want = ops.lp_pool2d_backward(gy, x, y, norm, k, s, ceil).astype(np.float64)
        for name in available_simd():
            with isa(name):
                got = ops.lp_pool2d_backward(gy, x, y, norm, k, s, ceil, out=poisoned(shape))
            assert_close(got, want, rtol=1e-5, atol=1e-5)


def available_simd():
    names = ["scalar", "avx2", "avx512"]
    best = nncore.build_info()["isa_supported"]
    return names[1: names.index(best) + 1]


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (4, 4), (5, 7), (13, 2), (20, 25), (0, 3), (None, 2)])
def test_adaptive_avg_pool2d(each_isa, rng, size):
    for shape in [(2, 3, 5, 7), (1, 2, 13, 11), (3, 1, 4, 4), (2, 17, 17)]:
        x = rng.standard_normal(shape).astype(np.float32)
        full = (shape[-2] if size[0] is None else size[0], size[1])
        want = ref_adaptive(x, full)
        got = ops.adaptive_avg_pool2d(x, size, out=poisoned(want.shape))
        assert_close(got, want)
        gy = rng.standard_normal(want.shape).astype(np.float32)
        gx = ops.adaptive_avg_pool2d_backward(gy, shape, out=poisoned(shape))
        # linear map: the backward is the adjoint, <gy, A x> = <A^T gy, x>
        probe = rng.standard_normal(shape)
        np.testing.assert_allclose(np.sum(gx * probe), np.sum(gy * ref_adaptive(probe, full)), rtol=1e-5, atol=1e-5)


# --- finite differences (float64 runs the portable twin) ---------------------


def finite_difference(f, x, eps=1e-6):
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f(x)
        flat[i] = keep - eps
        down = f(x)
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return g


FD_CONFIGS = [((1, 2, 5, 6), (2, 2), None, (0, 0), (1, 1), False), ((2, 1, 7, 5), (3, 3), (2, 2), (1, 1), (1, 1), True),
              ((1, 2, 6, 7), (3, 2), (1, 1), (1, 0), (2, 1), False), ((1, 1, 9, 8), (2, 3), (3, 2), (1, 1), (1, 2), True)]


@pytest.mark.parametrize("cfg", FD_CONFIGS)
def test_max_backward_finite_differences(rng, cfg):
    shape, k, s, p, d, ceil = cfg
    x = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.01  # distinct: no ties
    _, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    gy = rng.standard_normal(idx.shape)
    got = ops.max_pool2d_backward(gy, idx, shape, k, s, p, d, ceil)
    want = finite_difference(lambda v: np.sum(gy * ops.max_pool2d(v, k, s, p, d, ceil)), x, eps=1e-4)
    np.testing.assert_allclose(got, want, atol=1e-7)


@pytest.mark.parametrize("cfg", FD_CONFIGS)
@pytest.mark.parametrize("cip, div", [(True, None), (False, None), (True, 7)])
def test_avg_backward_finite_differences(rng, cfg, cip, div):
    shape, k, s, p, _, ceil = cfg
    x = rng.standard_normal(shape)
    y = ops.avg_pool2d(x, k, s, p, ceil, cip, div)
    gy = rng.standard_normal(y.shape)
    got = ops.avg_pool2d_backward(gy, shape, k, s, p, ceil, cip, div)
    want = finite_difference(lambda v: np.sum(gy * ops.avg_pool2d(v, k, s, p, ceil, cip, div)), x)
    np.testing.assert_allclose(got, want, atol=1e-7)


@pytest.mark.parametrize("cfg", FD_CONFIGS)
@pytest.mark.parametrize("norm", LP_NORMS)
def test_lp_backward_finite_differences(rng, cfg, norm):
    shape, k, s, _, _, ceil = cfg
    x = rng.uniform(0.3, 2.0, shape) * rng.choice([-1, 1], shape)
    if norm not in (1, 2, math.inf, -math.inf):
        x = np.abs(x)
    if math.isinf(norm):  # distinct |x|: no ties
        x = np.sign(x) * (0.3 + rng.permutation(x.size).reshape(shape) * 0.01)
    y = ops.lp_pool2d(x, norm, k, s, ceil)
    gy = rng.standard_normal(y.shape)
    got = ops.lp_pool2d_backward(gy, x, y, norm, k, s, ceil)
    want = finite_difference(lambda v: np.sum(gy * ops.lp_pool2d(v, norm, k, s, ceil)), x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_adaptive_backward_finite_differences(rng):
    x = rng.standard_normal((2, 2, 7, 9))
    gy = rng.standard_normal((2, 2, 3, 4))
    got = ops.adaptive_avg_pool2d_backward(gy, x.shape)
    want = finite_difference(lambda v: np.sum(gy * ops.adaptive_avg_pool2d(v, (3, 4))), x)
    np.testing.assert_allclose(got, want, atol=1e-7)


# --- twins, threads, layout ---------------------------------------------------


def test_simd_twins_match_scalar_on_a_large_input(rng):
    x = rng.standard_normal((3, 5, 57, 61)).astype(np.float32)
    with isa("scalar"):
        lp_out = ops.lp_pool2d(x, 2, 2).copy()
    cases = [
        lambda: ops.max_pool2d(x, 3, 2, 1, return_indices=True),
        lambda: ops.max_pool2d(x, 2),
        lambda: ops.max_pool2d(x, (3, 2), (1, 3), (1, 0), (2, 1), True, return_indices=True),
        lambda: ops.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        lambda: ops.avg_pool2d(x, 3, 1, 1),
        lambda: ops.lp_pool2d(x, 2, 2),
        lambda: ops.avg_pool2d_backward(x[:, :, :28, :30].copy(), x.shape, 2),
        lambda: ops.lp_pool2d_backward(x[:, :, :28, :30].copy(), x, lp_out, 2, 2),
    ]
    for case in cases:
        with isa("scalar"):
            want = case()
            want = tuple(w.copy() for w in want) if isinstance(want, tuple) else want.copy()
        for name in available_simd():
            with isa(name):
                got = case()
            for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_outputs_too_big_for_cache_are_streamed_and_right(rng):
    # gradients over 8 MB leave through streaming stores from a staged plane
    x = rng.standard_normal((3, 64, 107, 109)).astype(np.float32)
    y, idx = ops.max_pool2d(x, 3, 2, 1, return_indices=True)
    y, idx = y.copy(), idx.copy()
    gy = rng.standard_normal(y.shape).astype(np.float32)
    lp_y = ops.lp_pool2d(x, 2, 2).copy()
    lp_gy = rng.standard_normal(lp_y.shape).astype(np.float32)
    y2, idx2 = (a.copy() for a in ops.max_pool2d(x[:, :, :106, :108].copy(), 2, return_indices=True))
    gy2 = rng.standard_normal(y2.shape).astype(np.float32)
    cases = [lambda: ops.max_pool2d_backward(gy, idx, x.shape, 3, 2, 1),
             lambda: ops.max_pool2d_backward(gy2, idx2, (3, 64, 106, 108), 2),
             lambda: ops.avg_pool2d_backward(gy2, (3, 64, 106, 108), 2),
             lambda: ops.avg_pool2d_backward(gy, x.shape, 3, 2, 1),
             lambda: ops.lp_pool2d_backward(lp_gy, x, lp_y, 2, 2)]
    for case in cases:
        with isa("scalar"):
            want = case().copy()
        for name in available_simd():
            with isa(name):
                got = case()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_results_identical_across_runs_and_threads(rng):
    x = rng.standard_normal((4, 16, 33, 35)).astype(np.float32)
    before = nncore.get_num_threads()
    calls = [lambda: ops.max_pool2d(x, 3, 1, 1, return_indices=True)[0],
             lambda: ops.avg_pool2d_backward(x, (4, 16, 66, 70), 2),
             lambda: ops.avg_pool2d_backward(x, (4, 16, 33, 35), 3, 1, 1),
             lambda: ops.lp_pool2d_backward(x[:, :, :11, :11].copy(), x, np.abs(x[:, :, :11, :11]) + 1, 2, 3),
             lambda: ops.max_pool2d_backward(x[:, :, :17, :18].copy(),
                                             ops.max_pool2d(x, 3, 2, 1, return_indices=True)[1], x.shape, 3, 2, 1)]
    try:
        for call in calls:
            nncore.set_num_threads(2)
            first = call().copy()
            assert np.array_equal(first, call())
            nncore.set_num_threads(1)
            assert np.array_equal(first, call())
    finally:
        nncore.set_num_threads(before)


@pytest.mark.parametrize("shape, k", [((2, 3, 8, 16), (2, 2)), ((1, 5, 9, 34), (3, 2)), ((2, 2, 5, 62), (1, 2)),
                                      ((1, 2, 4, 2), (2, 2)), ((1, 1, 6, 70), (2, 2))])
def test_backward_of_windows_tiling_the_plane(each_isa, rng, shape, k):
    # 2-wide windows of stride 2 covering every input once: the blocks are written, not accumulated
    x = rng.standard_normal(shape).astype(np.float32)
    y, idx = ops.max_pool2d(x, k, return_indices=True)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    want = np.zeros(shape)
    flat = want.reshape(shape[0] * shape[1], -1)
    for plane, (g, i) in enumerate(zip(gy.reshape(len(flat), -1), idx.reshape(len(flat), -1))):
        np.add.at(flat[plane], i, g.astype(np.float64))
    assert_close(ops.max_pool2d_backward(gy, idx, shape, k, out=poisoned(shape)), want)
    # indices outside their own windows (hand-made) still scatter like PyTorch
    odd = idx.copy()
    odd.reshape(-1)[::3] = 0
    want_odd = np.zeros(shape)
    magnitude = np.zeros(shape)  # sum of |gradient| landing on each input: the scale of float32 rounding
    flat, flat_mag = want_odd.reshape(shape[0] * shape[1], -1), magnitude.reshape(shape[0] * shape[1], -1)
    for plane, (g, i) in enumerate(zip(gy.reshape(len(flat), -1), odd.reshape(len(flat), -1))):
        np.add.at(flat[plane], i, g.astype(np.float64))
        np.add.at(flat_mag[plane], i, np.abs(g.astype(np.float64)))
    got = ops.max_pool2d_backward(gy, odd, shape, k, out=poisoned(shape))
    assert np.all(np.abs(got - want_odd) <= 4 * np.finfo(np.float32).eps * magnitude + 1e-6)
    for div in (None, 3):
        assert_close(ops.avg_pool2d_backward(gy, shape, k, divisor_override=div, out=poisoned(shape)),
                     ref_avg_backward(gy, shape, k, k, (0, 0), False, True, div))
    xp = np.abs(x) + 0.1
    for norm in (1, 2):
        yp = ops.lp_pool2d(xp, norm, k).copy()
        with isa("scalar"):
            want_lp = ops.lp_pool2d_backward(gy, xp, yp, norm, k).copy()
        assert_close(ops.lp_pool2d_backward(gy, xp, yp, norm, k, out=poisoned(shape)), want_lp, 1e-5, 1e-6)


def test_kernels_wider_than_the_simd_tap_table(each_isa, rng):
    x = rng.standard_normal((2, 3, 5, 41)).astype(np.float32)
    for k, s, p in [((2, 17), (1, 3), (1, 8)), ((1, 20), (1, 1), (0, 0))]:
        want, want_idx = ref_max(x, k, s, p, (1, 1), False)
        y, idx = ops.max_pool2d(x, k, s, p, return_indices=True)
        assert np.array_equal(y, want) and np.array_equal(idx, want_idx)
        assert_close(ops.avg_pool2d(x, k, s, p), ref_avg(x, k, s, p, False, True, None))
        assert_close(ops.lp_pool2d(x, 2, k, s), ref_lp(x, 2, k, s, False), 1e-5, 1e-5)


def test_float64_and_3d_inputs(rng):
    x = rng.standard_normal((3, 9, 10))
    y, idx = ops.max_pool2d(x, 2, return_indices=True)
    assert y.dtype == np.float64 and y.shape == (3, 4, 5) and idx.dtype == np.int64
    want, want_idx = ref_max(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert np.array_equal(y, want) and np.array_equal(idx, want_idx)
    np.testing.assert_allclose(ops.avg_pool2d(x, 3, 2, 1), ref_avg(x, (3, 3), (2, 2), (1, 1), False, True, None),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ops.lp_pool2d(np.abs(x), 3, 2), ref_lp(np.abs(x), 3, (2, 2), (2, 2), False),
                               rtol=1e-13)
    np.testing.assert_allclose(ops.adaptive_avg_pool2d(x, 4), ref_adaptive(x, (4, 4)), rtol=1e-13, atol=1e-15)


def test_empty_batch():
    x = np.ones((0, 3, 8, 8), np.float32)
    assert ops.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    assert ops.avg_pool2d_backward(np.ones((0, 3, 4, 4), np.float32), (0, 3, 8, 8), 2).shape == (0, 3, 8, 8)
    assert ops.adaptive_avg_pool2d(np.ones((2, 3, 5, 5), np.float32), (0, 2)).shape == (2, 3, 0, 2)


def test_dilated_window_wholly_in_padding_gives_minus_inf():
    # PyTorch accepts this geometry; the one window samples only padding
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    y = ops.max_pool2d(x, 2, 1, 1, 3)
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == -np.inf


# --- PyTorch as a second oracle -----------------------------------------------


def test_torch_agrees_forward_and_backward(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for shape, k, s, p, d, ceil in MAX_CONFIGS[::7]:
        x = rng.standard_normal(shape).astype(np.float32)
        x[rng.random(shape) < 0.05] = np.nan
        tx = torch.from_numpy(x).requires_grad_()
        ty, tidx = F.max_pool2d(tx, k, s, p, d, ceil, return_indices=True)
        y, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        assert_close(y, ty.detach().numpy(), 0, 0)
        assert np.array_equal(idx, tidx.numpy())
        if idx.max() >= shape[2] * shape[3]:
            continue  # a window wholly in the padding: PyTorch's own backward would write past the plane
        gy = rng.standard_normal(y.shape).astype(np.float32)
        ty.backward(torch.from_numpy(gy))
        assert_close(ops.max_pool2d_backward(gy, idx, shape, k, s, p, d, ceil), tx.grad.numpy(), 1e-6, 1e-6)
    for (shape, k, s, p, _, ceil), cip, div in zip(AVG_CONFIGS[::5], itertools.cycle([True, False]),
                                                   itertools.cycle([None, None, 3])):
        x = rng.standard_normal(shape).astype(np.float32)
        tx = torch.from_numpy(x).requires_grad_()
        ty = F.avg_pool2d(tx, k, s, p, ceil, cip, div)
        assert_close(ops.avg_pool2d(x, k, s, p, ceil, cip, div), ty.detach().numpy(), 1e-6, 1e-6)
        gy = rng.standard_normal(ty.shape).astype(np.float32)
        ty.backward(torch.from_numpy(gy))
        assert_close(ops.avg_pool2d_backward(gy, shape, k, s, p, ceil, cip, div), tx.grad.numpy(), 1e-5, 1e-6)
    for (shape, k, s, ceil), norm in zip(lp_configs()[::3], itertools.cycle(LP_NORMS)):
        x = rng.uniform(0.2, 2, shape).astype(np.float32)
        tx = torch.from_numpy(x).requires_grad_()
        ty = F.lp_pool2d(tx, norm, k, s, ceil)
        y = ops.lp_pool2d(x, norm, k, s, ceil)
        assert_close(y, ty.detach().numpy(), 1e-5, 1e-5)
        gy = rng.standard_normal(ty.shape).astype(np.float32)
        ty.backward(torch.from_numpy(gy))
        assert_close(ops.lp_pool2d_backward(gy, x, y, norm, k, s, ceil), tx.grad.numpy(), 1e-4, 1e-5)
    for shape, size in [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), (7, 2)), ((3, 10, 12), (5, None))]:
        x = rng.standard_normal(shape).astype(np.float32)
        tx = torch.from_numpy(x).requires_grad_()
        ty = F.adaptive_avg_pool2d(tx, size)
        assert_close(ops.adaptive_avg_pool2d(x, size), ty.detach().numpy(), 1e-6, 1e-6)
        gy = rng.standard_normal(ty.shape).astype(np.float32)
        ty.backward(torch.from_numpy(gy))
        assert_close(ops.adaptive_avg_pool2d_backward(gy, shape), tx.grad.numpy(), 1e-6, 1e-6)


def test_torch_and_we_accept_the_same_geometries():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.zeros(1, 1, 5, 6)
    for k, s, p, d, ceil in itertools.product([1, 2, 3, 6, 7], [1, 2, 4], [0, 1, 2, 3], [1, 2, 3], [False, True]):
        try:
            F.max_pool2d(x, k, s, p, d, ceil)
            ok = True
        except RuntimeError:
            ok = False
        try:
            ops.max_pool2d(x.numpy(), k, s, p, d, ceil)
            ours = True
        except ValueError:
            ours = False
        assert ok == ours, (k, s, p, d, ceil)


# --- the front door -------------------------------------------------------------


def test_errors_name_argument_and_expectation():
    x = np.ones((2, 3, 8, 8), np.float32)
    with pytest.raises(TypeError, match="max_pool2d: input must be float32 or float64, got int64"):
        ops.max_pool2d(x.astype(np.int64), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: input must be 3-D \(C, H, W\) or 4-D"):
        ops.max_pool2d(x[0, 0], 2)
    with pytest.raises(ValueError, match="only the batch N may be 0"):
        ops.avg_pool2d(np.ones((2, 0, 8, 8), np.float32), 2)
    with pytest.raises(ValueError, match="padding must be at most half the kernel size"):
        ops.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        ops.avg_pool2d(x, 3, padding=-1)
    with pytest.raises(ValueError, match="stride must be > 0"):
        ops.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="kernel_size must be > 0"):
        ops.avg_pool2d(x, 0, stride=1)
    with pytest.raises(ValueError, match="dilation must be > 0"):
        ops.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="output size is too small"):
        ops.max_pool2d(x, 9)
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        ops.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="norm_type must be a nonzero"):
        ops.lp_pool2d(x, 0, 2)
    with pytest.raises(ValueError, match="output_size must be >= 0"):
        ops.adaptive_avg_pool2d(x, -1)
    with pytest.raises(ValueError, match=r"max_pool2d: out must have shape \(2, 3, 4, 4\)"):
        ops.max_pool2d(x, 2, out=np.empty((2, 3, 4, 5), np.float32))
    with pytest.raises(TypeError, match="indices must be int64"):
        ops.max_pool2d(x, 2, return_indices=True, indices=np.empty((2, 3, 4, 4), np.int32))
    with pytest.raises(ValueError, match="input must be C-contiguous"):
        ops.max_pool2d(np.ones((2, 3, 8, 16), np.float32)[..., ::2], 2)
    with pytest.raises(ValueError, match="must not share memory"):
        ops.avg_pool2d(x, 1, out=x)
    with pytest.raises(ValueError, match="out is read-only"):
        out = np.empty((2, 3, 4, 4), np.float32)
        out.flags.writeable = False
        ops.avg_pool2d(x, 2, out=out)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, H\*W\)"):
        ops.max_pool2d_backward(np.ones((2, 3, 4, 4), np.float32), np.full((2, 3, 4, 4), 64), x.shape, 2)
    with pytest.raises(ValueError, match=r"grad_output must have shape \(2, 3, 4, 4\)"):
        ops.avg_pool2d_backward(np.ones((2, 3, 4, 3), np.float32), x.shape, 2)
    with pytest.raises(TypeError, match="kernel_size must be an int or a tuple of two ints"):
        ops.max_pool2d(x, 2.5)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        ops.max_pool2d_backward(np.ones((2, 3, 4, 4), np.float32), [[0]], x.shape, 2)


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.complex64])
_shape = st.lists(st.integers(0, 7), min_size=0, max_size=5).map(tuple)
_small = st.integers(-1, 4)
_param = st.one_of(_small, st.tuples(_small, _small))


@settings(max_examples=200, deadline=None)
@given(shape=_shape, dtype=_dtypes, step=st.sampled_from([1, 2, -1]), k=_param, s=st.one_of(st.none(), _param),
       p=_param, d=_param, ceil=st.booleans(), which=st.sampled_from(["max", "avg", "lp", "adaptive", "max_bwd",
                                                                      "avg_bwd", "lp_bwd", "adaptive_bwd"]))
def test_front_door_never_crashes(shape, dtype, step, k, s, p, d, ceil, which):
    x = np.ones(shape, dtype)
    if x.ndim >= 1:
        x = x[..., ::step]
    try:
        if which == "max":
            y, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
            kk, ss = pool_ops._pair(k, "", ""), pool_ops._stride(s, pool_ops._pair(k, "", ""), "")
            want, _ = ref_max(x, kk, ss, pool_ops._pair(p, "", ""), pool_ops._pair(d, "", ""), ceil)
            assert np.array_equal(y, want)
        elif which == "avg":
            y = ops.avg_pool2d(x, k, s, p, ceil)
        elif which == "lp":
            y = ops.lp_pool2d(x, 2, k, s, ceil)
        elif which == "adaptive":
            y = ops.adaptive_avg_pool2d(x, k)
        elif which == "max_bwd":
            ops.max_pool2d_backward(x, np.zeros(x.shape, np.int64), shape, k, s, p, d, ceil)
        elif which == "avg_bwd":
            ops.avg_pool2d_backward(x, shape, k, s, p, ceil)
        elif which == "lp_bwd":
            ops.lp_pool2d_backward(x, np.ones(shape, np.float32), x, 2, k, s, ceil)
        else:
            ops.adaptive_avg_pool2d_backward(x, shape)
    except (ValueError, TypeError):
        return
