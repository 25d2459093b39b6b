"""CUDA activations against the CPU twin, outputs poisoned: sizes around a block
(256 threads) and past the grid (4096 blocks: the grid-stride loop), in place,
every kind, and the Tensor / functional ops on CuPy arrays."""

import numpy as np
import pytest

import nncore
from nncore import functional as F
from nncore import ops
from nncore.ops.activation_kinds import NEEDS_INPUT

from support import isa

pytestmark = pytest.mark.cuda

SIZES = [0, 1, 7, 255, 256, 257, 3000]
CASES = [("relu", None, None), ("relu6", None, None), ("leaky_relu", 0.1, None), ("elu", 0.7, None),
         ("softplus", 2.5, 3.0), ("softsign", None, None), ("sigmoid", None, None), ("tanh", None, None),
         ("none", None, None)]


def inputs(rng, n):
    x = rng.standard_normal(n) * 4
    specials = [0.0, 1e-6, -1e-6, 5.99, 6.01, -90.0, 90.0]
    x[:min(n, len(specials))] = specials[:n]
    return x.astype(np.float32)


@pytest.mark.parametrize("case", CASES, ids=[c[0] + (f"-{c[1]}" if c[1] else "") for c in CASES])
def test_forward_and_backward_match_cpu(rng, cupy, poisoned, assert_matches, case):
    kind, alpha, beta = case
    for n in SIZES:
        x = inputs(rng, n)
        g = rng.standard_normal(n).astype(np.float32)
        with isa("scalar"):
            want = ops.activation(x, kind, alpha, beta)
            want_dx = ops.activation_backward(g, x, want, kind, alpha, beta)
        out = poisoned(n, np.float32)
        assert ops.activation(cupy.asarray(x), kind, alpha, beta, out=out) is out
        assert_matches(out, want, 2e-6, 1e-30, err_msg=f"{kind} n={n}")
        dx = poisoned(n, np.float32)
        saved_x, saved_y = (cupy.asarray(x), None) if kind in NEEDS_INPUT else (None, out)
        assert ops.activation_backward(cupy.asarray(g), saved_x, saved_y, kind, alpha, beta, out=dx) is dx
        assert_matches(dx, want_dx, 2e-6, 2e-7, err_msg=f"{kind} backward n={n}")


def test_past_the_grid_and_in_place(rng, cupy, assert_matches):
    n = 4096 * 256 + 37  # more elements than the grid has threads
    x = inputs(rng, n)
    with isa("scalar"):
        want = ops.activation(x, "relu6")
    d = cupy.asarray(x)
    assert ops.activation(d, "relu6", out=d) is d
    assert_matches(d, want)


def test_functional_on_device_matches_cpu(rng, cupy):
    for fn in (F.relu, F.relu6, F.sigmoid, F.tanh, F.softsign, lambda t: F.elu(t, 0.5),
               lambda t: F.leaky_relu(t, 0.2), lambda t: F.softplus(t, 2.0, 10.0)):
        x = (rng.standard_normal((3, 70)) * 3).astype(np.float32)
        g = rng.standard_normal(x.shape).astype(np.float32)
        cpu = nncore.tensor(x, requires_grad=True)
        gpu = nncore.tensor(x).cuda().requires_grad_()
        y_c, y_g = fn(cpu), fn(gpu)
        y_c.backward(nncore.tensor(g))
        y_g.backward(nncore.tensor(g).cuda())
        np.testing.assert_allclose(y_g.cpu().numpy(), y_c.numpy(), rtol=2e-6, atol=1e-7)
        # the device runs the scalar math, the CPU a SIMD twin: y may differ in its last bit, which
        # 1 - y^2 (tanh) or y + alpha (elu) turn into an absolute error of ~1e-7 |g|
        np.testing.assert_allclose(gpu.grad.cpu().numpy(), cpu.grad.numpy(), rtol=2e-6, atol=1e-6)
