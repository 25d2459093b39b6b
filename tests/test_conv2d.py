"""ops.conv2d / conv2d_backward / conv_transpose2d / conv_transpose2d_backward
against float64 NumPy loop references, finite differences, every twin, and
PyTorch as a second oracle."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncore
from nncore import ops

from support import isa, poisoned


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# --- float64 references -------------------------------------------------------

def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, k, p, q] = sum_{c, r, s} x[n, c, p sh - ph + r dh, q sw - pw + s dw] w[k, c, r, s] + b[k]."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    P = (H + 2 * ph - dh * (R - 1) - 1) // sh + 1
    Q = (W + 2 * pw - dw * (S - 1) - 1) // sw + 1
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    y = np.zeros((N, K, P, Q))
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                patch = xp[:, cs, r * dh: r * dh + sh * (P - 1) + 1: sh, s * dw: s * dw + sw * (Q - 1) + 1: sw]
                y[:, ks] += np.einsum("nchw,kc->nkhw", patch, w[ks, :, r, s])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def ref_conv2d_grad_input(gy, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    """The adjoint of ref_conv2d in x: every output gradient scattered back through each tap."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    gy = gy.astype(np.float64)
    w = w.astype(np.float64)
    N, C, H, W = x_shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    P, Q = gy.shape[2:]
    gxp = np.zeros((N, C, max(H + 2 * ph, dh * (R - 1) + sh * (P - 1) + 1),
                    max(W + 2 * pw, dw * (S - 1) + sw * (Q - 1) + 1)))
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                gxp[:, cs, r * dh: r * dh + sh * (P - 1) + 1: sh, s * dw: s * dw + sw * (Q - 1) + 1: sw] += \
                    np.einsum("nkhw,kc->nchw", gy[:, ks], w[ks, :, r, s])
    return gxp[:, :, ph:ph + H, pw:pw + W]


