"""CUDA interpolate2d (bilinear, bicubic) against the CPU twin (itself tested
against a float64 reference and PyTorch): forward one thread per output,
backward one thread per input gathering its outputs, outputs poisoned and
guarded, element counts around warp and block multiples, up- and downsampling,
align_corners and scale factors."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

# input shape, output size, scale_factor; 1, 31, 33, 257 and 1025 outputs or inputs
CASES = [
    ((1, 1, 1, 1), (1, 31), None),
    ((1, 1, 3, 11), (1, 33), None),
    ((2, 1, 5, 7), (16, 16), (3.3, 2.4)),
    ((1, 3, 17, 15), (4, 5), None),
    ((257, 4, 3), (2, 5), None),
    ((1, 1, 41, 25), (5, 3), (0.13, 0.13)),
    ((2, 3, 6, 9), (6, 9), None),
]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate2d_matches_cpu(rng, cupy, poisoned, assert_matches, mode, align_corners, dtype):
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for shape, size, scale_factor in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        want = ops.interpolate2d(x, size, mode, align_corners, scale_factor)
        out = poisoned(want.shape, dtype)
        got = ops.interpolate2d(cupy.asarray(x), size, mode, align_corners, scale_factor, out=out)
        assert got is out
        assert_matches(out, want, rtol=tol, atol=tol, err_msg=str(shape))
        g = rng.standard_normal(want.shape).astype(dtype)
        gx = poisoned(shape, dtype)
        ops.interpolate2d_backward(cupy.asarray(g), shape, mode, align_corners, scale_factor, out=gx)
        assert_matches(gx, ops.interpolate2d_backward(g, shape, mode, align_corners, scale_factor), rtol=tol,
                       atol=tol, err_msg=str(shape))


def test_interpolate2d_refuses_mixed_devices(cupy):
    x = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises((TypeError, ValueError), match="interpolate2d: .*out"):
        ops.interpolate2d(cupy.asarray(x), (3, 3), out=np.ones((1, 1, 3, 3), np.float32))
