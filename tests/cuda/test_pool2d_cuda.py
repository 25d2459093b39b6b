"""CUDA pooling kernels against the CPU twin (itself tested against float64
NumPy references and PyTorch): every op, forward and backward, odd sizes,
option combinations, NaN and ties, float32 and float64."""

import math

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

cp = pytest.importorskip("cupy")

CONFIGS = [  # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 7, 9), (2, 2), None, (0, 0), (1, 1), False),
    ((2, 3, 17, 33), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 4, 16, 37), (2, 3), (1, 2), (1, 1), (2, 1), False),
    ((3, 2, 11, 13), (3, 1), (3, 3), (1, 0), (1, 1), True),
    ((1, 1, 1, 7), (1, 2), (1, 1), (0, 1), (1, 3), False),
    ((32, 64, 56, 56), (3, 3), (2, 2), (1, 1), (1, 1), False),
]


def close(gpu, cpu, rtol=1e-5, atol=1e-6):
    got = cp.asnumpy(gpu)
    assert got.shape == cpu.shape
    assert np.array_equal(np.isnan(got), np.isnan(cpu))
    np.testing.assert_allclose(got[~np.isnan(cpu)], cpu[~np.isnan(cpu)], rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_max_pool2d_matches_cpu(cfg, dtype):
    shape, k, s, p, d, ceil = cfg
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, shape).astype(dtype)  # ties
    x[rng.random(shape) < 0.05] = np.nan
    y, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    gy_, gidx = ops.max_pool2d(cp.asarray(x), k, s, p, d, ceil, return_indices=True)
    close(gy_, y, 0, 0)
    assert np.array_equal(cp.asnumpy(gidx), idx)
    if idx.max() >= shape[2] * shape[3]:
        return
    g = rng.standard_normal(y.shape).astype(dtype)
    close(ops.max_pool2d_backward(cp.asarray(g), gidx, shape, k, s, p, d, ceil),
          ops.max_pool2d_backward(g, idx, shape, k, s, p, d, ceil))


def test_max_backward_hand_made_indices_scatter():
    g = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    idx = np.array([[[[15, 15], [0, 3]]]], np.int64)  # not in their windows
    want = ops.max_pool2d_backward(g, idx, (1, 1, 4, 4), 2)
    close(ops.max_pool2d_backward(cp.asarray(g), cp.asarray(idx), (1, 1, 4, 4), 2), want, 0, 0)
    with pytest.raises(ValueError, match="indices must lie"):
        ops.max_pool2d_backward(cp.asarray(g), cp.asarray(idx + 100), (1, 1, 4, 4), 2)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("cip, div", [(True, None), (False, None), (True, 3)])
def test_avg_pool2d_matches_cpu(cfg, cip, div):
    shape, k, s, p, _, ceil = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.avg_pool2d(x, k, s, p, ceil, cip, div)
    close(ops.avg_pool2d(cp.asarray(x), k, s, p, ceil, cip, div), y)
    g = rng.standard_normal(y.shape).astype(np.float32)
    close(ops.avg_pool2d_backward(cp.asarray(g), shape, k, s, p, ceil, cip, div),
          ops.avg_pool2d_backward(g, shape, k, s, p, ceil, cip, div))


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("norm", [1, 2, 3, 1.5, math.inf, -math.inf])
def test_lp_pool2d_matches_cpu(cfg, norm):
    shape, k, s, _, _, ceil = cfg
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 2, shape).astype(np.float64)
    y = ops.lp_pool2d(x, norm, k, s, ceil)
    gpu_y = ops.lp_pool2d(cp.asarray(x), norm, k, s, ceil)
    close(gpu_y, y, 1e-10, 1e-12)
    g = rng.standard_normal(y.shape)
    close(ops.lp_pool2d_backward(cp.asarray(g), cp.asarray(x), gpu_y, norm, k, s, ceil),
          ops.lp_pool2d_backward(g, x, y, norm, k, s, ceil), 1e-10, 1e-12)


@pytest.mark.parametrize("shape, size", [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), (7, 2)), ((4, 10, 12), (1, 1))])
def test_adaptive_avg_pool2d_matches_cpu(shape, size):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.adaptive_avg_pool2d(x, size)
    close(ops.adaptive_avg_pool2d(cp.asarray(x), size), y)
    g = rng.standard_normal(y.shape).astype(np.float32)
    close(ops.adaptive_avg_pool2d_backward(cp.asarray(g), shape), ops.adaptive_avg_pool2d_backward(g, shape))


def test_gpu_results_are_deterministic():
    rng = np.random.default_rng(4)
    x = cp.asarray(rng.standard_normal((8, 16, 33, 35)).astype(np.float32))
    y, idx = ops.max_pool2d(x, 3, 1, 1, return_indices=True)
    g = cp.asarray(rng.standard_normal(y.shape).astype(np.float32))
    first = ops.max_pool2d_backward(g, idx, x.shape, 3, 1, 1).copy()
    for _ in range(3):
        assert cp.array_equal(first, ops.max_pool2d_backward(g, idx, x.shape, 3, 1, 1))
    a = ops.avg_pool2d_backward(g, x.shape, 3, 1, 1).copy()
    assert cp.array_equal(a, ops.avg_pool2d_backward(g, x.shape, 3, 1, 1))


def test_mixed_devices_are_refused():
    x = cp.ones((1, 1, 4, 4), cp.float32)
    with pytest.raises(ValueError, match="device"):
        ops.max_pool2d(x, 2, out=np.empty((1, 1, 2, 2), np.float32))
