"""Recurrent ops on the GPU (CuPy arrays) against the CPU twin, forward and
backward, every op, with and without biases and peepholes."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def problem(rng, kind, steps, n, i, h, dtype, bias=True, peep=True):
    g = GATES[kind]
    r = lambda *shape: (0.5 * rng.standard_normal(shape)).astype(dtype)  # noqa: E731
    p = {"x": r(steps, n, i), "h0": r(n, h), "w_ih": r(g * h, i), "w_hh": r(g * h, h),
         "b_ih": r(g * h) if bias else None, "b_hh": r(g * h) if bias else None}
    if kind == "lstm":
        p["c0"] = r(n, h)
        p["peep"] = r(3, h) if peep else None
    return p


def run(kind, p, grads, nl):
    """Forward outputs and backward gradients of one problem, as a flat list."""
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


@pytest.mark.parametrize("kind,nl", [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 3, 1), (7, 3, 5, 17), (4, 33, 64, 128), (0, 2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_sequences_match_cpu(kind, nl, dtype, shape, bias):
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(0)
    steps, n, i, h = shape
    p = problem(rng, kind, steps, n, i, h, dtype, bias=bias, peep=bias)
    grads = [rng.standard_normal((steps, n, h)).astype(dtype), rng.standard_normal((n, h)).astype(dtype),
             rng.standard_normal((n, h)).astype(dtype)]
    want = run(kind, p, grads, nl)
    to_gpu = lambda a: None if a is None else cupy.asarray(a)  # noqa: E731
    got = run(kind, {k: to_gpu(v) for k, v in p.items()}, [to_gpu(g) for g in grads], nl)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for a, b in zip(got, want):
        a = cupy.asnumpy(a)
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(b), initial=0.0))))


def test_cells_match_cpu():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(1)
    p = problem(rng, "lstm", 1, 5, 7, 9, np.float32)
    x, h, c = p["x"][0], p["h0"], p["c0"]
    gh = rng.standard_normal((5, 9)).astype(np.float32)
    h1, c1, st = ops.lstm_cell(x, h, c, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"], return_state=True)
    want = ops.lstm_cell_backward(gh, None, x, h, c, p["w_ih"], p["w_hh"], st, p["peep"])
    g = {k: None if v is None else cupy.asarray(v) for k, v in p.items()}
    gx, gh_ = g["x"][0], cupy.asarray(gh)
    h2, c2, st2 = ops.lstm_cell(gx, g["h0"], g["c0"], g["w_ih"], g["w_hh"], g["b_ih"], g["b_hh"], g["peep"],
                                return_state=True)
    got = ops.lstm_cell_backward(gh_, None, gx, g["h0"], g["c0"], g["w_ih"], g["w_hh"], st2, g["peep"])
    np.testing.assert_allclose(cupy.asnumpy(h2), h1, rtol=1e-5, atol=1e-5)
    for a, b in zip(got, want):
        np.testing.assert_allclose(cupy.asnumpy(a), b, rtol=1e-4, atol=1e-4)


def test_repeated_runs_are_bit_identical():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(2)
    p = {k: None if v is None else cupy.asarray(v)
         for k, v in problem(rng, "lstm", 6, 8, 16, 32, np.float32).items()}
    gy = cupy.asarray(rng.standard_normal((6, 8, 32)).astype(np.float32))
    first = [cupy.asnumpy(a) for a in run("lstm", p, [gy, None, None], "tanh")]
    again = [cupy.asnumpy(a) for a in run("lstm", p, [gy, None, None], "tanh")]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