def ref_conv2d_grad_weight(gy, x, w_shape, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    gy = gy.astype(np.float64)
    x = x.astype(np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w_shape
    Kg = K // groups
    P, Q = gy.shape[2:]
    xp = np.zeros((N, C, max(H + 2 * ph, dh * (R - 1) + sh * (P - 1) + 1),
                   max(W + 2 * pw, dw * (S - 1) + sw * (Q - 1) + 1)))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    gw = np.zeros(w_shape)
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                patch = xp[:, cs, r * dh: r * dh + sh * (P - 1) + 1: sh, s * dw: s * dw + sw * (Q - 1) + 1: sw]
                gw[ks, :, r, s] = np.einsum("nchw,nkhw->kc", patch, gy[:, ks])
    return gw


def transpose_out_size(n, k, stride, padding, dilation, output_padding):
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d is conv2d's input gradient: x plays grad_output, w (C_in, C_out/g, R, S) the conv weight."""
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pair(stride), pair(padding), pair(dilation), pair(output_padding)
    N, _, H, W = x.shape
    C_out = w.shape[1] * groups
    shape = (N, C_out, transpose_out_size(H, w.shape[2], sh, ph, dh, oh),
             transpose_out_size(W, w.shape[3], sw, pw, dw, ow))
    y = ref_conv2d_grad_input(x, w, shape, stride, padding, dilation, groups)
    if b is not None:
        y = y + b.astype(np.float64)[None, :, None, None]
    return y


# --- helpers -----------------------------------------------------------------

def rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def assert_close(got, want, reduction, dtype=np.float32):
    """float32 sums of `reduction` terms of unit scale: error grows like sqrt(reduction) * eps."""
    assert got.shape == want.shape
    assert np.all(np.isfinite(got)), "unwritten (NaN-poisoned) output elements"
    eps = np.finfo(dtype).eps
    tol = 8 * eps * np.sqrt(max(reduction, 1)) * max(1.0, np.sqrt(reduction))
    err = np.max(np.abs(got - want)) if got.size else 0.0
    assert err <= tol, (err, tol)


def conv_case(rng, N, C, H, W, K, R, S, groups=1, dtype=np.float32):
    x = rand(rng, (N, C, H, W), dtype)
    w = rand(rng, (K, C // groups, R, S), dtype)
    b = rand(rng, (K,), dtype)
    return x, w, b


# --- forward ---------------------------------------------------------------------

OPTIONS = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(dilation=2),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 3)),
    dict(stride=3, padding=2, dilation=2),
    dict(padding=(3, 1)),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_every_option(each_isa, rng, opts, groups, bias):
    x, w, b = conv_case(rng, 3, 8, 11, 9, 12, 3, 2, groups)
    want = ref_conv2d(x, w, b if bias else None, groups=groups, **opts)
    out = poisoned(want.shape)
    got = ops.conv2d(x, w, b if bias else None, groups=groups, out=out, **opts)
    assert got is out
    assert_close(got, want, w[0].size)


SIZES = [1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17]


def test_sizes_around_simd_widths(each_isa, rng):
    for i, c in enumerate(SIZES):
        k = SIZES[(i * 7 + 3) % len(SIZES)]
        hw = SIZES[(i * 5 + 1) % len(SIZES)] + 2
        r = (1, 3, 5)[i % 3]
        x, w, b = conv_case(rng, 1 + i % 3, c, hw, hw + 3, k, min(r, hw), 1 + i % 2)
        pad = i % 2
        want = ref_conv2d(x, w, b, padding=pad)
        assert_close(ops.conv2d(x, w, b, padding=pad), want, w[0].size)


@pytest.mark.parametrize("shape", [
    (1, 3, 17, 23, 8, 7, 7, 2, 3),   # stem-like 7x7 stride 2
    (2, 16, 9, 9, 33, 1, 1, 1, 0),   # 1x1
    (2, 17, 8, 8, 17, 1, 1, 2, 0),   # strided 1x1
    (3, 5, 12, 12, 7, 5, 5, 1, 0),   # LeNet-like
    (1, 24, 10, 10, 24, 3, 3, 1, 1), # batch 1, 3x3
    (2, 4, 1, 30, 3, 1, 5, 1, 0),    # non-square kernel, image one row high
])
def test_shapes_of_real_networks(each_isa, rng, shape):
    N, C, H, W, K, R, S, stride, pad = shape
    x, w, b = conv_case(rng, N, C, H, W, K, R, S)
    want = ref_conv2d(x, w, b, stride, pad)
    assert_close(ops.conv2d(x, w, b, stride, pad), want, w[0].size)


@pytest.mark.parametrize("shape", [
    (2, 16, 5, 38, 16, 3, 3, dict(padding=1)),                                  # SSD-head-like: 16 outputs
    (1, 24, 7, 56, 5, 3, 3, dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2))),
    (3, 16, 6, 13, 14, 2, 3, dict(groups=2, padding=1)),
    (1, 8, 4, 29, 9, 3, 5, dict(padding=(2, 0), dilation=(2, 1))),
])
def test_few_output_channels(each_isa, rng, shape):
    N, C, H, W, K, R, S, opts = shape
    x, w, b = conv_case(rng, N, C, H, W, K, R, S, opts.get("groups", 1))
    want = ref_conv2d(x, w, b, **opts)
    out = poisoned(want.shape)
    assert_close(ops.conv2d(x, w, b, out=out, **opts), want, w[0].size)


@pytest.mark.parametrize("shape", [
    (2, 32, 21, 17, 33, dict(padding=1)),     # odd output: partial 2x2 tiles
    (1, 40, 29, 28, 32, dict()),
    (3, 36, 13, 11, 48, dict(padding=(1, 2))),
    (1, 33, 24, 26, 35, dict(padding=2)),
    (2, 48, 20, 20, 64, dict(padding=(0, 1))),
    (2, 32, 7, 9, 33, dict(padding=1)),       # too few tiles for Winograd: direct
])
def test_3x3_stride_1_many_channels(each_isa, rng, shape):
    # the AVX-512 twin runs these through Winograd F(2x2, 3x3): float32 error within 1e-4 (relative Frobenius)
    N, C, H, W, K, opts = shape
    x, w, b = conv_case(rng, N, C, H, W, K, 3, 3)
    want = ref_conv2d(x, w, b, **opts)
    got = ops.conv2d(x, w, b, out=poisoned(want.shape), **opts)
    assert_close(got, want, w[0].size)
    assert np.linalg.norm(got - want) <= 1e-4 * np.linalg.norm(want)
    gy = rand(rng, want.shape)
    gx = ops.conv2d_backward(gy, x, w, output_mask=(True, False, False), **opts)[0]
    assert_close(gx, ref_conv2d_grad_input(gy, w, x.shape, **opts), K * 9)


