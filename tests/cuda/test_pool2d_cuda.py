"""CUDA pooling kernels against the CPU twin (itself tested against float64
references and PyTorch): every op, forward and backward, outputs poisoned,
output and input counts around warp and block multiples (one thread per output
forward, per input backward), every window option, NaN and ties."""

import math

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

# kernel, stride, padding, dilation, ceil_mode
WINDOWS = [
    ((2, 2), None, (0, 0), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 3), (1, 2), (1, 1), (2, 1), False),
    ((3, 1), (3, 3), (1, 0), (1, 1), True),
    ((1, 2), (1, 1), (0, 1), (1, 3), False),
    ((4, 5), (2, 3), (2, 2), (2, 2), True),
]
# (planes, OH, OW): 1, 31, 32, 33, 255, 256, 257, 1023 and 1025 outputs
OUTPUTS = [(1, 1, 1), (1, 1, 31), (2, 4, 4), (3, 1, 11), (1, 15, 17), (2, 4, 32), (1, 1, 257), (3, 11, 31),
           (5, 5, 41)]


def out_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def input_size(rng, out, k, s, p, d, ceil_mode):
    """A random input length whose pooled length is out (or the next one the padding allows)."""
    lengths = range(1, (out + 2) * s + d * k + 1)
    fits = [n for n in lengths if out_size(n, k, s, p, d, ceil_mode) == out]
    return int(rng.choice(fits)) if fits else min(n for n in lengths if out_size(n, k, s, p, d, ceil_mode) > out)


