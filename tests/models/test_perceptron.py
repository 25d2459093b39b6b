"""The perceptron's three rules on the logic gates, and `nncore train perceptron`."""

import numpy as np
import pytest

from nncore import recipes
from nncore.models import Perceptron
from nncore.models.perceptron import GATE_INPUTS, GATES, RULES


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("gate", ["AND", "OR", "NAND"])
def test_separable_gates_are_learned_by_every_rule(rule, gate):
    p = Perceptron(2)
    fit = p.fit(GATE_INPUTS, GATES[gate], rule=rule, generator=0)
    assert fit["converged"] and fit["reason"] == "separated"
    assert np.array_equal(p.predict(GATE_INPUTS), GATES[gate])
    assert fit["errors"][-1] == 0 and all(e > 0 for e in fit["errors"][:-1])
    if rule == "error-correction":
        assert fit["epochs"] <= 10


def test_error_correction_rule_by_hand_on_and():
    # from zero weights, lr 1: the first update comes from (1,1) (t=1, y=0): w=(1,1), b=1
    p = Perceptron(2)
    p.fit(GATE_INPUTS, GATES["AND"], max_epochs=1)
    # epoch 1: (0,0) t=0 y=0; (0,1) t=0 y=0; (1,0) t=0 y=0; (1,1) t=1 y=0 -> w=(1,1), b=1
    np.testing.assert_array_equal(p.weight, [1.0, 1.0])
    assert p.bias == 1.0


def test_xor_is_reported_as_not_separable_without_looping():
    p = Perceptron(2)
    fit = p.fit(GATE_INPUTS, GATES["XOR"], rule="error-correction", max_epochs=10_000)
    assert not fit["converged"] and fit["reason"] == "cycle" and len(fit["errors"]) < 20
    for rule in ("gd", "sgd"):
        fit = p.fit(GATE_INPUTS, GATES["XOR"], rule=rule, max_epochs=50, generator=0)
        assert not fit["converged"] and fit["reason"] == "max_epochs" and len(fit["errors"]) == 50
        assert (p.predict(GATE_INPUTS) == GATES["XOR"]).mean() < 1.0


def test_perceptron_learns_a_random_separable_set(rng):
    w = rng.standard_normal(7)
    X = rng.standard_normal((200, 7))
    margin = X @ w
    X, y = X[np.abs(margin) > 0.3], (margin[np.abs(margin) > 0.3] > 0).astype(int)
    p = Perceptron(7)
    assert p.fit(X, y, max_epochs=1000)["converged"]
    assert np.array_equal(p.predict(X), y)


def test_bad_input_names_the_argument():
    p = Perceptron(2)
    with pytest.raises(ValueError, match="X must be"):
        p.fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="y must be"):
        p.fit(GATE_INPUTS, [0, 2, 0, 1])
    with pytest.raises(ValueError, match="rule"):
        p.fit(GATE_INPUTS, GATES["AND"], rule="hebb")
    with pytest.raises(ValueError, match="NaN"):
        p.predict(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="n_inputs"):
        Perceptron(0)


def test_recipe_learns_the_gates_and_saves_reloadable_weights(tmp_path):
    result = recipes.train("perceptron", out=tmp_path)
    assert result.value == 1.0
    gates = result.details["gates"]
    assert all(gates[f"{r}/{g}"]["accuracy"] == 1.0 for r in RULES for g in ("AND", "OR", "NAND"))
    assert all(gates[f"{r}/XOR"]["accuracy"] < 1.0 for r in RULES)
    assert (tmp_path / "perceptron_gates.png").stat().st_size > 10_000
    assert recipes.evaluate("perceptron", result.weights).value == 1.0
