"""The fused optimiser kernels (ops.sgd_step, ops.adam_step) and nncore.optim's
SGD / Adam / AdamW on them: several steps against a float64 reference of
PyTorch's rules, every twin, sizes around the vector widths and a threaded
size, and against torch.optim when it is installed."""

import math

import numpy as np
import pytest

import nncore
from nncore import nn, ops, optim

from support import poisoned

SIZES = list(range(0, 18)) + [31, 32, 33, 97, 1000, 70001]
STEPS = 4

SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
               dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
               dict(lr=0.02, momentum=0.5, weight_decay=0.1, maximize=True), dict(lr=0.1, weight_decay=0.2)]
ADAM_CONFIGS = [("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
                ("Adam", dict(lr=0.01, amsgrad=True, eps=1e-6)), ("Adam", dict(lr=0.02, maximize=True)),
                ("AdamW", dict(lr=0.01)), ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True, maximize=True))]


def ref_sgd(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    w, buf = w.astype(np.float64), None
    for g in grads:
        d = (-g if maximize else g).astype(np.float64) + weight_decay * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


def ref_adam(w, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False):
    w = w.astype(np.float64)
    m, v, vmax = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    b1, b2 = betas
    for t, g in enumerate(grads, 1):
        d = (-g if maximize else g).astype(np.float64)
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            d = d + weight_decay * w
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / math.sqrt(1 - b2 ** t) + eps
        w = w - lr / (1 - b1 ** t) * m / denom
    return w


def grads_for(rng, n):
    return [rng.standard_normal(n).astype(np.float32) for _ in range(STEPS)]


def assert_steps_close(got, want, w0, msg):
    """Each step rounds to float32: a few ulp of the parameter's scale per step."""
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * (1 + np.abs(w0).max(initial=0)), err_msg=msg)


@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=[str(i) for i in range(len(SGD_CONFIGS))])
def test_sgd_kernel_matches_float64_every_twin(rng, each_isa, cfg):
    for n in SIZES:
        w0 = rng.standard_normal(n).astype(np.float32)
        grads = grads_for(rng, n)
        w = w0.copy()
        mu = cfg.get("momentum", 0.0)
        buf = poisoned(n) if mu else None  # the first step writes all of it
        for step, g in enumerate(grads):
            assert ops.sgd_step(w, g, buf, first_step=step == 0, **cfg) is w
        assert_steps_close(w, ref_sgd(w0, grads, **cfg), w0, f"{cfg} n={n} {each_isa}")


@pytest.mark.parametrize("name,cfg", ADAM_CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ADAM_CONFIGS)])
def test_adam_kernel_matches_float64_every_twin(rng, each_isa, name, cfg):
    b1, b2 = cfg.get("betas", (0.9, 0.999))
    lr, wd, eps = cfg["lr"], cfg.get("weight_decay", 1e-2 if name == "AdamW" else 0.0), cfg.get("eps", 1e-8)
    for n in SIZES:
        w0 = rng.standard_normal(n).astype(np.float32)
        grads = grads_for(rng, n)
        w, m, v = w0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
        vmax = np.zeros(n, np.float32) if cfg.get("amsgrad") else None
        for t, g in enumerate(grads, 1):
            ops.adam_step(w, g, m, v, vmax, beta1=b1, beta2=b2, eps=eps, step_size=lr / (1 - b1 ** t),
                          bias2_sqrt=math.sqrt(1 - b2 ** t), grad_decay=0.0 if name == "AdamW" else wd,
                          param_scale=1 - lr * wd if name == "AdamW" else 1.0, maximize=cfg.get("maximize", False))
        want = ref_adam(w0, grads, lr, (b1, b2), eps, wd, cfg.get("amsgrad", False), cfg.get("maximize", False),
                        decoupled=name == "AdamW")
        assert_steps_close(w, want, w0, f"{name} {cfg} n={n} {each_isa}")


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_ranges_cover_every_element(rng, threads):
    before = nncore.get_num_threads()
    nncore.set_num_threads(threads)
    try:
        for n in (65536, 65537, 65536 + 63, 200003):
            w0 = rng.standard_normal(n).astype(np.float32)
            g = rng.standard_normal(n).astype(np.float32)
            w, buf = w0.copy(), poisoned(n)
            ops.sgd_step(w, g, buf, lr=0.1, momentum=0.9, first_step=True)
            np.testing.assert_array_equal(buf, g)
            np.testing.assert_allclose(w, w0 - 0.1 * g.astype(np.float64), rtol=1e-6, atol=1e-7)
    finally:
        nncore.set_num_threads(before)


def _run(opt_cls, cfg, params, grads_per_step):
    opt = opt_cls(params, **cfg)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = nncore.tensor(g)
        opt.step()
    return opt


@pytest.mark.parametrize("name,cfg", [("SGD", c) for c in SGD_CONFIGS] + ADAM_CONFIGS,
                         ids=[f"SGD-{i}" for i in range(len(SGD_CONFIGS))] +
                             [f"{n}-{i}" for i, (n, _) in enumerate(ADAM_CONFIGS)])
