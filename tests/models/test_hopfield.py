"""The Hopfield network: Hebbian storage, recall, energy, and the recipe."""

import numpy as np
import pytest

from nncore import recipes
from nncore.models import HopfieldNetwork
from nncore.models.hopfield import flip_bits, random_patterns
from nncore.recipes.hopfield import letter_patterns, recall_trials


def test_hebbian_weights_by_hand():
    net = HopfieldNetwork(3).store([[1, -1, 1], [1, 1, -1]])
    expected = np.array([[0, 0, 0], [0, 0, -2], [0, -2, 0]]) / 3
    np.testing.assert_allclose(net.weight, expected)
    assert net.energy([1, 1, -1]) == pytest.approx(-0.5 * (2 * 2 / 3))


def test_weights_are_symmetric_with_zero_diagonal(rng):
    net = HopfieldNetwork(37).store(random_patterns(5, 37, rng))
    np.testing.assert_array_equal(net.weight, net.weight.T)
    assert np.all(np.diag(net.weight) == 0)


def test_energy_never_rises_during_asynchronous_recall(rng):
    net = HopfieldNetwork(100).store(random_patterns(14, 100, rng))
    probes = flip_bits(net.patterns, 0.3, rng)
    _, trace = net.recall(probes, generator=rng, trace=True)
    energies = np.array([e for _, _, e in trace["steps"]])
    assert len(energies) >= 100
    assert np.all(np.diff(energies, axis=0) <= 1e-9)
    assert np.all(energies[-1] < energies[0])


def test_recall_at_low_load_is_exact(rng):
    exact, overlap, _ = recall_trials(100, 5, 20, 0.1, seed=3)
    assert exact == 1.0 and overlap == 1.0


def test_sync_recall_stops_on_a_two_cycle():
    net = HopfieldNetwork(2)
    net.weight = np.array([[0.0, -1.0], [-1.0, 0.0]])
    out = net.recall([1, 1], mode="sync", max_iter=50)
    assert out.tolist() in ([-1, -1], [1, 1])


def test_stored_letters_are_fixed_points():
    net = HopfieldNetwork(100).store(letter_patterns())
    for p in net.patterns:
        assert np.array_equal(net.recall(p, max_iter=1), p)


def test_bad_states_are_refused():
    net = HopfieldNetwork(4)
    with pytest.raises(ValueError, match="-1 and \\+1"):
        net.store([[1, 0, 1, -1]])
    with pytest.raises(ValueError, match="\\(4,\\)"):
        net.recall([1, 1, 1])
    with pytest.raises(ValueError, match="mode"):
        net.recall([1, 1, 1, 1], mode="fast")


def test_recipe_reports_capacity_and_reloads(tmp_path):
    result = recipes.train("hopfield", trials=5, out=tmp_path)
    curve = np.array(result.details["capacity_curve"])
    assert curve.shape == (20, 3) and curve[0, 1] == 1.0 and curve[-1, 1] < 0.6
    assert result.value >= 0.8
    assert all(result.details["letters_recovered"])
    assert recipes.evaluate("hopfield", result.weights).value == result.value
    assert (tmp_path / "hopfield_settling.png").exists() and (tmp_path / "hopfield_capacity.png").exists()


@pytest.mark.slow
def test_capacity_at_p10_meets_the_issue():
    result = recipes.train("hopfield")
    assert result.value >= 0.93 and result.details["overlap_p10"] >= 0.99
