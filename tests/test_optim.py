"""nncore.optim against PyTorch: the same parameters and gradients give the
same parameters after several steps for every optimizer and option; the
schedules give the same learning rates; state dicts round-trip."""

import math

import numpy as np
import pytest

import nncore
from nncore import nn, optim


pytestmark = pytest.mark.usefixtures("one_kernel_thread")

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2)),
]


def _quadratic_grads(params, targets, step):
    """Deterministic, step-dependent gradients: 2 (p - target) + a ripple."""
    return [2 * (p - t) + 0.1 * math.sin(step + i) for i, (p, t) in enumerate(zip(params, targets))]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_steps_match_torch(rng, name, kwargs):
    torch = pytest.importorskip("torch")
    shapes = [(3, 4), (5,)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    targets = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [nn.Parameter(nncore.tensor(a)) for a in init]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    opt = getattr(optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(6):
        for p, g in zip(ours, _quadratic_grads([p.numpy() for p in ours], targets, step)):
            p.grad = nncore.tensor(g.astype(np.float32))
        for p, g in zip(theirs, _quadratic_grads([p.detach().numpy() for p in theirs], targets, step)):
            p.grad = torch.tensor(g.astype(np.float32))
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_a_layer_matches_torch_end_to_end(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    ours = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt = optim.Adam(ours.parameters(), lr=0.01)
    ref = torch.optim.Adam(theirs.parameters(), lr=0.01)
    for _ in range(5):
        opt.zero_grad()
        nn.functional.mse_loss(ours(nncore.tensor(x)), nncore.tensor(np.eye(3, dtype=np.float32)[y])).backward()
        opt.step()
        ref.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.tensor(x)), torch.tensor(np.eye(3, dtype=np.float32)[y])).backward()
        ref.step()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_parameters_without_grad_are_skipped_and_groups_have_own_options():
    a = nn.Parameter(nncore.ones(2))
    b = nn.Parameter(nncore.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = nncore.ones(2)
    b.grad = nncore.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0.9, 0.9])
    np.testing.assert_allclose(b.numpy(), [0.0, 0.0])
    b.grad = None
    opt.step()
    np.testing.assert_allclose(b.numpy(), [0.0, 0.0])


def test_zero_grad_set_to_none_or_zero():
    p = nn.Parameter(nncore.ones(2))
    opt = optim.SGD([p], lr=0.1)
    p.grad = nncore.ones(2)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def test_step_updates_in_place_and_bumps_the_version():
    p = nn.Parameter(nncore.ones(2))
    data = p.data
    opt = optim.Adam([p], lr=0.1)
    y = (p * p).sum()
    y.backward(retain_graph=True)
    opt.step()
    assert p.data is data
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.2)),
                                         ("Adagrad", dict(lr=0.1))])
def test_state_dict_round_trip_continues_identically(rng, name, kwargs, tmp_path):
    init = rng.standard_normal(4).astype(np.float32)

    def run(steps, resume_from=None, first_step=0):
        p = nn.Parameter(nncore.tensor(init))
        opt = getattr(optim, name)([p], **kwargs)
        if resume_from is not None:
            p.data[...] = resume_from[0]
            opt.load_state_dict(nncore.load(resume_from[1], as_tensors=False))
        for step in range(steps):
            p.grad = nncore.tensor((p.numpy() * 2 + first_step + step).astype(np.float32))
            opt.step()
        return p, opt

    p_full, _ = run(6)
    p_half, opt_half = run(3)
    path = tmp_path / "opt.npz"
    nncore.save(opt_half.state_dict(), path)
    p_resumed, _ = run(3, (p_half.numpy().copy(), path), first_step=3)
    np.testing.assert_allclose(p_resumed.numpy(), p_full.numpy(), rtol=1e-6)


def test_bad_options_raise():
    p = [nn.Parameter(nncore.ones(1))]
    with pytest.raises(ValueError):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([{"params": p}, {"params": p}], lr=0.1)


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 6], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_opt = optim.SGD([nn.Parameter(nncore.ones(1))], lr=0.2)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.2)
    ours = getattr(optim.lr_scheduler, name)(ours_opt, **kwargs)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **kwargs)
    for _ in range(12):
        assert ours.get_last_lr()[0] == pytest.approx(ref.get_last_lr()[0], rel=1e-9, abs=1e-12)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()
