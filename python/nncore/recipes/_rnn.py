"""Pieces the recurrent recipes share: one optimisation step with gradient
clipping by global norm, the clipping option, the CPU-only check and MSE."""

import numpy as np

from .. import nn
from . import Option, RecipeError

CLIP = Option(1.0, "clip the gradients' global norm to this (nn.utils.clip_grad_norm_; 0: no clipping)")


def step(model, loss, optimizer, max_norm):
    """zero_grad, backward, clip_grad_norm_(max_norm) unless max_norm is 0, step;
    returns (loss, gradient norm before clipping) as floats."""
    optimizer.zero_grad()
    loss.backward()
    norm = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm)) if max_norm > 0 else float("nan")
    optimizer.step()
    return float(loss.item()), norm


def mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def cpu_only(run):
    """The recurrent recipes run on the CPU (their batches are built with NumPy)."""
    if run.device != "cpu":
        raise RecipeError(f"recipe {run.model!r} runs on the CPU only (--device cpu), got --device {run.device}")
