"""The MLP with backprop: XOR and the real digits, and `nncore train mlp`."""

import numpy as np
import pytest

import nncore
from nncore import recipes
from nncore.models import MLP
from nncore.recipes.mlp import train_xor, xor_accuracy


def test_mlp_layers_and_errors():
    m = MLP(64, [32, 16], 10, activation="tanh", dropout=0.1)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert sum(p.numel() for p in m.parameters()) == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert m(nncore.randn(5, 64)).shape == (5, 10)
    with pytest.raises(ValueError, match="activation"):
        MLP(2, [2], 1, activation="step")
    with pytest.raises(ValueError, match="positive"):
        MLP(2, [0], 1)


def test_mlp_gradients_match_finite_differences(rng):
    m = MLP(3, [4], 2).double()
    x = nncore.tensor(rng.standard_normal((5, 3)))
    assert nncore.gradcheck(lambda *ps: m(x).sum(), tuple(m.parameters()))


@pytest.mark.parametrize("hidden", [2, 3])
def test_backprop_solves_xor(hidden):
    nncore.manual_seed(0)
    model, solved, losses = train_xor(None, hidden=hidden, steps=3000)
    assert xor_accuracy(model) == 1.0 and solved is not None
    assert losses[-1] < 0.01 < losses[0]


def test_recipe_learns_digits_quickly_and_reloads(tmp_path):
    result = recipes.train("mlp", epochs=3, out=tmp_path)
    assert result.details["xor_accuracy"] == 1.0
    assert result.value > 0.85
    loss = result.history["train_loss"]
    assert loss[-1] < loss[0]
    assert recipes.evaluate("mlp", result.weights).value == pytest.approx(result.value)
    assert (tmp_path / "mlp_learning_curves.png").exists() and (tmp_path / "mlp_xor.png").exists()


@pytest.mark.slow
def test_recipe_reaches_097_on_the_digits():
    assert recipes.train("mlp").value >= 0.97
