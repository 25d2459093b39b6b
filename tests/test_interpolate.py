"""interpolate2d (bilinear, bicubic) and F.interpolate's modes against a float64
NumPy reference written from PyTorch's rules as per-axis resampling matrices
(y = A_h x A_w^T, so the backward is A_h^T g A_w), with PyTorch as second
oracle, on fresh random inputs at odd sizes with poisoned outputs."""

import math

import numpy as np
import pytest

import nncore
from nncore import functional as F
from nncore import ops
from support import poisoned

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def axis_matrix(n_in, n_out, cubic, align_corners, scale_factor=None):
    """(n_out, n_in) float64 matrix of one axis: PyTorch's source index, taps and weights."""
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
    a = np.zeros((n_out, n_in))
    for o in range(n_out):
        if not cubic and n_in == n_out:
            a[o, o] = 1.0
            continue
        src = scale * o if align_corners else scale * (o + 0.5) - 0.5
        if not cubic:
            src = max(src, 0.0)
        i = min(int(math.floor(src)), n_in - 1)
        t = min(max(src - i, 0.0), 1.0)
        if not cubic:
            a[o, i] += 1 - t
            a[o, min(i + 1, n_in - 1)] += t
            continue
        A = -0.75
        conv1 = lambda x: ((A + 2) * x - (A + 3)) * x * x + 1  # noqa: E731  |x| <= 1
        conv2 = lambda x: ((A * x - 5 * A) * x + 8 * A) * x - 4 * A  # noqa: E731  1 < |x| < 2
        for k, w in enumerate((conv2(t + 1), conv1(t), conv1(1 - t), conv2(2 - t))):
            a[o, min(max(i - 1 + k, 0), n_in - 1)] += w
    return a


def reference(x, size, mode, align_corners, scale_factor=None):
    sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    ah = axis_matrix(x.shape[-2], size[0], mode == "bicubic", align_corners, sf[0])
    aw = axis_matrix(x.shape[-1], size[1], mode == "bicubic", align_corners, sf[1])
    return ah, aw, np.einsum("oh,...hw,pw->...op", ah, x.astype(np.float64), aw)


CASES = [  # (input shape, size, scale_factor)
    ((2, 3, 5, 7), (9, 4), None),
    ((1, 2, 7, 3), (3, 11), None),
    ((3, 1, 6, 6), (6, 6), None),
    ((1, 1, 1, 5), (4, 1), None),
    ((2, 2, 4, 5), (8, 12), (2.0, 2.5)),
    ((1, 3, 9, 5), (4, 2), (0.5, 0.45)),
    ((2, 13, 17), (31, 8), None),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,size,scale_factor", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_match_float64_reference(rng, mode, align_corners, shape, size, scale_factor, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    ah, aw, want = reference(x, size, mode, align_corners, None if align_corners else scale_factor)
    out = poisoned(shape[:-2] + size, dtype)
    got = ops.interpolate2d(x, size, mode, align_corners, scale_factor, out=out)
    assert got is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    g = rng.standard_normal(got.shape).astype(dtype)
    gx = poisoned(shape, dtype)
    ops.interpolate2d_backward(g, shape, mode, align_corners, scale_factor, out=gx)
    np.testing.assert_allclose(gx, np.einsum("oh,...op,pw->...hw", ah, g.astype(np.float64), aw), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_extreme_ratios(rng, mode):
    """A thin input blown up 40x and a wide one shrunk 30x: every tap clamped at some border."""
    for shape, size in (((1, 1, 2, 3), (80, 121)), ((1, 2, 90, 61), (3, 2))):
        x = rng.standard_normal(shape)
        for align in (False, True):
            ah, aw, want = reference(x, size, mode, align)
            np.testing.assert_allclose(ops.interpolate2d(x, size, mode, align), want, rtol=1e-12, atol=1e-12)
            g = rng.standard_normal(shape[:2] + size)
            np.testing.assert_allclose(ops.interpolate2d_backward(g, shape, mode, align),
                                       np.einsum("oh,...op,pw->...hw", ah, g, aw), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("mode,align_corners", [("bilinear", False), ("bilinear", True), ("bicubic", False),
                                                ("bicubic", True), ("area", None), ("nearest", None)])
@pytest.mark.parametrize("kwargs", [{"size": (7, 10)}, {"scale_factor": 1.7}, {"scale_factor": (0.5, 3)},
                                    {"size": (3, 2)}, {"scale_factor": 2.5, "recompute_scale_factor": True}])
def test_functional_matches_torch(rng, mode, align_corners, kwargs):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    ours = nncore.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = F.interpolate(ours, mode=mode, align_corners=align_corners, **kwargs)
    ref = torch.nn.functional.interpolate(theirs, mode=mode, align_corners=align_corners, **kwargs)
    assert tuple(y.shape) == tuple(ref.shape)
    np.testing.assert_allclose(y.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    w = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    (y * nncore.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_area_on_3d_input_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 11)).astype(np.float32)
    y = F.interpolate(nncore.tensor(x), size=4, mode="area")
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.interpolate(torch.tensor(x), size=4, mode="area"),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "area"])
def test_gradcheck(rng, mode):
    x = nncore.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    align = None if mode == "area" else True
    assert nncore.gradcheck(lambda t: F.interpolate(t, size=(7, 3), mode=mode, align_corners=align), [x])


@pytest.mark.parametrize("call,error,arg", [
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), "linear"), ValueError, "mode"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), None), TypeError, "mode"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (0, 3)), ValueError, "size"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 2 ** 40)), ValueError, "size"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), 3), TypeError, "size"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.int64), (3, 3)), TypeError, "input"),
    (lambda: ops.interpolate2d(np.ones((2, 2), np.float32), (3, 3)), ValueError, "input"),
    (lambda: ops.interpolate2d(np.ones((1, 0, 2, 2), np.float32), (3, 3)), ValueError, "input"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), align_corners=1), TypeError,
     "align_corners"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), scale_factor=float("nan")), ValueError,
     "scale_factor"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), scale_factor=-2), ValueError,
     "scale_factor"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), out=np.ones((1, 1, 3, 4), np.float32)),
     ValueError, "out"),
    (lambda: ops.interpolate2d(np.ones((1, 1, 2, 2), np.float32), (3, 3), out=np.ones((1, 1, 3, 3))),
     TypeError, "out"),
    (lambda: ops.interpolate2d_backward(np.ones((1, 1, 3, 3), np.float32), (1, 2, 2, 2)), ValueError, "grad_output"),
    (lambda: ops.interpolate2d_backward(np.ones((1, 1, 3, 3), np.float32), (1, 1, 2)), ValueError, "input_shape"),
])
def test_errors_name_op_and_argument(call, error, arg):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith("interpolate2d"), str(info.value)
    assert arg in str(info.value), str(info.value)


def test_empty_batch():
    assert ops.interpolate2d(np.ones((0, 2, 3, 3), np.float32), (5, 4)).shape == (0, 2, 5, 4)
    assert ops.interpolate2d_backward(np.ones((0, 2, 5, 4)), (0, 2, 3, 3)).shape == (0, 2, 3, 3)
