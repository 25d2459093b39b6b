"""The recurrent models (models/rnn.py) and their recipes: elman, teacher,
adding, birnn and charlm (with `nncore sample`); gradient clipping against
PyTorch; bad input naming the argument."""

import json
import math

import numpy as np
import pytest

import nncore
from nncore import nn, recipes
from nncore.cli import main
from nncore.data.text import pad_sequences
from nncore.models import CharLM, ElmanRNN, OutputRecurrentNet, SequenceRegressor, SequenceTagger
from nncore.models.rnn import masked_cross_entropy
from nncore.recipes.adding import adding_batch
from nncore.recipes.birnn import occurs_later
from nncore.recipes.charlm import unigram_bits
from nncore.recipes.elman import narendra_plant

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


# ---------------------------------------------------------------- pieces by hand
def test_adding_batch_marks_one_number_in_each_half(rng):
    x, y = adding_batch(10, 50, rng)
    assert x.shape == (10, 50, 2) and y.shape == (50, 1)
    marks = x[:, :, 1]
    assert np.all(marks.sum(0) == 2) and np.all(marks[:5].sum(0) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(0), rtol=1e-6)


def test_occurs_later_and_plant_and_unigram_by_hand():
    np.testing.assert_array_equal(occurs_later(["a", "b", "a", "c", "b", "a"]), [1, 1, 1, 0, 0, 0])
    u = np.array([[0.5], [-1.0]], np.float32)
    y1 = 0.125
    np.testing.assert_allclose(narendra_plant(u)[:, 0], [y1, y1 / (1 + y1 ** 2) - 1.0], rtol=1e-6)
    # counts (+1 smoothing) of [0, 0, 1] over 3 symbols: 3, 2, 1 of 6; validation [0, 2]
    assert unigram_bits(np.array([0, 0, 1]), np.array([0, 2]), 3) == pytest.approx(
        -(math.log2(3 / 6) + math.log2(1 / 6)) / 2)