def test_depthwise(each_isa, rng):
    x, w, b = conv_case(rng, 2, 18, 13, 11, 36, 3, 3, groups=18)
    want = ref_conv2d(x, w, b, 2, 1, 1, 18)
    assert_close(ops.conv2d(x, w, b, 2, 1, 1, 18), want, 9)


def test_kernel_the_size_of_the_padded_input(rng):
    x, w, b = conv_case(rng, 2, 3, 4, 5, 2, 6, 7)
    want = ref_conv2d(x, w, b, padding=1)
    assert want.shape == (2, 2, 1, 1)
    assert_close(ops.conv2d(x, w, b, padding=1), want, w[0].size)


@pytest.mark.parametrize("K", [3, 9])
def test_empty_batch_and_channels(each_isa, rng, K):
    x, w, b = conv_case(rng, 0, 3, 6, 6, 4, 3, 3)
    assert ops.conv2d(x, w, b).shape == (0, 4, 4, 4)
    x = rand(rng, (2, 0, 5, 5))
    w = rand(rng, (K, 0, 2, 2))
    b = rand(rng, (K,))
    np.testing.assert_array_equal(ops.conv2d(x, w, b), np.broadcast_to(b[None, :, None, None], (2, K, 4, 4)))
    gx, gw, gb = ops.conv2d_backward(rand(rng, (0, 4, 4, 4)), *conv_case(rng, 0, 3, 6, 6, 4, 3, 3)[:2])
    assert gx.shape == (0, 3, 6, 6)
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)


def test_float64_matches_reference_tightly(rng):
    x, w, b = conv_case(rng, 2, 6, 9, 8, 4, 3, 3, groups=2, dtype=np.float64)
    got = ops.conv2d(x, w, b, (1, 2), 1, (2, 1), 2)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, ref_conv2d(x, w, b, (1, 2), 1, (2, 1), 2), rtol=1e-12, atol=1e-12)


# --- backward --------------------------------------------------------------------

BACKWARD_CASES = [
    (2, 4, 7, 8, 6, 3, 3, dict(padding=1)),
    (3, 6, 9, 7, 4, 3, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (2, 8, 6, 6, 8, 3, 3, dict(stride=2, padding=1, groups=8)),
    (1, 5, 6, 6, 7, 1, 1, dict()),
    (4, 3, 10, 10, 5, 5, 5, dict(stride=3, padding=2)),
    (2, 3, 6, 7, 4, 3, 3, dict(padding=(3, 1), dilation=(1, 2))),  # padding wider than the kernel reach
    (3, 17, 9, 8, 19, 3, 3, dict(padding=1)),
    (2, 40, 7, 9, 12, 3, 2, dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),  # channels-last weight gradient
    (2, 64, 6, 5, 26, 3, 3, dict(padding=1, groups=2)),
    (3, 97, 5, 6, 9, 1, 3, dict(padding=(0, 1))),
]


@pytest.mark.parametrize("case", BACKWARD_CASES, ids=range(len(BACKWARD_CASES)))
def test_backward_matches_reference(each_isa, rng, case):
    N, C, H, W, K, R, S, opts = case
    groups = opts.get("groups", 1)
    x, w, _ = conv_case(rng, N, C, H, W, K, R, S, groups)
    y = ref_conv2d(x, w, **opts)
    gy = rand(rng, y.shape)
    gx, gw, gb = ops.conv2d_backward(gy, x, w, **opts)
    conv_opts = {k: v for k, v in opts.items() if k != "groups"}
    assert_close(gx, ref_conv2d_grad_input(gy, w, x.shape, groups=groups, **conv_opts), K * R * S)
    assert_close(gw, ref_conv2d_grad_weight(gy, x, w.shape, groups=groups, **conv_opts), N * y.shape[2] * y.shape[3])
    assert_close(gb, gy.astype(np.float64).sum(axis=(0, 2, 3)), gy[:, 0].size)


@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True),
                                  (False, False, False), (True, True, False)])
