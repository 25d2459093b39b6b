"""`nncore train mlp`: backpropagation. A 2-3-1 sigmoid network learns XOR (what
the single perceptron cannot), then a 64-512-256-10 ReLU network classifies the
real 8x8 handwritten digits (standardised pixels, Gaussian input noise, dropout,
label smoothing, AdamW with a cosine schedule)."""

import numpy as np

import nncore
from .. import functional as F
from .. import optim
from ..data import TensorDataset, digits_datasets
from ..models.mlp import MLP
from ..models.perceptron import GATE_INPUTS, GATES
from . import Option, Trained, evaluator, recipe
from ._common import draw_learning_curves, evaluate_classifier, fit_classifier


def train_xor(run, hidden=3, steps=3000, lr=2.0):
    """Full-batch gradient descent on the binary cross-entropy of a 2-hidden-1
    sigmoid network; returns (model, steps until all four are right or None, losses)."""
    model = MLP(2, [hidden], 1, activation="sigmoid")
    x = nncore.tensor(GATE_INPUTS.astype(np.float32))
    t = nncore.tensor(GATES["XOR"].astype(np.float32)[:, None])
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses, solved = [], None
    for step in range(1, steps + 1):
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        if solved is None and ((logits.detach().numpy() > 0) == (t.numpy() > 0.5)).all():
            solved = step
    return model, solved, losses


def xor_accuracy(model):
    with nncore.no_grad():
        out = model(nncore.tensor(GATE_INPUTS.astype(np.float32))).numpy()[:, 0]
    return float(((out > 0) == (GATES["XOR"] > 0)).mean())


def standardise(train_set, test_set):
    """Pixels scaled by the training set's per-pixel mean and spread (+0.1 keeps the
    always-blank border pixels finite); returns new datasets and (mean, scale)."""
    x, y = train_set[np.arange(len(train_set))]
    xt, yt = test_set[np.arange(len(test_set))]
    mean, scale = x.mean(0), x.std(0) + np.float32(0.1)
    return (TensorDataset((x - mean) / scale, y), TensorDataset((xt - mean) / scale, yt)), (mean, scale)


def digits_model(hidden=(512, 256)):
    return MLP(64, list(hidden), 10, activation="relu", dropout=0.4)


class InputNoise:
    """Adds N(0, std^2) noise to each standardised training batch."""

    def __init__(self, std, generator):
        self.std = np.float32(std)
        self.rng = generator

    def __call__(self, x):
        return x + self.std * self.rng.standard_normal(x.shape, np.float32)


@recipe("mlp", "backprop: a 2-3-1 sigmoid net solves XOR; a 64-512-256-10 MLP reads the 8x8 digits",
        metric="digits test accuracy", epochs=60, batch_size=32, lr=1e-3,
        options={"xor_hidden": Option(3, "hidden units of the XOR network (2 or 3)"),
                 "noise": Option(0.3, "std of the Gaussian noise added to standardised training pixels")},
        distributed=True)
def train(run):
    xor_model, solved, xor_losses = train_xor(run, hidden=run.options["xor_hidden"])
    xor_acc = xor_accuracy(xor_model)
    run.log(f"XOR 2-{run.options['xor_hidden']}-1: accuracy {xor_acc:.2f}, all four right after "
            f"{solved if solved else 'never within'} steps")

    (train_set, test_set), (mean, scale) = standardise(*digits_datasets(flatten=True))
    model = run.parallel(digits_model().to(run.device))
    opt = optim.AdamW(model.parameters(), lr=run.lr, weight_decay=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
    noise = InputNoise(run.options["noise"], run.rng(2)) if run.options["noise"] > 0 else None
    accuracy = fit_classifier(run, model, train_set, test_set, opt, scheduler=sched, augment=noise,
                              label_smoothing=0.1)
    run.picture("mlp_learning_curves", draw_learning_curves, run.history, "MLP on the 8x8 digits")
    run.picture("mlp_xor", _draw_xor, xor_model, xor_losses)
    state = {"digits": model.state_dict(), "mean": mean, "scale": scale, "xor": xor_model.state_dict()}
    return Trained(accuracy, state, {"xor_accuracy": xor_acc, "xor_steps": solved})


@evaluator("mlp")
def evaluate(run, state):
    model = digits_model()
    model.load_state_dict(state["digits"])
    _, test_set = digits_datasets(flatten=True)
    x, y = test_set[np.arange(len(test_set))]
    mean, scale = np.asarray(state["mean"]), np.asarray(state["scale"])
    return evaluate_classifier(model.to(run.device), TensorDataset((x - mean) / scale, y), run)[1]


def _draw_xor(fig, model, losses):
    fig.set_size_inches(10, 4)
    ax_map, ax_loss = fig.subplots(1, 2)
    g = np.linspace(-0.5, 1.5, 121, dtype=np.float32)
    gx, gy = np.meshgrid(g, g)
    with nncore.no_grad():
        z = model(nncore.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).numpy().reshape(gx.shape)
    ax_map.contourf(gx, gy, 1 / (1 + np.exp(-z)), levels=20, cmap="RdBu", alpha=0.8)
    ax_map.contour(gx, gy, z, levels=[0.0], colors="k")
    labels = GATES["XOR"]
    ax_map.scatter(*GATE_INPUTS[labels == 0].T, c="tab:red", marker="o", s=80, edgecolors="k", label="0")
    ax_map.scatter(*GATE_INPUTS[labels == 1].T, c="tab:blue", marker="s", s=80, edgecolors="k", label="1")
    ax_map.set_title("XOR: decision regions of the trained MLP")
    ax_map.legend()
    ax_loss.plot(losses)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_loss.set_title("XOR training loss")
