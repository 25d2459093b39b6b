"""CUDA conv2d / linear with the bias + activation epilogue, and epilogue_grad,
against the CPU twins on the same fresh inputs, outputs poisoned first; and the
fused autograd nodes on device arrays against the host."""

import numpy as np
import pytest

import nncore
import nncore.functional as F
from nncore import ops
from nncore.ops import activation_kinds

pytestmark = pytest.mark.cuda

KINDS = sorted(activation_kinds.KINDS)
FUSED_KINDS = ["relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh"]
CONV_CASES = [  # N, C, H, W, K, R, S, options
    (2, 4, 9, 11, 6, 3, 3, dict(padding=1)),
    (3, 6, 10, 7, 4, 3, 2, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (4, 20, 12, 12, 65, 5, 5, dict()),
]
LINEAR_SHAPES = [(1, 1, 1), (17, 31, 13), (65, 16, 64), (33, 100, 70)]  # (M, K, N) around the 64x64 tile


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_conv2d_and_linear_match_cpu_twin(cupy, rng, poisoned, assert_matches, kind, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for n, c, h, w_, k, r, s, opts in CONV_CASES:
        g = opts.get("groups", 1)
        x = rng.standard_normal((n, c, h, w_)).astype(dtype)
        w = (0.3 * rng.standard_normal((k, c // g, r, s))).astype(dtype)
        b = rng.standard_normal(k).astype(dtype)
        want = ops.conv2d(x, w, b, **opts, activation=kind)
        out = poisoned(want.shape, dtype)
        got = ops.conv2d(cupy.asarray(x), cupy.asarray(w), cupy.asarray(b), **opts, out=out, activation=kind)
        assert got is out
        assert_matches(got, want, rtol=tol, atol=tol)
    for m, kk, nn_ in LINEAR_SHAPES:
        x = rng.standard_normal((m, kk)).astype(dtype)
        w = (0.3 * rng.standard_normal((nn_, kk))).astype(dtype)
        b = rng.standard_normal(nn_).astype(dtype)
        want = ops.linear(x, w, b, activation=kind)
        out = poisoned(want.shape, dtype)
        got = ops.linear(cupy.asarray(x), cupy.asarray(w), cupy.asarray(b), activation=kind, out=out)
        assert got is out
        assert_matches(got, want, rtol=tol, atol=tol * np.sqrt(kk))


@pytest.mark.parametrize("kind", FUSED_KINDS)
def test_epilogue_grad_matches_cpu_twin(cupy, rng, poisoned, assert_matches, kind):
    for size in [1, 17, 1000, 70001]:
        y = ops.linear(rng.standard_normal((size, 1)).astype(np.float32) * 4, np.ones((1, 1), np.float32),
                       activation=kind).reshape(-1)
        g = rng.standard_normal(size).astype(np.float32)
        want = ops.epilogue_grad(g, y, kind)
        out = poisoned((size,), np.float32)
        assert ops.epilogue_grad(cupy.asarray(g), cupy.asarray(y), kind, out=out) is out
        assert_matches(out, want, rtol=1e-6, atol=1e-6)  # 1 - y y: contracted to an FMA or not


@pytest.mark.parametrize("kind", ["relu", "elu", "tanh"])
def test_fused_nodes_on_device_match_host(cupy, rng, kind):
    x = rng.standard_normal((3, 4, 8, 8)).astype(np.float32)
    w = (0.3 * rng.standard_normal((6, 4, 3, 3))).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    results = []
    for to in (np.asarray, cupy.asarray):
        ts = [nncore.tensor(to(a), requires_grad=True) for a in (x, w, b)]
        y = F.fused_conv2d(*ts, padding=1, activation=kind)
        w2 = nncore.tensor(to(0.01 * np.cos(np.arange(5 * 384, dtype=np.float32)).reshape(5, 384)))
        z = F.fused_linear(y.reshape(3, -1), w2, None, kind)
        z.sum().backward()
        results.append([cupy.asnumpy(t.grad.data) if to is cupy.asarray else t.grad.data for t in ts])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
