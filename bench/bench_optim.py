"""Optimiser steps: nncore's fused SGD (momentum 0.9) and Adam against
torch.optim (its default, and foreach=True), 1 and 2 threads, over ResNet-18's
parameter set (62 tensors, 11.7M floats, shapes as torchvision's resnet18).
GB/s counts the bytes a step must move at least: SGD reads param, grad and
momentum buffer and writes param and buffer (20 B per element); Adam reads
param, grad, exp_avg and exp_avg_sq and writes three of them (28 B)."""

import numpy as np
import pytest

import nncore
from nncore import nn, optim

from benchutil import need_peer, run


def resnet18_shapes():
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            first_in = cin if block == 0 else cout
            shapes += [(cout, first_in, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    return shapes + [(1000, 512), (1000,)]


SHAPES = resnet18_shapes()
NUMEL = sum(int(np.prod(s)) for s in SHAPES)
CONFIGS = {"sgd_momentum": ("SGD", dict(lr=0.01, momentum=0.9)), "adam": ("Adam", dict(lr=1e-3))}
BYTES = {"sgd_momentum": 20 * NUMEL, "adam": 28 * NUMEL}


def arrays():
    rng = np.random.default_rng(0)
    return ([rng.standard_normal(s).astype(np.float32) * 0.1 for s in SHAPES],
            [rng.standard_normal(s).astype(np.float32) * 0.01 for s in SHAPES])


def test_parameter_set_is_resnet18_sized():
    assert len(SHAPES) == 62 and NUMEL == 11_689_512


@pytest.mark.parametrize("impl", ["nncore", "torch", "torch-foreach"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_optimizer_step(benchmark, threads, impl, config):
    benchmark.group = f"{config} step resnet18 threads={threads}"
    name, kwargs = CONFIGS[config]
    weights, grads = arrays()
    if impl == "nncore":
        params = [nn.Parameter(nncore.tensor(w)) for w in weights]
        for p, g in zip(params, grads):
            p.grad = nncore.tensor(g)
        opt = getattr(optim, name)(params, **kwargs)
    else:
        torch = need_peer("torch")
        params = [torch.nn.Parameter(torch.from_numpy(w)) for w in weights]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g)
        opt = getattr(torch.optim, name)(params, foreach=True if impl == "torch-foreach" else None, **kwargs)
    opt.step()  # the state exists before timing, as in training
    run(benchmark, opt.step, bytes_moved=BYTES[config])