def test_masked_cross_entropy_counts_real_steps_only(rng):
    logits = rng.standard_normal((4, 3, 5)).astype(np.float32)
    targets = rng.integers(0, 5, (4, 3))
    lengths = np.array([4, 1, 2])
    got = float(masked_cross_entropy(nncore.tensor(logits), targets, lengths).item())
    z = logits.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = np.mean([-logp[t, n, targets[t, n]] for n in range(3) for t in range(lengths[n])])
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm, rng):
    torch = pytest.importorskip("torch")
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3,), (2, 2, 2)]]
    ours = [nn.Parameter(np.zeros(g.shape, np.float32)) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = nncore.tensor(g.copy())
        q.grad = torch.from_numpy(g.copy())
    norm = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert float(norm) == pytest.approx(float(want), rel=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- models
def test_output_recurrent_net_teacher_forcing_equals_feeding_the_truth(rng):
    model = OutputRecurrentNet(1, 8, 1)
    u = nncore.tensor(rng.standard_normal((6, 3, 1)).astype(np.float32))
    y = rng.standard_normal((6, 3, 1)).astype(np.float32)
    prev = np.concatenate([np.zeros_like(y[:1]), y[:-1]])
    forced = model(u, nncore.tensor(prev)).numpy()
    fed = model.generate(u, nncore.zeros(3, 1), truth=nncore.tensor(y), teacher_prob=1.0).numpy()
    # generate feeds truth[t] after step t, i.e. y_{t} into step t + 1: the same inputs as teacher forcing
    np.testing.assert_allclose(fed, forced, atol=1e-6)
    free = model.generate(u, nncore.zeros(3, 1)).numpy()
    step0 = model.step(u[0], nncore.zeros(3, 1)).numpy()
    np.testing.assert_allclose(free[0], step0, atol=1e-6)
    np.testing.assert_allclose(free[1], model.step(u[1], nncore.tensor(step0)).numpy(), atol=1e-6)


def test_sequence_regressor_cells():
    x = nncore.randn(7, 5, 2)
    for cell in ("rnn", "lstm", "peephole", "gru"):
        model = SequenceRegressor(cell, 2, 6, 1)
        assert model(x).shape == (5, 1)
    assert "rnn.weight_peephole_l0" in SequenceRegressor("peephole").state_dict()
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceRegressor("tcn")


def test_tagger_padding_never_changes_the_loss_or_gradients(rng):
    model = SequenceTagger(12, 3, embedding_dim=5, hidden_size=4, bidirectional=True)
    seqs = [rng.integers(1, 12, n) for n in (5, 2, 7)]
    tags = [rng.integers(0, 3, len(s)) for s in seqs]
    results = []
    for extra in (0, 4):
        tokens, lengths = pad_sequences(seqs, max_length=7 + extra)
        targets, _ = pad_sequences(tags, max_length=7 + extra)
        model.zero_grad()
        loss = masked_cross_entropy(model(nncore.tensor(tokens), lengths), targets, lengths)
        loss.backward()
        results.append((float(loss.item()), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    for name in results[0][1]:
        np.testing.assert_allclose(results[0][1][name], results[1][1][name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_charlm_sampling():
    model = CharLM(7, embedding_dim=4, hidden_size=8)
    a = model.sample([1, 2], 20, temperature=0.8, generator=3)
    assert a.shape == (20,) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 7
    np.testing.assert_array_equal(a, model.sample([1, 2], 20, temperature=0.8, generator=3))
    # a tiny temperature is the argmax of each step
    greedy, prev, state = [], np.array([1, 2]), None
    with nncore.no_grad():
        logits, state = model(nncore.tensor(prev[:, None]))
        for _ in range(5):
            greedy.append(int(logits.numpy()[-1, 0].argmax()))
            logits, state = model(nncore.tensor(np.array([[greedy[-1]]])), state)
    np.testing.assert_array_equal(model.sample([1, 2], 5, temperature=1e-6), greedy)
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.sample([1], 3, temperature=0)
    with pytest.raises(ValueError, match="prime must be"):
        model.sample([], 3)


def test_bad_input_names_the_argument():
    lm = CharLM(10, embedding_dim=4, hidden_size=8)
    with pytest.raises(ValueError, match=r"tokens must be 2-D \(seq_len, batch\)"):
        lm(nncore.tensor(np.zeros((2, 3, 1), np.int64)))
    with pytest.raises(ValueError, match="tokens is an empty batch"):
        lm(nncore.tensor(np.zeros((5, 0), np.int64)))
    with pytest.raises(ValueError, match=r"tokens holds ids in \[0, 12\], out of range .* vocabulary of 10"):
        lm(nncore.tensor(np.array([[0], [12]])))
    with pytest.raises(TypeError, match="tokens must hold integer"):
        lm(nncore.zeros(3, 2))
    tagger = SequenceTagger(10, 2, embedding_dim=4, hidden_size=4)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 3\] \(the padded size"):
        tagger(nncore.tensor(np.ones((3, 2), np.int64)), [3, 4])
    elman = ElmanRNN(1, 4, 1)
    with pytest.raises(ValueError, match=r"x must be 3-D \(seq_len, batch, 1\)"):
        elman(nncore.zeros(5, 1))
    with pytest.raises(ValueError, match="x is an empty batch"):
        elman(nncore.zeros(5, 0, 1))


# ---------------------------------------------------------------- recipes, small budgets
def test_elman_learns_the_sines_and_reloads(tmp_path):
    result = recipes.train("elman", epochs=200, out=tmp_path)
    assert result.value < result.details["last_value_mse"] / 5
    assert result.history["train_mse"][-1] < result.history["train_mse"][0]
    assert recipes.evaluate("elman", result.weights).value == pytest.approx(result.value, rel=1e-5)
    assert (tmp_path / "elman_forecast.png").stat().st_size > 10_000
    truncated = recipes.train("elman", epochs=40, tbptt=25)
    assert truncated.details["window"] == 25 and truncated.value < truncated.details["last_value_mse"]


def test_command_prints_the_headline_as_json(tmp_path, capsys):
    assert main(["train", "elman", "--epochs", "20", "--tbptt", "25", "--quiet", "--json", "--out", str(tmp_path)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["model"] == "elman" and line["metric"].startswith("test MSE") and line["value"] > 0
    assert main(["train", "elman", "--epochs", "1", "--tbptt", "-3", "--quiet"]) == 2
    assert "--tbptt" in capsys.readouterr().err


def test_teacher_forcing_learns_the_plant_and_shows_the_gap():
    result = recipes.train("teacher", epochs=500)
    d = result.details
    assert d["test_forced_mse"] < 0.005 and d["test_free_mse"] > d["test_forced_mse"]
    assert result.value == d["test_free_mse"]
    sampled = recipes.train("teacher", epochs=3, scheduled_sampling=True)
    assert sampled.history["own_output_prob"][-1] == pytest.approx(0.5)


def test_adding_lstm_learns_a_short_lag():
    result = recipes.train("adding", epochs=8, length=10, cells="lstm", steps_per_epoch=50)
    mse = result.details["test_mse"]
    assert mse["lstm"] < result.details["baseline_mse"] / 4
    assert result.value == mse["lstm"]
    with pytest.raises(recipes.RecipeError, match="--cells"):
        recipes.train("adding", epochs=1, cells="lstm,tcn")


def test_birnn_sees_the_future():
    result = recipes.train("birnn", epochs=3)
    acc = result.details["accuracy"]
    assert acc["bidirectional"] > result.details["majority_tag_accuracy"] + 0.05
    assert acc["bidirectional"] > acc["unidirectional"]


def test_charlm_beats_the_unigram_model_and_samples(tmp_path, capsys):
    result = recipes.train("charlm", epochs=1, hidden=32, bptt=50, out=tmp_path)
    assert result.value < result.details["unigram_bpc"] - 0.3
    assert recipes.evaluate("charlm", result.weights).value == pytest.approx(result.value, rel=1e-4)
    text = recipes.sample("charlm", result.weights, temperature=0.8, length=50, prime="Ham")
    assert text.startswith("Ham") and len(text) == 53
    assert main(["sample", "charlm", "--weights", result.weights, "--temperature", "0.8", "--length", "40"]) == 0
    assert len(capsys.readouterr().out) > 40
    assert main(["sample", "charlm", "--weights", result.weights, "--temperature", "0"]) == 2
    assert "--temperature must be positive" in capsys.readouterr().err
    assert main(["sample", "charlm", "--weights", result.weights, "--prime", "\u00e9"]) == 2


# ---------------------------------------------------------------- the numbers (minutes)
@pytest.mark.slow
def test_elman_reaches_ten_times_below_the_last_value():
    result = recipes.train("elman")
    assert result.value * 10 <= result.details["last_value_mse"]


@pytest.mark.slow
def test_teacher_forcing_recipe():
    d = recipes.train("teacher").details
    assert d["test_forced_mse"] < 1e-3 and d["test_free_mse"] < 1e-3 and d["exposure_gap"] > 1


@pytest.mark.slow
def test_adding_problem_lstm_and_gru_below_one_hundredth():
    mse = recipes.train("adding").details["test_mse"]
    assert mse["lstm"] < 0.01 and mse["gru"] < 0.01
    assert mse["rnn"] > 0.1


@pytest.mark.slow
def test_birnn_reaches_098():
    acc = recipes.train("birnn").details["accuracy"]
    assert acc["bidirectional"] >= 0.98 and acc["unidirectional"] < 0.9


@pytest.mark.slow
def test_charlm_bits_per_character():
    result = recipes.train("charlm")
    assert result.value < 2.5 and result.value < result.details["unigram_bpc"] - 2
