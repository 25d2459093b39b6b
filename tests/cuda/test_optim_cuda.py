"""CUDA fused SGD, Adam / AdamW, RMSprop and Adagrad against the CPU twin over several steps:
sizes around a block (256 threads) and past the grid, and nncore.optim on
parameters held by CuPy arrays."""

import math

import numpy as np
import pytest

import nncore
from nncore import nn, ops, optim

from support import isa

pytestmark = pytest.mark.cuda

SIZES = [0, 1, 255, 256, 257, 3000]


def test_sgd_matches_cpu(rng, cupy, poisoned, assert_matches):
    for n in SIZES:
        for cfg in (dict(lr=0.1), dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                    dict(lr=0.05, momentum=0.8, dampening=0.2, maximize=True)):
            w = rng.standard_normal(n).astype(np.float32)
            grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
            mu = cfg.get("momentum", 0.0)
            w_c, buf_c = w.copy(), np.empty(n, np.float32) if mu else None
            w_g, buf_g = cupy.asarray(w), poisoned(n, np.float32) if mu else None
            for step, g in enumerate(grads):
                with isa("scalar"):
                    ops.sgd_step(w_c, g, buf_c, first_step=step == 0, **cfg)
                ops.sgd_step(w_g, cupy.asarray(g), buf_g, first_step=step == 0, **cfg)
            assert_matches(w_g, w_c, 1e-6, 1e-7, err_msg=f"{cfg} n={n}")
            if mu:
                assert_matches(buf_g, buf_c, 1e-6, 1e-7, err_msg=f"{cfg} n={n}")


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_matches_cpu(rng, cupy, assert_matches, amsgrad, decoupled):
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    for n in SIZES + [4096 * 256 + 5]:  # the last: more elements than the grid has threads
        w = rng.standard_normal(n).astype(np.float32)
        cpu = [w.copy()] + [np.zeros(n, np.float32) for _ in range(3 if amsgrad else 2)]
        gpu = [cupy.asarray(a) for a in cpu]
        for t in range(1, 4):
            g = rng.standard_normal(n).astype(np.float32)
            kw = dict(beta1=b1, beta2=b2, eps=1e-8, step_size=lr / (1 - b1 ** t), bias2_sqrt=math.sqrt(1 - b2 ** t),
                      grad_decay=0.0 if decoupled else wd, param_scale=1 - lr * wd if decoupled else 1.0)
            with isa("scalar"):
                ops.adam_step(cpu[0], g, cpu[1], cpu[2], cpu[3] if amsgrad else None, **kw)
            ops.adam_step(gpu[0], cupy.asarray(g), gpu[1], gpu[2], gpu[3] if amsgrad else None, **kw)
        for a, b in zip(gpu, cpu):
            assert_matches(a, b, 1e-6, 1e-7, err_msg=f"n={n}")


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_and_adagrad_match_cpu(rng, cupy, assert_matches, centered, momentum):
    for n in SIZES:
        w = rng.standard_normal(n).astype(np.float32)
        cpu = [w.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)]
        gpu = [cupy.asarray(a) for a in cpu]
        ada_c, ada_g = [w.copy(), np.full(n, 0.1, np.float32)], [cupy.asarray(w), cupy.full(n, 0.1, np.float32)]
        for t in range(1, 4):
            g = rng.standard_normal(n).astype(np.float32)
            kw = dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=momentum, maximize=centered)
            with isa("scalar"):
                ops.rmsprop_step(cpu[0], g, cpu[1], cpu[2] if centered else None, cpu[3] if momentum else None, **kw)
                ops.adagrad_step(ada_c[0], g, ada_c[1], clr=0.1 / t, weight_decay=0.05)
            ops.rmsprop_step(gpu[0], cupy.asarray(g), gpu[1], gpu[2] if centered else None,
                             gpu[3] if momentum else None, **kw)
            ops.adagrad_step(ada_g[0], cupy.asarray(g), ada_g[1], clr=0.1 / t, weight_decay=0.05)
        for a, b in zip(gpu + ada_g, cpu + ada_c):
            assert_matches(a, b, 1e-6, 1e-7, err_msg=f"n={n}")


@pytest.mark.parametrize("name,cfg", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                      ("AdamW", dict(lr=0.01, weight_decay=0.1)),
                                      ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                      ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_optimizers_on_device_match_cpu(rng, cupy, name, cfg):
    init = [rng.standard_normal(s).astype(np.float32) for s in ((5, 7), (300,))]
    cpu = [nn.Parameter(nncore.tensor(a.copy())) for a in init]
    gpu = [nn.Parameter(nncore.tensor(a.copy()).cuda()) for a in init]
    opt_c, opt_g = getattr(optim, name)(cpu, **cfg), getattr(optim, name)(gpu, **cfg)
    for _ in range(3):
        for pc, pg in zip(cpu, gpu):
            g = rng.standard_normal(pc.shape).astype(np.float32)
            pc.grad, pg.grad = nncore.tensor(g), nncore.tensor(g).cuda()
        opt_c.step()
        opt_g.step()
    for pc, pg in zip(cpu, gpu):
        assert pg.is_cuda
        np.testing.assert_allclose(pg.cpu().numpy(), pc.numpy(), rtol=1e-6, atol=1e-7)
