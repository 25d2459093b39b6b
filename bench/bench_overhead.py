"""Per-op Python overhead: one op on a 1-element tensor that requires grad
(forward with autograd recording), nncore against PyTorch; and one small
training step (forward + backward + SGD) of a 64-32-10 MLP on a batch of 32.
The floor for a 1-element op is the array library's own call (a NumPy ufunc,
~0.5-0.9 us); PERF.md's bar is torch.relu with recording (2.7 us there)."""

import numpy as np
import pytest

import nncore
from nncore import nn, optim

from benchutil import need_peer, run

OPS = {
    "relu": lambda x, y: x.relu(),
    "add": lambda x, y: x + y,
    "mul": lambda x, y: x * y,
    "exp": lambda x, y: x.exp(),
    "sum": lambda x, y: x.sum(),
    "getitem": lambda x, y: x[0],
}


@pytest.mark.parametrize("impl", ["nncore", "torch", "numpy"])
@pytest.mark.parametrize("op", list(OPS))
def test_op_overhead(benchmark, impl, op):
    benchmark.group = f"overhead {op} 1-element, autograd recording"
    fn = OPS[op]
    if impl == "nncore":
        x = nncore.ones(1, requires_grad=True)
        y = nncore.ones(1, requires_grad=True)
        assert fn(x, y).requires_grad
    elif impl == "torch":
        torch = need_peer("torch")
        x = torch.ones(1, requires_grad=True)
        y = torch.ones(1, requires_grad=True)
    else:
        x = np.ones(1, np.float32)
        y = np.ones(1, np.float32)
        fn = {"relu": lambda x, y: np.maximum(x, np.float32(0)), "exp": lambda x, y: np.exp(x),
              "sum": lambda x, y: x.sum(), "getitem": lambda x, y: x[0]}.get(op, fn)
    run(benchmark, lambda: fn(x, y))


@pytest.mark.parametrize("impl", ["nncore", "torch"])
def test_mlp_training_step(benchmark, impl):
    benchmark.group = "MLP 64-32-10 training step, batch 32 (1 thread)"
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((32, 64)).astype(np.float32)
    yb = rng.integers(0, 10, 32)
    if impl == "nncore":
        nncore.set_num_threads(1)
        lib, F = nncore, nncore.functional
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        lib = need_peer("torch")
        lib.set_num_threads(1)
        F = lib.nn.functional
        model = lib.nn.Sequential(lib.nn.Linear(64, 32), lib.nn.ReLU(), lib.nn.Linear(32, 10))
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = lib.tensor(xb), lib.tensor(yb)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    run(benchmark, step)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_optimizer_step(benchmark, impl, name):
    """One step over LeNet-sized parameters (431k floats): memory-bound, in place."""
    benchmark.group = f"{name} step, 431k parameters (1 thread)"
    shapes = [(500, 800), (500,), (10, 500), (10,), (50, 20, 5, 5), (50,), (20, 1, 5, 5), (20,)]
    options = {"momentum": 0.9} if name == "SGD" else {}
    if impl == "nncore":
        nncore.set_num_threads(1)
        params = [nn.Parameter(nncore.randn(*s)) for s in shapes]
        for p in params:
            p.grad = nncore.randn(*p.shape)
        opt = getattr(optim, name)(params, lr=0.01, **options)
    else:
        torch = need_peer("torch")
        torch.set_num_threads(1)
        params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
        for p in params:
            p.grad = torch.randn(*p.shape)
        opt = getattr(torch.optim, name)(params, lr=0.01, **options)
    n = sum(int(np.prod(s)) for s in shapes)
    # bytes per element: SGD reads w, g, buf and writes w, buf; Adam reads w, g, m, v and writes w, m, v
    run(benchmark, opt.step, bytes_moved=4 * n * (5 if name == "SGD" else 7))
