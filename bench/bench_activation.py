"""Element-wise activations: nncore against PyTorch, 1 and 2 threads.

relu, sigmoid, tanh and elu at a ResNet feature map (32, 64, 56, 56) and an MLP
layer (64, 256): the forward, and forward + backward through autograd
(y = f(x); y.backward(g)) on both sides. Allocator mode: each side allocates
its outputs its usual way (nncore: its host cache; PyTorch: its CPU allocator);
faults_per_call in extra_info says what that costs. GB/s counts the bytes the
op must move at least: forward x read and y written; backward g and y (elu:
y; softplus-like kinds would read x) read and dx written."""

import numpy as np
import pytest

import nncore
from nncore import functional as F
from nncore import ops

from benchutil import need_peer, run

SHAPES = [(32, 64, 56, 56), (64, 256)]
KINDS = ["relu", "sigmoid", "tanh", "elu"]
ids = lambda s: "x".join(map(str, s))  # noqa: E731


def inputs(shape):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape) * 2).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


def torch_fn(torch, kind):
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "elu": torch.nn.functional.elu}[kind]


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_activation_forward(benchmark, threads, impl, kind, shape):
    benchmark.group = f"{kind} fwd {ids(shape)} threads={threads}"
    x, _ = inputs(shape)
    if impl == "nncore":
        fn = lambda: ops.activation(x, kind)  # noqa: E731
    else:
        torch = need_peer("torch")
        tx, f = torch.from_numpy(x), torch_fn(torch, kind)

        def fn():
            with torch.no_grad():
                return f(tx)
    y = run(benchmark, fn, bytes_moved=2 * x.nbytes)
    if impl == "nncore" and kind == "tanh":
        np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_activation_forward_backward(benchmark, threads, impl, kind, shape):
    benchmark.group = f"{kind} fwd+bwd {ids(shape)} threads={threads}"
    x, g = inputs(shape)
    if impl == "nncore":
        tx, tg = nncore.tensor(x, requires_grad=True), nncore.tensor(g)
        f = {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh, "elu": F.elu}[kind]

        def fn():
            tx.grad = None
            f(tx).backward(tg)
            return tx.grad.data
    else:
        torch = need_peer("torch")
        tx, tg, f = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g), torch_fn(torch, kind)

        def fn():
            tx.grad = None
            f(tx).backward(tg)
            return tx.grad
    grad = run(benchmark, fn, bytes_moved=5 * x.nbytes)
    if impl == "nncore" and kind == "relu":
        np.testing.assert_array_equal(grad, np.where(x > 0, g, 0))
