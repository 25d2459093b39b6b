"""`nncore train adding`: Hochreiter & Schmidhuber's adding problem. Each of T
steps carries a random number in [0, 1] and a marker; two steps are marked, one
in each half, and the target at the end is the sum of the two marked numbers.
Predicting 1.0 scores MSE 1/6 (the variance of the sum). LSTM, GRU, the plain
Elman RNN and the LSTM with peepholes are trained on the same budget of fresh
batches (an epoch is `--steps-per-epoch` of them) and tested on a fixed set."""

import time

import numpy as np

import nncore
from .. import functional as F
from .. import optim
from ..models.rnn import CELLS, SequenceRegressor
from . import Option, RecipeError, Trained, evaluator, recipe
from ._rnn import CLIP, cpu_only, mse, step

TEST_SIZE = 2000


def adding_batch(length, batch, rng):
    """x (T, N, 2) float32 (numbers, markers) and targets (N, 1)."""
    values = rng.uniform(0, 1, (length, batch)).astype(np.float32)
    half = length // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, length, batch)
    markers = np.zeros((length, batch), np.float32)
    markers[first, np.arange(batch)] = 1
    markers[second, np.arange(batch)] = 1
    target = values[first, np.arange(batch)] + values[second, np.arange(batch)]
    return np.stack([values, markers], 2), target[:, None].astype(np.float32)


def _cells(run):
    chosen = run.options["cells"].split(",")
    bad = [c for c in chosen if c not in CELLS]
    if bad or not chosen:
        raise RecipeError(f"--cells must be a comma-separated list of {', '.join(CELLS)}, got {run.options['cells']!r}")
    return chosen


def heldout_mse(model, x, target):
    with nncore.no_grad():
        return mse(model(nncore.tensor(x)).numpy(), target)


@recipe("adding", "the adding problem (T=50): LSTM and GRU learn the long lag, the Elman RNN does not; peephole LSTM "
        "side by side", metric="test MSE of the LSTM (predicting 1.0 scores 0.167; lower is better)",
        epochs=20, batch_size=64, lr=3e-3, higher_is_better=False,
        options={"length": Option(50, "sequence length T"),
                 "hidden": Option(64, "hidden units of every cell"),
                 "cells": Option("lstm,gru,rnn,peephole", "comma-separated cells to train (lstm, gru, rnn, peephole)"),
                 "steps_per_epoch": Option(100, "fresh batches per epoch"),
                 "clip": CLIP})
def train(run):
    cpu_only(run)
    cells = _cells(run)
    length, hidden = run.options["length"], run.options["hidden"]
    if length < 2:
        raise RecipeError(f"--length must be at least 2, got {length}")
    x_test, y_test = adding_batch(length, TEST_SIZE, run.rng(99))
    baseline = mse(np.ones_like(y_test), y_test)
    results, state, curves, seconds = {}, {}, {}, {}
    for k, cell in enumerate(cells):
        start = time.perf_counter()
        nncore.manual_seed(run.seed * 100 + k)
        model = SequenceRegressor(cell, 2, hidden, 1)
        opt = optim.Adam(model.parameters(), lr=run.lr)
        rng = run.rng(10)  # a fresh copy of one stream: every cell sees the same batches
        curve = []
        for epoch in run.progress(range(1, run.epochs + 1), desc=cell):
            total = 0.0
            for _ in range(run.options["steps_per_epoch"]):
                x, y = adding_batch(length, run.batch_size, rng)
                loss, _ = step(model, F.mse_loss(model(nncore.tensor(x)), nncore.tensor(y)), opt, run.options["clip"])
                total += loss
            curve.append((epoch, total / run.options["steps_per_epoch"], heldout_mse(model, x_test, y_test)))
            run.log(f"{cell:>8} epoch {epoch}/{run.epochs}  train_mse {curve[-1][1]:.4f}  test_mse {curve[-1][2]:.4f}")
        results[cell] = curve[-1][2]
        curves[cell] = np.array(curve)
        state[cell] = model.state_dict()
        seconds[cell] = time.perf_counter() - start
    run.log("test MSE after the same budget: " + ", ".join(f"{c} {v:.4f}" for c, v in results.items()) +
            f"; predicting 1.0: {baseline:.4f}")
    run.picture("adding_loss_curves", _draw_curves, curves, baseline, length)
    value = results.get("lstm", next(iter(results.values())))
    return Trained(value, state, {"test_mse": results, "baseline_mse": baseline, "seconds": seconds,
                                  "steps": run.epochs * run.options["steps_per_epoch"]})


@evaluator("adding")
def evaluate(run, state):
    cpu_only(run)
    x_test, y_test = adding_batch(run.options["length"], TEST_SIZE, run.rng(99))
    cell = "lstm" if "lstm" in state else next(iter(state))
    model = SequenceRegressor(cell, 2, run.options["hidden"], 1)
    model.load_state_dict(state[cell])
    return heldout_mse(model, x_test, y_test)


def _draw_curves(fig, curves, baseline, length):
    fig.set_size_inches(8, 4.5)
    ax = fig.subplots()
    names = {"lstm": "LSTM", "gru": "GRU", "rnn": "Elman RNN", "peephole": "LSTM + peepholes"}
    for cell, curve in curves.items():
        ax.plot(curve[:, 0], curve[:, 2], "-", label=f"{names[cell]} (test)")
        ax.plot(curve[:, 0], curve[:, 1], ":", color=ax.lines[-1].get_color(), alpha=0.6)
    ax.axhline(baseline, color="k", ls="--", lw=1, label="predict 1.0")
    ax.axhline(0.01, color="grey", ls="-.", lw=1, label="target 0.01")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (solid: test, dotted: training)")
    ax.set_title(f"The adding problem, T = {length}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
