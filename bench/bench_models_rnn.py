"""One training step of an LSTM language model (batch 32, T 50, hidden 256,
vocabulary 64, embedding 64; 1 layer, and 2 layers as `nncore train charlm`
runs it): embedding, LSTM, linear, cross-entropy, backward, gradient clipping
by global norm, Adam. nncore's CharLM against the same model in PyTorch with
the same initial weights (bench/twins_rnn.py), 1 and 2 threads."""

import numpy as np
import pytest

import nncore
from nncore import nn, optim
from nncore import functional as F
from nncore.models import CharLM

from benchutil import need_peer, run
from twins_rnn import charlm_forward, torch_charlm

BATCH, STEPS, HIDDEN, VOCAB, EMBEDDING = 32, 50, 256, 64, 64


def lm_flops(layers):
    """Multiply-adds x 2 of the LSTM GEMMs and the output layer, forward + backward (x 3)."""
    per_token = 4 * HIDDEN * (EMBEDDING + HIDDEN) + (layers - 1) * 4 * HIDDEN * 2 * HIDDEN + HIDDEN * VOCAB
    return 3 * 2.0 * per_token * BATCH * STEPS


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_lm_train_step(benchmark, threads, layers, impl):
    benchmark.group = f"LSTM LM train step N={BATCH} T={STEPS} H={HIDDEN} V={VOCAB} layers={layers} threads={threads}"
    nncore.manual_seed(0)
    reference = CharLM(VOCAB, EMBEDDING, HIDDEN, layers)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (STEPS, BATCH))
    y = rng.integers(0, VOCAB, (STEPS, BATCH))
    if impl == "nncore":
        model = reference
        opt = optim.Adam(model.parameters(), lr=1e-3)
        xt, yt = nncore.tensor(x), nncore.tensor(y.reshape(-1))

        def step():
            logits, _ = model(xt)
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), yt)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return float(loss.item())
    else:
        torch = need_peer("torch")
        model = torch_charlm(torch, reference)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.reshape(-1))

        def step():
            logits, _ = charlm_forward(model, xt)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), yt)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return float(loss.item())
    first = step()
    assert abs(first - np.log(VOCAB)) < 0.5  # an untrained model: about ln V
    run(benchmark, step, flops=lm_flops(layers))
