"""Recurrent ops: nncore against PyTorch (LSTMCell, GRUCell, nn.LSTM, nn.GRU
with identical weights), forward and forward + backward of the sum of the
outputs, 1 and 2 threads. Allocator mode: nncore's outputs come from its host
cache; PyTorch allocates as usual (glibc keeps freed blocks, so neither side
pays page faults on repeated calls; faults_per_call says so)."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

CELLS = [(64, 256, 512), (1, 128, 128)]  # (batch, input, hidden)
SEQUENCES = [(50, 32, 128, 256)]  # (steps, batch, input, hidden)
GATES = {"lstm": 4, "gru": 3}


def cell_flops(kind, n, i, h):
    return 2.0 * n * GATES[kind] * h * (i + h)


def make_weights(kind, i, h, rng):
    g = GATES[kind]
    s = 1.0 / np.sqrt(h)
    return [rng.uniform(-s, s, shape).astype(np.float32) for shape in [(g * h, i), (g * h, h), (g * h,), (g * h,)]]


def torch_module(torch, kind, i, h, weights, cell):
    cls = {("lstm", True): torch.nn.LSTMCell, ("gru", True): torch.nn.GRUCell,
           ("lstm", False): torch.nn.LSTM, ("gru", False): torch.nn.GRU}[(kind, cell)]
    mod = cls(i, h)
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        for name, w in zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], weights):
            getattr(mod, name + suffix).copy_(torch.from_numpy(w))
    return mod


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("passes", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("shape", CELLS, ids=lambda s: "N{}_I{}_H{}".format(*s))
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell(benchmark, threads, kind, shape, passes, impl):
    n, i, h = shape
    benchmark.group = f"{kind}_cell {passes} N={n} I={i} H={h} threads={threads}"
    rng = np.random.default_rng(0)
    w = make_weights(kind, i, h, rng)
    x = rng.standard_normal((n, i)).astype(np.float32)
    hx = rng.standard_normal((n, h)).astype(np.float32)
    cx = rng.standard_normal((n, h)).astype(np.float32)
    ones = np.ones((n, h), np.float32)
    if impl == "nncore":
        if kind == "lstm":
            def fwd():
                return ops.lstm_cell(x, hx, cx, *w)

            def fwd_bwd():
                h_new, c_new, state = ops.lstm_cell(x, hx, cx, *w, return_state=True)
                return ops.lstm_cell_backward(ones, None, x, hx, cx, w[0], w[1], state)
        else:
            def fwd():
                return ops.gru_cell(x, hx, *w)

            def fwd_bwd():
                h_new, state = ops.gru_cell(x, hx, *w, return_state=True)
                return ops.gru_cell_backward(ones, x, hx, w[0], w[1], state)
    else:
        torch = need_peer("torch")
        mod = torch_module(torch, kind, i, h, w, cell=True)
        tx = torch.from_numpy(x).requires_grad_()
        th = torch.from_numpy(hx).requires_grad_()
        state = (th, torch.from_numpy(cx).requires_grad_()) if kind == "lstm" else th

        def fwd():
            with torch.no_grad():
                return mod(tx, state)

        def fwd_bwd():
            out = mod(tx, state)
            (out[0] if kind == "lstm" else out).sum().backward()
    fn = fwd if passes == "fwd" else fwd_bwd
    run(benchmark, fn, flops=cell_flops(kind, n, i, h) * (1 if passes == "fwd" else 3))


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("passes", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("shape", SEQUENCES, ids=lambda s: "T{}_N{}_I{}_H{}".format(*s))
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequence(benchmark, threads, kind, shape, passes, impl):
    steps, n, i, h = shape
    benchmark.group = f"{kind} {passes} T={steps} N={n} I={i} H={h} threads={threads}"
    rng = np.random.default_rng(0)
    w = make_weights(kind, i, h, rng)
    x = rng.standard_normal((steps, n, i)).astype(np.float32)
    h0 = np.zeros((n, h), np.float32)
    ones = np.ones((steps, n, h), np.float32)
    if impl == "nncore":
        if kind == "lstm":
            def fwd():
                return ops.lstm(x, h0, h0, *w)

            def fwd_bwd():
                y, h_n, c_n, saved = ops.lstm(x, h0, h0, *w)
                return ops.lstm_backward(ones, None, None, x, h0, h0, w[0], w[1], y, saved)
        else:
            def fwd():
                return ops.gru(x, h0, *w)

            def fwd_bwd():
                y, h_n, saved = ops.gru(x, h0, *w)
                return ops.gru_backward(ones, None, x, h0, w[0], w[1], y, saved)
    else:
        torch = need_peer("torch")
        mod = torch_module(torch, kind, i, h, w, cell=False)
        tx = torch.from_numpy(x).requires_grad_()

        def fwd():
            with torch.no_grad():
                return mod(tx)

        def fwd_bwd():
            y, _ = mod(tx)
            y.sum().backward()
    fn = fwd if passes == "fwd" else fwd_bwd
    run(benchmark, fn, flops=steps * cell_flops(kind, n, i, h) * (1 if passes == "fwd" else 3))
    if impl == "nncore" and passes == "fwd":
        torch = pytest.importorskip("torch")
        mod = torch_module(torch, kind, i, h, w, cell=False)
        with torch.no_grad():
            want = mod(torch.from_numpy(x))[0].numpy()
        assert np.max(np.abs(fn()[0] - want)) < 1e-4