def test_output_mask(rng, mask):
    x, w, _ = conv_case(rng, 2, 4, 6, 6, 3, 3, 3)
    gy = rand(rng, (2, 3, 4, 4))
    full = ops.conv2d_backward(gy, x, w)
    part = ops.conv2d_backward(gy, x, w, output_mask=mask)
    for want, got, m in zip(full, part, mask):
        if m:
            np.testing.assert_array_equal(got, want)
        else:
            assert got is None


def directional_fd(f, v, d, h=1e-6):
    return (f(v + h * d) - f(v - h * d)) / (2 * h)


@pytest.mark.parametrize("transposed", [False, True])
def test_backward_by_finite_differences_float64(rng, transposed):
    opts = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    if transposed:
        x = rand(rng, (2, 4, 5, 4), np.float64)
        w = rand(rng, (4, 3, 3, 2), np.float64)
        b = rand(rng, (6,), np.float64)
        topts = dict(opts, output_padding=(1, 0))
        fwd = lambda x_, w_, b_: ops.conv_transpose2d(x_, w_, b_, **topts)
        bwd = lambda gy: ops.conv_transpose2d_backward(gy, x, w, **topts)
    else:
        x = rand(rng, (2, 4, 7, 6), np.float64)
        w = rand(rng, (6, 2, 3, 2), np.float64)
        b = rand(rng, (6,), np.float64)
        fwd = lambda x_, w_, b_: ops.conv2d(x_, w_, b_, **opts)
        bwd = lambda gy: ops.conv2d_backward(gy, x, w, **opts)
    gy = rand(rng, fwd(x, w, b).shape, np.float64)
    gx, gw, gb = bwd(gy)
    loss = lambda x_, w_, b_: float(np.sum(fwd(x_, w_, b_) * gy))
    for _ in range(3):
        dx, dw, db = rand(rng, x.shape, np.float64), rand(rng, w.shape, np.float64), rand(rng, b.shape, np.float64)
        assert np.isclose(directional_fd(lambda v: loss(v, w, b), x, dx), np.sum(gx * dx), rtol=1e-7, atol=1e-7)
        assert np.isclose(directional_fd(lambda v: loss(x, v, b), w, dw), np.sum(gw * dw), rtol=1e-7, atol=1e-7)
        assert np.isclose(directional_fd(lambda v: loss(x, w, v), b, db), np.sum(gb * db), rtol=1e-7, atol=1e-7)


# --- transposed convolution ---------------------------------------------------------

