"""The encoder-decoder (models/seq2seq.py) and `nncore train seq2seq`: additive
attention against float64 NumPy, masks (padding never changes a result, no
weight on padding), greedy and beam decoding, bad input, and the recipe."""

import numpy as np
import pytest

import nncore
from nncore import recipes
from nncore.data.text import pad_sequences
from nncore.models import AdditiveAttention, Seq2Seq
from nncore.models.rnn import masked_cross_entropy
from nncore.models.seq2seq import strip_after_eos

pytestmark = pytest.mark.usefixtures("one_kernel_thread")

BOS, EOS = 2, 3


def test_additive_attention_against_numpy(rng):
    att = AdditiveAttention(3, 4, 5)
    q = rng.standard_normal((2, 3)).astype(np.float32)
    memory = rng.standard_normal((6, 2, 4)).astype(np.float32)
    mask = np.arange(6)[:, None] < np.array([6, 3])[None, :]
    m = nncore.tensor(memory)
    context, weights = att(nncore.tensor(q), att.keys(m), m, mask)
    wq, wk, bk, v = (p.numpy().astype(np.float64) for p in
                     (att.query.weight, att.key.weight, att.key.bias, att.score.weight))
    scores = np.tanh(memory @ wk.T + bk + (q @ wq.T)[None]) @ v[0]
    scores = np.where(mask, scores, -np.inf)
    want = np.exp(scores - scores.max(0)) / np.exp(scores - scores.max(0)).sum(0)
    np.testing.assert_allclose(weights.numpy(), want, atol=1e-6)
    assert np.all(weights.numpy()[3:, 1] == 0)
    np.testing.assert_allclose(context.numpy(), np.einsum("sn,snk->nk", want, memory), atol=1e-5)


def _batch(seqs, targets, src_steps):
    src, src_lengths = pad_sequences(seqs, max_length=src_steps)
    tgt_in, tgt_lengths = pad_sequences([np.concatenate([[BOS], t]) for t in targets])
    tgt_out, _ = pad_sequences([np.concatenate([t, [EOS]]) for t in targets])
    return src, src_lengths, tgt_in, tgt_out, tgt_lengths


@pytest.mark.parametrize("attention", ["none", "additive", "lstm"])
def test_padding_never_changes_a_result(attention, rng):
    model = Seq2Seq(9, 9, embedding_dim=4, hidden_size=5, attention=attention)
    seqs = [rng.integers(4, 9, n) for n in (4, 7, 2)]
    targets = [s[::-1] for s in seqs]
    results = []
    for steps in (7, 11):
        src, src_lengths, tgt_in, tgt_out, tgt_lengths = _batch(seqs, targets, steps)
        model.zero_grad()
        logits, weights = model(nncore.tensor(src), src_lengths, nncore.tensor(tgt_in))
        loss = masked_cross_entropy(logits, tgt_out, tgt_lengths)
        loss.backward()
        if weights is not None:
            w = weights.numpy()
            pad = np.arange(steps)[None, :, None] >= src_lengths[None, None, :]
            assert np.all(w[np.broadcast_to(pad, w.shape)] == 0)  # no attention to padding
            np.testing.assert_allclose(w.sum(1), 1, atol=1e-5)
        results.append((logits.numpy(), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}))
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-5)
    for name in results[0][1]:
        np.testing.assert_allclose(results[0][1][name], results[1][1][name], rtol=1e-4, atol=1e-6, err_msg=name)


def _sequence_log_prob(model, src, src_lengths, outputs):
    """Sum of the log-probabilities the model gives each output row (up to its eos)."""
    total = np.zeros(len(outputs))
    with nncore.no_grad():
        source, state = model.encode(nncore.tensor(src), src_lengths)
        prev = np.full(len(outputs), BOS)
        alive = np.ones(len(outputs), bool)
        for t in range(outputs.shape[1]):
            logits, state, _ = model.step(nncore.tensor(prev), state, source)
            z = logits.numpy().astype(np.float64)
            logp = z - z.max(1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(1, keepdims=True))
            total += np.where(alive, logp[np.arange(len(outputs)), outputs[:, t]], 0)
            alive &= outputs[:, t] != EOS
            prev = outputs[:, t]
    return total


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_beam_search_finds_at_least_the_greedy_score(attention, rng):
    model = Seq2Seq(9, 9, embedding_dim=4, hidden_size=6, attention=attention)
    for p in model.parameters():
        p.data *= 3  # a peaky untrained model, so beams differ from greedy
    seqs = [rng.integers(4, 9, n) for n in (5, 3, 6, 4)]
    src, src_lengths = pad_sequences(seqs)
    greedy, _ = model.greedy(nncore.tensor(src), src_lengths, BOS, EOS, 6)
    np.testing.assert_array_equal(model.beam_search(nncore.tensor(src), src_lengths, BOS, EOS, 6, beam=1), greedy)
    beam = model.beam_search(nncore.tensor(src), src_lengths, BOS, EOS, 6, beam=4)
    assert beam.shape[0] == 4
    assert np.all(_sequence_log_prob(model, src, src_lengths, beam) >=
                  _sequence_log_prob(model, src, src_lengths, greedy) - 1e-6)


def test_strip_after_eos():
    assert strip_after_eos(np.array([[5, 6, EOS, EOS], [7, 8, 9, 4]]), EOS) == [(5, 6), (7, 8, 9, 4)]


def test_bad_input_names_the_argument():
    model = Seq2Seq(9, 9, embedding_dim=4, hidden_size=5)
    src = nncore.tensor(np.full((4, 2), 5))
    tgt = nncore.tensor(np.full((3, 2), 5))
    with pytest.raises(ValueError, match=r"src_lengths must be in \[1, 4\] \(the padded size\)"):
        model(src, [5, 2], tgt)
    with pytest.raises(ValueError, match=r"src must be 2-D"):
        model(nncore.tensor(np.full((4, 2, 1), 5)), [4, 2], tgt)
    with pytest.raises(ValueError, match="src is an empty batch"):
        model(nncore.tensor(np.zeros((4, 0), np.int64)), np.zeros(0, np.int64), tgt)
    with pytest.raises(ValueError, match=r"src holds ids in \[5, 9\], out of range .* vocabulary of 9"):
        model(nncore.tensor(np.array([[5, 9]])), [1, 1], tgt)
    with pytest.raises(ValueError, match=r"tgt_in holds ids"):
        model(src, [4, 2], nncore.tensor(np.array([[-1, 5]])))
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(9, 9, attention="dot")


def test_recipe_learns_to_reverse_short_strings(tmp_path):
    result = recipes.train("seq2seq", attention="additive", epochs=4, strings_per_epoch=2000, min_digits=3,
                           max_digits=5, beam=3, out=tmp_path)
    acc = result.details["exact_accuracy"]["additive"]
    assert acc["greedy"] > 0.5 and acc["beam"] > 0.5
    assert result.value == acc["beam"]
    assert (tmp_path / "seq2seq_attention_additive.png").stat().st_size > 10_000
    assert recipes.evaluate("seq2seq", result.weights).value == pytest.approx(result.value)


@pytest.mark.slow
def test_seq2seq_with_attention_reaches_098():
    result = recipes.train("seq2seq")
    acc = result.details["exact_accuracy"]
    assert acc["additive"]["greedy"] >= 0.98 and acc["lstm"]["greedy"] >= 0.98
    assert acc["none"]["greedy"] < acc["additive"]["greedy"]