def problems(rng, window, no_padding=False):
    """Input shapes for every OUTPUTS case under a window (N, C split at random; one CHW)."""
    k, s, p, d, ceil = window
    s = s or k
    if no_padding:
        p, d = (0, 0), (1, 1)
    shapes = []
    for i, (planes, oh, ow) in enumerate(OUTPUTS):
        H = input_size(rng, oh, k[0], s[0], p[0], d[0], ceil)
        W = input_size(rng, ow, k[1], s[1], p[1], d[1], ceil)
        n = int(rng.choice([q for q in range(1, planes + 1) if planes % q == 0]))
        shapes.append((planes, H, W) if i == 3 else (n, planes // n, H, W))
    return shapes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", WINDOWS, ids=range(len(WINDOWS)))
def test_max_pool2d_matches_cpu(rng, cupy, poisoned, assert_matches, window, dtype):
    k, s, p, d, ceil = window
    for shape in problems(rng, window):
        x = rng.integers(-2, 3, shape).astype(dtype)  # ties
        x[rng.random(shape) < 0.05] = np.nan
        y, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        dx = cupy.asarray(x)
        out, out_idx = poisoned(y.shape, dtype), poisoned(y.shape, np.int64)
        got, got_idx = ops.max_pool2d(dx, k, s, p, d, ceil, True, out=out, indices=out_idx)
        assert got is out and got_idx is out_idx
        assert_matches(out, y, err_msg=str(shape))
        assert_matches(out_idx, idx, err_msg=str(shape))
        assert_matches(ops.max_pool2d(dx, k, s, p, d, ceil, out=poisoned(y.shape, dtype)), y)
        g = rng.standard_normal(y.shape).astype(dtype)
        if idx.max(initial=0) >= shape[-1] * shape[-2]:  # a window wholly in the padding names no input
            for on in ((g, idx), (cupy.asarray(g), out_idx)):
                with pytest.raises(ValueError, match="indices must lie"):
                    ops.max_pool2d_backward(*on, shape, k, s, p, d, ceil)
            continue
        gx = poisoned(shape, dtype)
        ops.max_pool2d_backward(cupy.asarray(g), out_idx, shape, k, s, p, d, ceil, out=gx)
        assert_matches(gx, ops.max_pool2d_backward(g, idx, shape, k, s, p, d, ceil), err_msg=str(shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_backward_indices_outside_their_windows_scatter(rng, cupy, poisoned, assert_matches, dtype):
    for shape in [(1, 1, 4, 4), (2, 3, 9, 11), (257, 1, 5, 4)]:  # a thread per plane
        y, idx = ops.max_pool2d(rng.standard_normal(shape).astype(dtype), 3, 2, 1, return_indices=True)
        idx.reshape(-1)[::3] = rng.integers(0, shape[2] * shape[3], idx.size)[::3]  # anywhere in the plane
        g = rng.standard_normal(y.shape).astype(dtype)
        gx = poisoned(shape, dtype)
        ops.max_pool2d_backward(cupy.asarray(g), cupy.asarray(idx), shape, 3, 2, 1, out=gx)
        assert_matches(gx, ops.max_pool2d_backward(g, idx, shape, 3, 2, 1), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="indices must lie"):
        ops.max_pool2d_backward(cupy.asarray(g), cupy.asarray(idx + shape[2] * shape[3]), shape, 3, 2, 1)


def test_dilated_window_wholly_in_padding_gives_minus_inf(cupy, poisoned, assert_matches):
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    y, idx = ops.max_pool2d(x, 2, 1, 1, 3, return_indices=True)
    out, out_idx = poisoned(y.shape, np.float32), poisoned(y.shape, np.int64)
    ops.max_pool2d(cupy.asarray(x), 2, 1, 1, 3, return_indices=True, out=out, indices=out_idx)
    assert float(out[0, 0, 0, 0]) == -np.inf
    assert_matches(out, y)
    assert_matches(out_idx, idx)


@pytest.mark.parametrize("window", WINDOWS, ids=range(len(WINDOWS)))
@pytest.mark.parametrize("cip, div, dtype", [(True, None, np.float32), (False, None, np.float64),
                                             (True, 3, np.float32), (False, -2, np.float64)])
def test_avg_pool2d_matches_cpu(rng, cupy, poisoned, assert_matches, window, cip, div, dtype):
    k, s, p, _, ceil = window
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for shape in problems(rng, (k, s, p, (1, 1), ceil)):
        x = rng.standard_normal(shape).astype(dtype)
        y = ops.avg_pool2d(x, k, s, p, ceil, cip, div)
        out = poisoned(y.shape, dtype)
        assert ops.avg_pool2d(cupy.asarray(x), k, s, p, ceil, cip, div, out=out) is out
        assert_matches(out, y, tol, tol, err_msg=str(shape))
        g = rng.standard_normal(y.shape).astype(dtype)
        gx = poisoned(shape, dtype)
        ops.avg_pool2d_backward(cupy.asarray(g), shape, k, s, p, ceil, cip, div, out=gx)
        assert_matches(gx, ops.avg_pool2d_backward(g, shape, k, s, p, ceil, cip, div), tol, tol, err_msg=str(shape))


@pytest.mark.parametrize("window", WINDOWS[:4], ids=range(4))
@pytest.mark.parametrize("norm", [1, 2, 3, 1.5, math.inf, -math.inf])
def test_lp_pool2d_matches_cpu(rng, cupy, poisoned, assert_matches, window, norm):
    k, s, _, _, ceil = window
    for i, shape in enumerate(problems(rng, window, no_padding=True)):
        dtype = (np.float32, np.float64)[i % 2]
        tol = 2e-5 if dtype == np.float32 else 1e-11
        x = rng.uniform(0.2, 2, shape)
        if norm in (1, 2, math.inf, -math.inf):
            x *= rng.choice([-1, 1], shape)
        x[..., :k[0], :k[1]] = 0  # a window of zeros: the gradient's t == 0 branch
        x = x.astype(dtype)
        y = ops.lp_pool2d(x, norm, k, s, ceil)
        out = poisoned(y.shape, dtype)
        dx = cupy.asarray(x)
        assert ops.lp_pool2d(dx, norm, k, s, ceil, out=out) is out
        assert_matches(out, y, tol, tol, err_msg=str(shape))
        g = rng.standard_normal(y.shape).astype(dtype)
        gx = poisoned(shape, dtype)
        ops.lp_pool2d_backward(cupy.asarray(g), dx, out, norm, k, s, ceil, out=gx)
        assert_matches(gx, ops.lp_pool2d_backward(g, x, y, norm, k, s, ceil), tol, tol, err_msg=str(shape))


ADAPTIVE = [  # input shape, output size: output counts around warp and block multiples
    ((1, 1, 1, 1), (1, 1)),
    ((2, 3, 7, 9), (3, 4)),
    ((1, 2, 5, 5), (7, 2)),
    ((31, 1, 3, 3), 1),
    ((4, 8, 12, 10), (1, 1)),
    ((3, 11, 13, 17), (None, 1)),
    ((1, 1, 33, 31), (15, 17)),
    ((2, 4, 16, 17), (4, 8)),
    ((257, 2, 3), (1, 1)),
    ((3, 11, 31, 33), (5, 31)),
    ((1, 5, 6, 41), (5, 41)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_avg_pool2d_matches_cpu(rng, cupy, poisoned, assert_matches, dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for shape, size in ADAPTIVE:
        x = rng.standard_normal(shape).astype(dtype)
        y = ops.adaptive_avg_pool2d(x, size)
        out = poisoned(y.shape, dtype)
        assert ops.adaptive_avg_pool2d(cupy.asarray(x), size, out=out) is out
        assert_matches(out, y, tol, tol, err_msg=str(shape))
        g = rng.standard_normal(y.shape).astype(dtype)
        gx = poisoned(shape, dtype)
        ops.adaptive_avg_pool2d_backward(cupy.asarray(g), shape, out=gx)
        assert_matches(gx, ops.adaptive_avg_pool2d_backward(g, shape), tol, tol, err_msg=str(shape))


def test_empty_inputs_and_outputs(rng, cupy, poisoned, assert_matches):
    x = rng.standard_normal((0, 3, 8, 8)).astype(np.float32)
    assert_matches(ops.max_pool2d(cupy.asarray(x), 2), ops.max_pool2d(x, 2))
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    assert_matches(ops.adaptive_avg_pool2d(cupy.asarray(x), (0, 2)), ops.adaptive_avg_pool2d(x, (0, 2)))
    g = rng.standard_normal((2, 3, 0, 2)).astype(np.float32)
    gx = poisoned(x.shape, np.float32)
    ops.adaptive_avg_pool2d_backward(cupy.asarray(g), x.shape, out=gx)
    assert_matches(gx, ops.adaptive_avg_pool2d_backward(g, x.shape))  # zeros: no window holds an input


def test_gpu_results_are_deterministic(rng, cupy):
    x = cupy.asarray(rng.standard_normal((3, 5, 33, 35)).astype(np.float32))
    y, idx = ops.max_pool2d(x, 3, 1, 1, return_indices=True)
    g = cupy.asarray(rng.standard_normal(y.shape).astype(np.float32))
    first = ops.max_pool2d_backward(g, idx, x.shape, 3, 1, 1).copy()
    assert cupy.array_equal(first, ops.max_pool2d_backward(g, idx, x.shape, 3, 1, 1))
    a = ops.avg_pool2d_backward(g, x.shape, 3, 1, 1).copy()
    assert cupy.array_equal(a, ops.avg_pool2d_backward(g, x.shape, 3, 1, 1))


def test_mixed_devices_are_refused(cupy):
    x = cupy.ones((1, 1, 4, 4), cupy.float32)
    with pytest.raises(ValueError, match="device"):
        ops.max_pool2d(x, 2, out=np.empty((1, 1, 2, 2), np.float32))
