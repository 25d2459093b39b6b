"""The fused optimiser kernels (ops.sgd_step, adam_step, rmsprop_step,
adagrad_step) and nncore.optim's SGD / Adam / AdamW / RMSprop / Adagrad on
them: several steps against a float64 reference of PyTorch's rules, every
twin, sizes around the vector widths and a threaded size, and against
torch.optim when it is installed."""

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


RMSPROP_CONFIGS = [dict(lr=0.01), dict(lr=0.01, alpha=0.9, weight_decay=0.1, centered=True),
                   dict(lr=0.01, momentum=0.9, maximize=True), dict(lr=0.005, momentum=0.5, centered=True, eps=1e-6)]
ADAGRAD_CONFIGS = [dict(lr=0.1), dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3),
                   dict(lr=0.05, maximize=True, eps=1e-6)]


def ref_rmsprop(w, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    w = w.astype(np.float64)
    sq, ga, buf = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        d = (-g if maximize else g).astype(np.float64) + weight_decay * w
        sq = alpha * sq + (1 - alpha) * d * d
        ga = alpha * ga + (1 - alpha) * d
        avg = np.sqrt(sq - ga * ga if centered else sq) + eps
        buf = momentum * buf + d / avg
        w = w - lr * (buf if momentum else d / avg)
    return w


def ref_adagrad(w, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                maximize=False):
    w = w.astype(np.float64)
    total = np.full_like(w, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        d = (-g if maximize else g).astype(np.float64) + weight_decay * w
        total = total + d * d
        w = w - lr / (1 + (t - 1) * lr_decay) * d / (np.sqrt(total) + eps)
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


@pytest.mark.parametrize("cfg", RMSPROP_CONFIGS, ids=[str(i) for i in range(len(RMSPROP_CONFIGS))])
def test_rmsprop_kernel_matches_float64_every_twin(rng, each_isa, cfg):
    for n in SIZES:
        w0 = rng.standard_normal(n).astype(np.float32)
        grads = grads_for(rng, n)
        w, sq = w0.copy(), np.zeros(n, np.float32)
        ga = np.zeros(n, np.float32) if cfg.get("centered") else None
        buf = np.zeros(n, np.float32) if cfg.get("momentum") else None
        kw = {k: v for k, v in cfg.items() if k != "centered"}
        for g in grads:
            assert ops.rmsprop_step(w, g, sq, ga, buf, **kw) is w
        assert_steps_close(w, ref_rmsprop(w0, grads, **cfg), w0, f"{cfg} n={n} {each_isa}")


@pytest.mark.parametrize("cfg", ADAGRAD_CONFIGS, ids=[str(i) for i in range(len(ADAGRAD_CONFIGS))])
def test_adagrad_kernel_matches_float64_every_twin(rng, each_isa, cfg):
    for n in SIZES:
        w0 = rng.standard_normal(n).astype(np.float32)
        grads = grads_for(rng, n)
        w, total = w0.copy(), np.full(n, cfg.get("initial_accumulator_value", 0.0), np.float32)
        for t, g in enumerate(grads, 1):
            clr = cfg["lr"] / (1 + (t - 1) * cfg.get("lr_decay", 0.0))
            assert ops.adagrad_step(w, g, total, clr=clr, eps=cfg.get("eps", 1e-10),
                                    weight_decay=cfg.get("weight_decay", 0.0), maximize=cfg.get("maximize", False)) is w
        assert_steps_close(w, ref_adagrad(w0, grads, **cfg), w0, f"{cfg} n={n} {each_isa}")


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


ALL_CONFIGS = ([("SGD", c) for c in SGD_CONFIGS] + ADAM_CONFIGS + [("RMSprop", c) for c in RMSPROP_CONFIGS] +
               [("Adagrad", c) for c in ADAGRAD_CONFIGS])
ALL_IDS = [f"{n}-{i}" for i, (n, _) in enumerate(ALL_CONFIGS)]
KERNELS = {"SGD": "sgd_step", "Adam": "adam_step", "AdamW": "adam_step", "RMSprop": "rmsprop_step",
           "Adagrad": "adagrad_step"}


def reference(name, w0, grads, cfg):
    if name == "SGD":
        return ref_sgd(w0, grads, **cfg)
    if name == "RMSprop":
        return ref_rmsprop(w0, grads, **cfg)
    if name == "Adagrad":
        return ref_adagrad(w0, grads, **cfg)
    c = dict(cfg)
    c.setdefault("weight_decay", 1e-2 if name == "AdamW" else 0.0)
    return ref_adam(w0, grads, decoupled=name == "AdamW", **c)


@pytest.mark.parametrize("name,cfg", ALL_CONFIGS, ids=ALL_IDS)
def test_optimizers_run_the_kernels_and_match_float64(rng, monkeypatch, name, cfg):
    shapes = [(3, 5), (17,), (4, 4, 3)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(STEPS)]
    calls = []
    kernel = KERNELS[name]
    real = getattr(nncore._C, kernel)
    monkeypatch.setattr(nncore._C, kernel, lambda *a, **k: calls.append(1) or real(*a, **k))
    params = [nn.Parameter(nncore.tensor(a.copy())) for a in init]
    versions = [p._ver[0] for p in params]
    _run(getattr(optim, name), cfg, params, steps)
    assert len(calls) == STEPS * len(shapes)
    assert all(p._ver[0] == v + STEPS for p, v in zip(params, versions))  # p._bump() per step
    for i, p in enumerate(params):
        want = reference(name, init[i], [s[i] for s in steps], cfg)
        assert_steps_close(p.numpy(), want, init[i], f"{name} {cfg} param {i}")


@pytest.mark.parametrize("name,cfg", [("SGD", SGD_CONFIGS[3]), ADAM_CONFIGS[2], ADAM_CONFIGS[5],
                                      ("RMSprop", RMSPROP_CONFIGS[3]), ("Adagrad", ADAGRAD_CONFIGS[1])])
def test_float64_parameters_keep_the_array_code(rng, monkeypatch, name, cfg):
    monkeypatch.setattr(nncore._C, KERNELS[name], lambda *a, **k: pytest.fail("float64 went to the float32 kernel"))
    init = rng.standard_normal((4, 6))
    steps = [[rng.standard_normal((4, 6))] for _ in range(STEPS)]
    params = [nn.Parameter(nncore.tensor(init.copy()))]
    _run(getattr(optim, name), cfg, params, steps)
    want = reference(name, init, [s[0] for s in steps], cfg)
    np.testing.assert_allclose(params[0].numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,cfg", ALL_CONFIGS, ids=ALL_IDS)
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
    with pytest.raises(ValueError, match="rmsprop_step: momentum_buffer"):
        ops.rmsprop_step(w, g, m, None, v, lr=0.1)
    with pytest.raises(ValueError, match="rmsprop_step: grad_avg"):
        ops.rmsprop_step(w, g, m, np.zeros(3, np.float32), lr=0.1)
    with pytest.raises(ValueError, match="rmsprop_step: eps"):
        ops.rmsprop_step(w, g, m, lr=0.1, eps=float("nan"))
    with pytest.raises(ValueError, match="adagrad_step: sum"):
        ops.adagrad_step(w, g, g, clr=0.1)
    with pytest.raises(TypeError, match="adagrad_step: clr"):
        ops.adagrad_step(w, g, m, clr="0.1")
