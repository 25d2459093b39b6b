"""Recurrent ops on the GPU against the CPU twin, every output poisoned:
LSTM (with and without peepholes), GRU and Elman (tanh, relu) cells and
sequences, forward and backward, with and without biases, initial states and
incoming gradients; batch * hidden (one thread each per step) around warp and
block multiples."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
KINDS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
# (steps, N, I, H): N * H = 1, 31, 32, 33, 255, 256, 257, 1023, 1025; then no steps
SHAPES = [(1, 1, 1, 1), (3, 1, 31, 31), (2, 2, 5, 16), (4, 3, 2, 11), (2, 5, 7, 51), (2, 8, 33, 32), (2, 257, 3, 1),
          (2, 33, 4, 31), (1, 5, 6, 205), (0, 2, 3, 4)]


def problem(rng, kind, steps, n, i, h, dtype, bias=True, peep=True, initial_state=True):
    g = GATES[kind]
    r = lambda *shape: (0.5 * rng.standard_normal(shape)).astype(dtype)  # noqa: E731
    p = {"x": r(steps, n, i), "h0": r(n, h) if initial_state else None, "w_ih": r(g * h, i), "w_hh": r(g * h, h),
         "b_ih": r(g * h) if bias else None, "b_hh": r(g * h) if bias else None}
    if kind == "lstm":
        p["c0"] = r(n, h) if initial_state else None
        p["peep"] = r(3, h) if peep else None
    return p


def run(kind, p, grads, nl):
    """Forward outputs and backward gradients of one sequence problem, as a flat list."""
    bias = p["b_ih"] is not None
    if kind == "lstm":
        y, h_n, c_n, saved = ops.lstm(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"])
        d = ops.lstm_backward(grads[0], grads[1], grads[2], p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], y, saved,
                              p["peep"], bias=bias)
        return [y, h_n, c_n, saved] + [g for g in d if g is not None]
    if kind == "gru":
        y, h_n, saved = ops.gru(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
        d = ops.gru_backward(grads[0], grads[1], p["x"], p["h0"], p["w_ih"], p["w_hh"], y, saved, bias=bias)
        return [y, h_n, saved] + [g for g in d if g is not None]
    y, h_n = ops.rnn(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nl)
    d = ops.rnn_backward(grads[0], grads[1], p["x"], p["h0"], p["w_ih"], p["w_hh"], y, nl, bias=bias)
    return [y, h_n] + [g for g in d if g is not None]


def run_cell(kind, p, grads, nl):
    """Forward outputs and backward gradients of one cell step, as a flat list."""
    x = p["x"][0]
    bias = p["b_ih"] is not None
    if kind == "lstm":
        h, c, state = ops.lstm_cell(x, p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"],
                                    return_state=True)
        d = ops.lstm_cell_backward(grads[0], grads[1], x, p["h0"], p["c0"], p["w_ih"], p["w_hh"], state, p["peep"],
                                   bias=bias)
        return [h, c, state] + [g for g in d if g is not None]
    if kind == "gru":
        h, state = ops.gru_cell(x, p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], return_state=True)
        d = ops.gru_cell_backward(grads[0], x, p["h0"], p["w_ih"], p["w_hh"], state, bias=bias)
        return [h, state] + [g for g in d if g is not None]
    h = ops.rnn_cell(x, p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nl)
    d = ops.rnn_cell_backward(grads[0], x, p["h0"], h, p["w_ih"], p["w_hh"], nl, bias=bias)
    return [h] + [g for g in d if g is not None]


def on_device(cupy, values):
    to = lambda a: None if a is None else cupy.asarray(a)  # noqa: E731
    return {k: to(v) for k, v in values.items()} if isinstance(values, dict) else [to(v) for v in values]


def check_all(assert_matches, got, want, dtype, what):
    assert len(got) == len(want), what
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for i, (a, b) in enumerate(zip(got, want)):
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
        assert_matches(a, b, tol, tol * scale, err_msg=f"{what} output {i}")


@pytest.mark.parametrize("kind,nl", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_sequences_match_cpu(rng, cupy, poison_outputs, assert_matches, kind, nl, dtype, bias):
    for i, (steps, n, inp, h) in enumerate(SHAPES):
        p = problem(rng, kind, steps, n, inp, h, dtype, bias=bias, peep=bias, initial_state=i % 3 != 1)
        grads = [rng.standard_normal((steps, n, h)).astype(dtype), rng.standard_normal((n, h)).astype(dtype),
                 rng.standard_normal((n, h)).astype(dtype)]
        if i % 4 < 3:  # each incoming gradient missing somewhere
            grads[i % 4] = None
        want = run(kind, p, grads, nl)
        got = run(kind, on_device(cupy, p), on_device(cupy, grads), nl)
        check_all(assert_matches, got, want, dtype, f"{kind} {(steps, n, inp, h)}")


@pytest.mark.parametrize("kind,nl", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cells_match_cpu(rng, cupy, poison_outputs, assert_matches, kind, nl, dtype):
    for i, (_, n, inp, h) in enumerate(SHAPES):
        bias = i % 2 == 0
        p = problem(rng, kind, 1, n, inp, h, dtype, bias=bias, peep=bias, initial_state=i % 3 != 1)
        grads = [rng.standard_normal((n, h)).astype(dtype), rng.standard_normal((n, h)).astype(dtype)]
        if kind == "lstm" and i % 4 < 2:
            grads[i % 4] = None
        want = run_cell(kind, p, grads, nl)
        got = run_cell(kind, on_device(cupy, p), on_device(cupy, grads), nl)
        check_all(assert_matches, got, want, dtype, f"{kind} cell {(n, inp, h)}")


def test_repeated_runs_are_bit_identical(rng, cupy):
    p = on_device(cupy, problem(rng, "lstm", 6, 8, 16, 32, np.float32))
    gy = cupy.asarray(rng.standard_normal((6, 8, 32)).astype(np.float32))
    first = [cupy.asnumpy(a) for a in run("lstm", p, [gy, None, None], "tanh")]
    again = [cupy.asnumpy(a) for a in run("lstm", p, [gy, None, None], "tanh")]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