TRANSPOSE_CASES = [
    (2, 4, 5, 6, 3, 3, 3, dict()),
    (2, 4, 5, 6, 3, 3, 3, dict(stride=2, padding=1, output_padding=1)),
    (3, 6, 4, 3, 2, 4, 4, dict(stride=2, padding=1, groups=3)),            # DCGAN-like
    (1, 4, 6, 5, 5, 3, 2, dict(stride=(1, 2), dilation=(3, 1), output_padding=(2, 1))),  # output_padding < dilation
    (2, 5, 7, 7, 4, 1, 1, dict()),
    (2, 6, 5, 6, 9, 3, 3, dict(dilation=2, output_padding=1, padding=1)),  # stride 1, output_padding < dilation
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=range(len(TRANSPOSE_CASES)))
def test_conv_transpose2d(each_isa, rng, case):
    N, C_in, H, W, C_out_g, R, S, opts = case
    groups = opts.get("groups", 1)
    x = rand(rng, (N, C_in, H, W))
    w = rand(rng, (C_in, C_out_g, R, S))
    b = rand(rng, (C_out_g * groups,))
    want = ref_conv_transpose2d(x, w, b, **opts)
    out = poisoned(want.shape)
    got = ops.conv_transpose2d(x, w, b, out=out, **opts)
    assert_close(got, want, C_in // groups * R * S)
    gy = rand(rng, want.shape)
    gx, gw, gb = ops.conv_transpose2d_backward(gy, x, w, **opts)
    conv_opts = {k: opts[k] for k in ("stride", "padding", "dilation") if k in opts}
    assert_close(gx, ref_conv2d(gy, w, None, groups=groups, **conv_opts)[:, :, :H, :W], w[0].size)
    assert_close(gw, ref_conv2d_grad_weight(x, gy, w.shape, groups=groups, **conv_opts), N * H * W)
    assert_close(gb, gy.astype(np.float64).sum(axis=(0, 2, 3)), gy[:, 0].size)


# --- small maps: images batched into one GEMM; taps that only read padding ------------

SMALL_MAP_CASES = [
    # (N, C, H, W, K, R, S, opts): output maps of 1..256 pixels, batch chunks with a remainder
    (37, 5, 3, 3, 7, 3, 3, dict(stride=2, padding=1)),
    (40, 8, 8, 8, 16, 4, 4, dict(stride=2, padding=1)),
    (9, 12, 5, 4, 6, 3, 2, dict(stride=(2, 1), padding=(1, 0), groups=3)),
    (130, 3, 2, 2, 5, 3, 3, dict(stride=2, padding=1)),  # 1 output pixel, 130 images: chunks of 512 columns
    (3, 4, 33, 31, 6, 4, 4, dict(stride=2, padding=1)),  # 256 output pixels
    (6, 16, 1, 1, 9, 3, 3, dict(padding=1)),  # 1x1 map: only the centre tap is live
    (5, 9, 2, 3, 4, 5, 5, dict(padding=2)),  # the outermost taps read padding only
    (4, 6, 2, 2, 8, 3, 3, dict(padding=(2, 1), dilation=(2, 1))),
    (3, 10, 1, 7, 6, 3, 3, dict(padding=1, groups=2)),
    # few input channels, stride 1 along rows: the direct weight gradient (lanes along q)
    (5, 1, 20, 21, 6, 5, 5, dict()),
    (3, 3, 17, 33, 13, 3, 3, dict(padding=1)),
    (4, 2, 12, 9, 7, 3, 4, dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    (2, 4, 9, 40, 5, 7, 3, dict(padding=3)),
    (7, 3, 8, 8, 17, 2, 2, dict()),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", SMALL_MAP_CASES, ids=range(len(SMALL_MAP_CASES)))
def test_small_maps_and_dead_taps(each_isa, rng, case, threads):
    N, C, H, W, K, R, S, opts = case
    groups = opts.get("groups", 1)
    x, w, b = conv_case(rng, N, C, H, W, K, R, S, groups)
    conv_opts = {k: v for k, v in opts.items() if k != "groups"}
    before = nncore.get_num_threads()
    nncore.set_num_threads(threads)
    try:
        want = ref_conv2d(x, w, b, **opts)
        out = poisoned(want.shape)
        assert_close(ops.conv2d(x, w, b, out=out, **opts), want, w[0].size)
        gy = rand(rng, want.shape)
        gx, gw, _ = ops.conv2d_backward(gy, x, w, output_mask=(True, True, False), **opts)
        assert_close(gx, ref_conv2d_grad_input(gy, w, x.shape, groups=groups, **conv_opts), K * R * S)
        assert_close(gw, ref_conv2d_grad_weight(gy, x, w.shape, groups=groups, **conv_opts),
                     N * want.shape[2] * want.shape[3])
    finally:
        nncore.set_num_threads(before)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu"])
@pytest.mark.parametrize("shape", [(3, 1, 20, 21, 6, 5, 5, 0), (2, 3, 17, 33, 13, 3, 3, 1), (2, 2, 9, 40, 26, 7, 3, 3)])
def test_few_input_channels_forward_with_epilogue(each_isa, rng, shape, activation):
    N, C, H, W, K, R, S, pad = shape
    x, w, b = conv_case(rng, N, C, H, W, K, R, S)
    y = ref_conv2d(x, w, b, padding=pad)
    want = {"relu": np.maximum(y, 0), "tanh": np.tanh(y), "leaky_relu": np.where(y > 0, y, 0.01 * y)}[activation]
    out = poisoned(want.shape)
    got = ops.conv2d(x, w, b, padding=pad, activation=activation, out=out)
    assert_close(got, want, w[0].size)


def test_input_gradient_with_non_finite_weights_stays_local(each_isa, rng):
    """A NaN in tap (0, 0) must reach only the inputs that tap touches: with padding 1
    over a 6x6 map, the last row and column of x are never read by it (the stride-1 path
    that runs the gradient as a convolution of flipped weights is skipped for such weights)."""
    x, w, _ = conv_case(rng, 2, 8, 6, 6, 8, 3, 3)
    w[:, :, 0, 0] = np.nan
    gy = rand(rng, (2, 8, 6, 6))
    gx = ops.conv2d_backward(gy, x, w, padding=1, output_mask=(True, False, False))[0]
    assert np.all(np.isnan(gx[:, :, :5, :5]))
    assert np.all(np.isfinite(gx[:, :, 5, :])) and np.all(np.isfinite(gx[:, :, :, 5]))


# --- twins, threads, determinism -----------------------------------------------------

def test_simd_twins_match_scalar(rng):
    x, w, b = conv_case(rng, 3, 13, 15, 14, 19, 3, 3)
    gy = rand(rng, (3, 19, 8, 7))
    with isa("scalar"):
        want = [ops.conv2d(x, w, b, 2, 1).copy()] + [g.copy() for g in ops.conv2d_backward(gy, x, w, 2, 1)]
    for name in ("avx2", "avx512"):
        supported = nncore.build_info()["isa_supported"]
        if ["scalar", "avx2", "avx512"].index(name) > ["scalar", "avx2", "avx512"].index(supported):
            continue
        with isa(name):
            got = [ops.conv2d(x, w, b, 2, 1)] + list(ops.conv2d_backward(gy, x, w, 2, 1))
        for g, want_g in zip(got, want):
            np.testing.assert_allclose(g, want_g, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [(5, 8, 12, 12, 16), (2, 32, 20, 20, 40), (3, 40, 14, 14, 12)],
                         ids=["implicit-gemm", "winograd", "few-outputs"])
def test_threads_agree_and_runs_are_identical(rng, threads, shape):
    N, C, H, W, K = shape
    x, w, b = conv_case(rng, N, C, H, W, K, 3, 3)
    gy = rand(rng, (N, K, H, W))
    before = nncore.get_num_threads()
    try:
        nncore.set_num_threads(threads)
        first = [ops.conv2d(x, w, b, 1, 1).copy()] + [g.copy() for g in ops.conv2d_backward(gy, x, w, 1, 1)]
        again = [ops.conv2d(x, w, b, 1, 1)] + list(ops.conv2d_backward(gy, x, w, 1, 1))
        for a, b_ in zip(first, again):
            assert np.array_equal(a, b_)
        assert_close(first[0], ref_conv2d(x, w, b, 1, 1), w[0].size)
        assert_close(first[1], ref_conv2d_grad_input(gy, w, x.shape, 1, 1), K * 9)
        assert_close(first[2], ref_conv2d_grad_weight(gy, x, w.shape, 1, 1), N * H * W)
    finally:
        nncore.set_num_threads(before)


# --- PyTorch as second oracle --------------------------------------------------------

@pytest.mark.parametrize("case", [
    (2, 6, 10, 9, 4, 3, 3, dict(stride=2, padding=1, groups=2)),
    (1, 3, 16, 16, 8, 7, 7, dict(stride=2, padding=3)),
    (3, 8, 8, 8, 8, 3, 3, dict(padding=1, dilation=2, groups=8)),
    (2, 5, 9, 11, 7, 1, 1, dict()),
])
def test_torch_agrees(rng, case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    N, C, H, W, K, R, S, opts = case
    x, w, b = conv_case(rng, N, C, H, W, K, R, S, opts.get("groups", 1))
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = F.conv2d(tx, tw, tb, **opts)
    np.testing.assert_allclose(ops.conv2d(x, w, b, **opts), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    gy = rand(rng, ty.shape)
    ty.backward(torch.from_numpy(gy))
    for got, t in zip(ops.conv2d_backward(gy, x, w, **opts), (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-4, atol=1e-3)

    # the same weight read as a transposed convolution's (C_in = K, C_out / groups = C / groups)
    topts = dict(opts, output_padding=1 if opts.get("stride", 1) > 1 else 0)
    xt = rand(rng, (N, K, 5, 4))
    bt = rand(rng, (C,))
    txt, twt, tbt = (torch.from_numpy(a).requires_grad_() for a in (xt, w, bt))
    tyt = F.conv_transpose2d(txt, twt, tbt, **topts)
    np.testing.assert_allclose(ops.conv_transpose2d(xt, w, bt, **topts), tyt.detach().numpy(), rtol=1e-4, atol=1e-4)
    gyt = rand(rng, tyt.shape)
    tyt.backward(torch.from_numpy(gyt))
    for got, t in zip(ops.conv_transpose2d_backward(gyt, xt, w, **topts), (txt, twt, tbt)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_dlpack_and_noncontiguous_inputs(rng):
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 4, 9, 8)
    w = torch.randn(4, 8, 3, 3)[:, ::2]  # a strided view
    got = ops.conv2d(x, w, padding=1)
    want = torch.nn.functional.conv2d(x, w, padding=1)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)


# --- the front door -------------------------------------------------------------------

def test_errors_name_argument_and_expectation(rng):
    x, w, b = conv_case(rng, 2, 4, 6, 6, 6, 3, 3)
    with pytest.raises(TypeError, match="conv2d: input must be float32 or float64, got int64"):
        ops.conv2d(x.astype(np.int64), w)
    with pytest.raises(TypeError, match="conv2d: weight must have the dtype of input"):
        ops.conv2d(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="conv2d: bias must have the dtype of input"):
        ops.conv2d(x, w, b.astype(np.float64))
    with pytest.raises(ValueError, match=r"conv2d: input must be 4-D \(N, C, H, W\), got 3-D"):
        ops.conv2d(x[0], w)
    with pytest.raises(ValueError, match="conv2d: weight must be 4-D"):
        ops.conv2d(x, w[0])
    with pytest.raises(ValueError, match=r"expects 8 input channels .* got input with 4 channels"):
        ops.conv2d(x, rand(rng, (6, 8, 3, 3)))
    with pytest.raises(ValueError, match=r"in_channels \(4\) must be divisible by groups \(3\)"):
        ops.conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"out_channels .* must be divisible by groups \(4\)"):
        ops.conv2d(x, rand(rng, (6, 1, 3, 3)), groups=4)
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(6,\)"):
        ops.conv2d(x, w, b[:5])
    with pytest.raises(ValueError, match=r"conv2d: stride must be >= 1 and < 2\*\*31, got \(0, 1\)"):
        ops.conv2d(x, w, stride=(0, 1))
    with pytest.raises(ValueError, match="conv2d: dilation must be >= 1"):
        ops.conv2d(x, w, dilation=0)
    with pytest.raises(ValueError, match="conv2d: padding must be >= 0"):
        ops.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.conv2d(x, rand(rng, (6, 4, 7, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.conv2d(x, w, dilation=3)
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints"):
        ops.conv2d(x, w, stride=1.5)
    with pytest.raises(TypeError, match="groups must be an int"):
        ops.conv2d(x, w, groups=True)
    with pytest.raises(ValueError, match=r"conv2d: out must have shape \(2, 6, 4, 4\)"):
        ops.conv2d(x, w, out=np.empty((2, 6, 4, 5), np.float32))
    with pytest.raises(ValueError, match="out is read-only"):
        out = np.empty((2, 6, 4, 4), np.float32)
        out.flags.writeable = False
        ops.conv2d(x, w, out=out)
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        ops.conv2d(x, w, out=np.empty((2, 6, 4, 8), np.float32)[..., ::2])
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        ops.conv_transpose2d(x, rand(rng, (4, 2, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose2d: output size .* must be >= 1"):
        ops.conv_transpose2d(x[:, :, :1, :1], rand(rng, (4, 2, 1, 1)), padding=1)
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output must have shape \(2, 6, 4, 4\)"):
        ops.conv2d_backward(rand(rng, (2, 6, 4, 3)), x, w)
    with pytest.raises(ValueError, match="output_mask must have 3 entries"):
        ops.conv2d_backward(rand(rng, (2, 6, 4, 4)), x, w, output_mask=(True, True))


def test_kernel_door_rejects_bad_outputs(rng):
    from nncore import _C

    x, w, _ = conv_case(rng, 2, 4, 6, 6, 6, 3, 3)
    gy = rand(rng, (2, 6, 4, 4))
    args = ((1, 1), (0, 0), (1, 1), 1, (0, 0), False)
    with pytest.raises(ValueError, match="grad_weight must not share memory with grad_input"):
        buf = np.empty(x.size + w.size, np.float32)
        _C.conv2d_backward(gy, x, w, buf[:x.size].reshape(x.shape), buf[:w.size].reshape(w.shape), None, *args)
    with pytest.raises(ValueError, match="out must not share memory with input"):
        _C.conv2d_forward(x, w, None, x.reshape(-1)[:2 * 6 * 16].reshape(2, 6, 4, 4), *args)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        _C.conv2d_forward([1.0], w, None, x, *args)


dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.float16, np.uint8])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x_shape=st.lists(st.integers(0, 6), min_size=2, max_size=5),
    w_shape=st.lists(st.integers(0, 4), min_size=2, max_size=5),
    x_dtype=dtypes, w_dtype=dtypes,
    bias_len=st.one_of(st.none(), st.integers(0, 6)),
    stride=st.one_of(st.integers(-1, 3), st.tuples(st.integers(-1, 3), st.integers(-1, 3))),
    padding=st.one_of(st.integers(-1, 3), st.tuples(st.integers(-1, 3), st.integers(-1, 3))),
    dilation=st.integers(-1, 3),
    groups=st.integers(-1, 4),
    output_padding=st.integers(-1, 3),
    transposed=st.booleans(),
    strided=st.booleans(),
)
def test_front_door_never_crashes(x_shape, w_shape, x_dtype, w_dtype, bias_len, stride, padding, dilation, groups,
                                  output_padding, transposed, strided):
    from nncore import _C

    x = np.ones(x_shape, x_dtype)
    if strided and x.ndim >= 1 and x.shape[-1] > 1:
        x = np.ones(x_shape[:-1] + [x_shape[-1] * 2], x_dtype)[..., ::2]
    w = np.ones(w_shape, w_dtype)
    b = None if bias_len is None else np.ones(bias_len, x_dtype)
    try:
        if transposed:
            y = ops.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
            grads = ops.conv_transpose2d_backward(np.ones(y.shape, x_dtype), x, w, stride, padding, output_padding,
                                                  groups, dilation)
        else:
            y = ops.conv2d(x, w, b, stride, padding, dilation, groups)
            grads = ops.conv2d_backward(np.ones(y.shape, x_dtype), x, w, stride, padding, dilation, groups)
        assert all(np.all(np.isfinite(g)) for g in grads)
    except (ValueError, TypeError):
        pass
    # the kernel door itself, handed a non-contiguous input
    pairs = [(1, 1), (0, 0), (1, 1)]
    try:
        _C.conv2d_forward(x, w, b, np.empty((1, 1, 1, 1), x_dtype), *pairs, 1, (0, 0), transposed)
    except (ValueError, TypeError):
        pass
