"""nn.RNN / GRU / LSTM forward_padded: variable lengths in a padded batch give
what each sequence gives alone, whatever the padding (outputs, final states and
gradients), match PyTorch's packed sequences, and bad lengths name the argument."""

import numpy as np
import pytest

import nncore
from nncore import nn

KINDS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _finals(state):
    return state if isinstance(state, tuple) else (state,)


def _padded(seqs, steps):
    x = np.zeros((steps, len(seqs), seqs[0].shape[1]), np.float32)
    for n, s in enumerate(seqs):
        x[:len(s), n] = s
    return x


def _run(module, x, lengths, weights):
    """Output, finals and parameter/input gradients of a fixed weighted loss over the valid
    steps (weights (T_max, N, D H) covers the longest padding tried)."""
    module.zero_grad()
    xt = nncore.tensor(x, requires_grad=True)
    out, state = module.forward_padded(xt, lengths)
    mask = np.arange(x.shape[0])[:, None] < np.asarray(lengths)[None, :]
    w = weights[:x.shape[0]] * mask[:, :, None]
    loss = (out * nncore.tensor(w)).sum()
    for f in _finals(state):
        loss = loss + (f * f).sum()
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in module.named_parameters()}
    return out.detach().numpy(), [f.detach().numpy() for f in _finals(state)], grads, xt.grad.numpy()


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_padding_never_changes_a_result(kind, bidirectional, rng, one_kernel_thread):
    module = KINDS[kind](3, 4, num_layers=2, bidirectional=bidirectional)
    lengths = np.array([5, 2, 7, 7, 1])
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in lengths]
    weights = rng.standard_normal((12, 5, module.hidden_size * (2 if bidirectional else 1))).astype(np.float32)
    short = _run(module, _padded(seqs, 7), lengths, weights)
    long = _run(module, _padded(seqs, 12), lengths, weights)
    np.testing.assert_allclose(long[0][:7], short[0], atol=1e-6)
    assert np.all(long[0][7:] == 0)
    for a, b in zip(short[1], long[1]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for name in short[2]:
        np.testing.assert_allclose(short[2][name], long[2][name], rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(long[3][:7], short[3], atol=1e-6)
    # and each sequence alone (no padding at all) gives the same output and final state
    for n, s in enumerate(seqs):
        out, state = module(nncore.tensor(s[:, None]))
        np.testing.assert_allclose(short[0][:len(s), n], out.detach().numpy()[:, 0], atol=1e-6)
        for f_pad, f_alone in zip(short[1], _finals(state)):
            np.testing.assert_allclose(f_pad[:, n], f_alone.detach().numpy()[:, 0], atol=1e-6)


def test_padded_outputs_are_zero_and_equal_lengths_take_the_fused_path(rng, one_kernel_thread):
    lstm = nn.LSTM(2, 3, batch_first=True)
    x = nncore.tensor(rng.standard_normal((4, 6, 2)).astype(np.float32))
    full, (h, c) = lstm(x)
    padded, (hp, cp) = lstm.forward_padded(x, np.full(4, 6))
    np.testing.assert_array_equal(full.numpy(), padded.numpy())
    out, _ = lstm.forward_padded(x, nncore.tensor(np.array([6, 3, 1, 4])))
    assert out.shape == (4, 6, 3)
    assert np.all(out.numpy()[1, 3:] == 0) and np.all(out.numpy()[2, 1:] == 0)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_matches_pytorch_packed_sequences(kind, bidirectional, rng, one_kernel_thread):
    torch = pytest.importorskip("torch")
    module = KINDS[kind](3, 5, num_layers=2, bidirectional=bidirectional)
    peer = getattr(torch.nn, kind.upper())(3, 5, num_layers=2, bidirectional=bidirectional)
    with torch.no_grad():
        for name, p in module.named_parameters():
            getattr(peer, name).copy_(torch.from_numpy(p.numpy()))
    lengths = np.array([4, 7, 2, 7, 5])
    x = rng.standard_normal((9, 5, 3)).astype(np.float32)
    xt = nncore.tensor(x, requires_grad=True)
    out, state = module.forward_padded(xt, lengths)
    (out.sum() + sum((f * f).sum() for f in _finals(state))).backward()
    tx = torch.from_numpy(x).requires_grad_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths), enforce_sorted=False)
    tout, tstate = peer(packed)
    tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, total_length=9)
    tfinals = tstate if isinstance(tstate, tuple) else (tstate,)
    (tout.sum() + sum((f * f).sum() for f in tfinals)).backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-5)
    for a, b in zip(_finals(state), tfinals):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), atol=1e-5)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), getattr(peer, name).grad.numpy(), rtol=1e-4, atol=1e-5)


def test_bad_lengths_name_the_argument():
    lstm = nn.LSTM(2, 3)
    x = nncore.zeros(5, 2, 2)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\].*padded size"):
        lstm.forward_padded(x, [6, 2])
    with pytest.raises(ValueError, match="lengths must be in"):
        lstm.forward_padded(x, [0, 2])
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        lstm.forward_padded(x, [3, 2, 1])
    with pytest.raises(TypeError, match="lengths must hold integers"):
        lstm.forward_padded(x, [3.0, 2.0])
    with pytest.raises(ValueError, match="empty batch"):
        lstm.forward_padded(nncore.zeros(5, 0, 2), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="input must be 3-D"):
        lstm.forward_padded(nncore.zeros(2, 3, 5, 2), [1, 2])