def test_optimizers_run_the_kernels_and_match_float64(rng, monkeypatch, name, cfg):
    shapes = [(3, 5), (17,), (4, 4, 3)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(STEPS)]
    calls = []
    kernel = "sgd_step" if name == "SGD" else "adam_step"
    real = getattr(nncore._C, kernel)
    monkeypatch.setattr(nncore._C, kernel, lambda *a, **k: calls.append(1) or real(*a, **k))
    params = [nn.Parameter(nncore.tensor(a.copy())) for a in init]
    versions = [p._ver[0] for p in params]
    _run(getattr(optim, name), cfg, params, steps)
    assert len(calls) == STEPS * len(shapes)
    assert all(p._ver[0] == v + STEPS for p, v in zip(params, versions))  # p._bump() per step
    for i, p in enumerate(params):
        grads = [s[i] for s in steps]
        if name == "SGD":
            want = ref_sgd(init[i], grads, **cfg)
        else:
            c = dict(cfg)
            c.setdefault("weight_decay", 1e-2 if name == "AdamW" else 0.0)
            want = ref_adam(init[i], grads, decoupled=name == "AdamW", **c)
        assert_steps_close(p.numpy(), want, init[i], f"{name} {cfg} param {i}")


@pytest.mark.parametrize("name,cfg", [("SGD", SGD_CONFIGS[3]), ADAM_CONFIGS[2], ADAM_CONFIGS[5]])
def test_float64_and_strided_parameters_keep_the_array_code(rng, monkeypatch, name, cfg):
    kernel = "sgd_step" if name == "SGD" else "adam_step"
    monkeypatch.setattr(nncore._C, kernel, lambda *a, **k: pytest.fail("float64 went to the float32 kernel"))
    init = rng.standard_normal((4, 6))
    steps = [[rng.standard_normal((4, 6))] for _ in range(STEPS)]
    params = [nn.Parameter(nncore.tensor(init.copy()))]
    _run(getattr(optim, name), cfg, params, steps)
    grads = [s[0] for s in steps]
    if name == "SGD":
        want = ref_sgd(init, grads, **cfg)
    else:
        c = dict(cfg)
        c.setdefault("weight_decay", 1e-2 if name == "AdamW" else 0.0)
        want = ref_adam(init, grads, decoupled=name == "AdamW", **c)
    np.testing.assert_allclose(params[0].numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,cfg", [("SGD", c) for c in SGD_CONFIGS] + ADAM_CONFIGS,
                         ids=[f"SGD-{i}" for i in range(len(SGD_CONFIGS))] +
                             [f"{n}-{i}" for i, (n, _) in enumerate(ADAM_CONFIGS)])
def test_matches_torch_optim(rng, name, cfg):
    torch = pytest.importorskip("torch")
    shapes = [(64, 3, 3, 3), (64,), (1000, 70)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(STEPS)]
    ours = [nn.Parameter(nncore.tensor(a.copy())) for a in init]
    _run(getattr(optim, name), cfg, ours, steps)
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
    opt = getattr(torch.optim, name)(theirs, **cfg)
    for grads in steps:
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
        opt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_naming_them():
    w, g = np.ones(8, np.float32), np.ones(8, np.float32)
    with pytest.raises(ValueError, match="sgd_step: momentum_buffer"):
        ops.sgd_step(w, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="sgd_step: grad"):
        ops.sgd_step(w, np.ones(7, np.float32), lr=0.1)
    with pytest.raises((TypeError, ValueError), match="sgd_step: grad"):
        ops.sgd_step(w, np.ones(8), lr=0.1)
    with pytest.raises((TypeError, ValueError), match="sgd_step: param"):
        ops.sgd_step(np.ones(8), np.ones(8), lr=0.1)
    with pytest.raises(ValueError, match="sgd_step: param"):
        ops.sgd_step(np.ones(16, np.float32)[::2], g, lr=0.1)
    with pytest.raises(ValueError, match="sgd_step: grad"):
        ops.sgd_step(w, w, lr=0.1)  # the gradient is the parameter
    with pytest.raises(ValueError, match="sgd_step: lr"):
        ops.sgd_step(w, g, lr=float("inf"))
    with pytest.raises(ValueError, match="sgd_step: nesterov"):
        ops.sgd_step(w, g, np.zeros(8, np.float32), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="sgd_step: maximize"):
        ops.sgd_step(w, g, lr=0.1, maximize=1)
    m, v = np.zeros(8, np.float32), np.zeros(8, np.float32)
    kw = dict(beta1=0.9, beta2=0.999, eps=1e-8, step_size=0.1, bias2_sqrt=0.1)
    with pytest.raises(ValueError, match="adam_step: exp_avg_sq"):
        ops.adam_step(w, g, m, m, **kw)
    with pytest.raises(ValueError, match="adam_step: max_exp_avg_sq"):
        ops.adam_step(w, g, m, v, np.zeros(9, np.float32), **kw)
    with pytest.raises(ValueError, match="adam_step: beta1"):
        ops.adam_step(w, g, m, v, **dict(kw, beta1=1.0))
    with pytest.raises(ValueError, match="adam_step: bias2_sqrt"):
        ops.adam_step(w, g, m, v, **dict(kw, bias2_sqrt=0.0))
    with pytest.raises(ValueError, match="adam_step: param"):
        ro = np.ones(8, np.float32)
        ro.flags.writeable = False
        ops.adam_step(ro, g, m, v, **kw)
