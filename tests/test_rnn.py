"""Recurrent ops (LSTM with optional peepholes, GRU, Elman; cells and whole
sequences, forward and backward) against float64 NumPy references, finite
differences, every CPU twin, and PyTorch as a second oracle."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncore import _C, ops

from support import isa, poisoned

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


# ---------------------------------------------------------------- references


def sigmoid(a):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


def lstm_ref(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peep=None):
    """x (T, N, I) -> y (T, N, H), h_T, c_T, in float64."""
    h, c = h0.astype(np.float64), c0.astype(np.float64)
    ys = []
    for t in range(x.shape[0]):
        a = x[t].astype(np.float64) @ w_ih.T.astype(np.float64) + h @ w_hh.T.astype(np.float64)
        if b_ih is not None:
            a = a + b_ih
        if b_hh is not None:
            a = a + b_hh
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
        if peep is not None:
            a_i = a_i + peep[0] * c
            a_f = a_f + peep[1] * c
        i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g)
        c = f * c + i * g
        if peep is not None:
            a_o = a_o + peep[2] * c
        h = sigmoid(a_o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys) if ys else np.zeros((0,) + h.shape), h, c


def gru_ref(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    h = h0.astype(np.float64)
    ys = []
    for t in range(x.shape[0]):
        gx = x[t].astype(np.float64) @ w_ih.T.astype(np.float64) + (0 if b_ih is None else b_ih)
        gh = h @ w_hh.T.astype(np.float64) + (0 if b_hh is None else b_hh)
        x_r, x_z, x_n = np.split(gx, 3, axis=1)
        h_r, h_z, h_n = np.split(gh, 3, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys) if ys else np.zeros((0,) + h.shape), h


def rnn_ref(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    h = h0.astype(np.float64)
    ys = []
    for t in range(x.shape[0]):
        a = x[t].astype(np.float64) @ w_ih.T.astype(np.float64) + h @ w_hh.T.astype(np.float64)
        a = a + (0 if b_ih is None else b_ih) + (0 if b_hh is None else b_hh)
        h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        ys.append(h)
    return np.stack(ys) if ys else np.zeros((0,) + h.shape), h


# ---------------------------------------------------------------- problems


def make(rng, kind, steps, n, i, h, *, bias=(True, True), peep=False, dtype=np.float32):
    """Random inputs and weights of one problem, as a dict of arrays (or None)."""
    g = GATES[kind]
    scale = 1.0 / np.sqrt(max(h, 1))

    def r(*shape, s=1.0):
        return (s * rng.standard_normal(shape)).astype(dtype)

    p = {"x": r(steps, n, i), "h0": r(n, h, s=0.5), "w_ih": r(g * h, i, s=scale), "w_hh": r(g * h, h, s=scale),
         "b_ih": r(g * h, s=0.3) if bias[0] else None, "b_hh": r(g * h, s=0.3) if bias[1] else None}
    if kind == "lstm":
        p["c0"] = r(n, h, s=0.5)
        p["peep"] = r(3, h, s=0.5) if peep else None
    return p


def reference(kind, p, nonlinearity="tanh"):
    if kind == "lstm":
        return lstm_ref(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"])
    if kind == "gru":
        return gru_ref(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    return rnn_ref(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nonlinearity)


def forward(kind, p, nonlinearity="tanh"):
    """(y, h_n[, c_n], saved-or-y) from our sequence op."""
    if kind == "lstm":
        return ops.lstm(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"])
    if kind == "gru":
        return ops.gru(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    return ops.rnn(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nonlinearity)


def backward(kind, p, outs, grads, nonlinearity="tanh"):
    """Gradients as a dict keyed like p."""
    bias = p["b_ih"] is not None or p["b_hh"] is not None
    if kind == "lstm":
        y, _, _, saved = outs
        gy, gh, gc = grads
        d = ops.lstm_backward(gy, gh, gc, p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], y, saved, p["peep"],
                              bias=bias)
        names = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh", "peep"]
    elif kind == "gru":
        y, _, saved = outs
        gy, gh = grads[:2]
        d = ops.gru_backward(gy, gh, p["x"], p["h0"], p["w_ih"], p["w_hh"], y, saved, bias=bias)
        names = ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]
    else:
        y, _ = outs
        gy, gh = grads[:2]
        d = ops.rnn_backward(gy, gh, p["x"], p["h0"], p["w_ih"], p["w_hh"], y, nonlinearity, bias=bias)
        names = ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]
    return {k: v for k, v in zip(names, d) if p.get(k) is not None}


def output_grads(rng, kind, steps, n, h, dtype):
    gy = rng.standard_normal((steps, n, h)).astype(dtype)
    gh = rng.standard_normal((n, h)).astype(dtype)
    gc = rng.standard_normal((n, h)).astype(dtype) if kind == "lstm" else None
    return gy, gh, gc


def loss_ref(kind, p, grads, nonlinearity="tanh"):
    out = reference(kind, p, nonlinearity)
    gy, gh, gc = grads
    total = np.sum(gy * out[0]) + np.sum(gh * out[1])
    if kind == "lstm":
        total += np.sum(gc * out[2])
    return total


def assert_close(got, want, tol, what=""):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert np.all(np.isfinite(got)), f"{what}: non-finite (unwritten?) elements"
    err = np.max(np.abs(got.astype(np.float64) - want), initial=0.0)
    scale = max(1.0, np.max(np.abs(want), initial=0.0))
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol * scale:.3g}"


KINDS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
KIND_IDS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
HIDDEN = [1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 31, 33]


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
def test_sequence_forward_odd_sizes(each_isa, rng, kind, nl):
    for k, h in enumerate(HIDDEN):
        steps = (1, 7, 2)[k % 3]
        n = (1, 3, 2)[k % 3]
        i = (1, 5, 11, 16)[k % 4]
        bias = [(True, True), (False, False), (True, False), (False, True)][k % 4]
        p = make(rng, kind, steps, n, i, h, bias=bias, peep=kind == "lstm" and k % 2 == 1)
        outs = forward(kind, p, nl)
        want = reference(kind, p, nl)
        for got, ref, name in zip(outs, want, ["y", "h_n", "c_n"]):
            assert_close(got, ref, 2e-5, f"{name} h={h}")


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
def test_larger_problems_cross_every_tile(each_isa, rng, kind, nl):
    # batches past the recurrent GEMM's row tiles (6 / 12), gate widths with
    # ragged column panels, and widths past the small-batch kernels' blocks
    for steps, n, i, h in [(3, 13, 150, 20), (2, 26, 7, 33), (4, 1, 150, 37), (1, 5, 140, 9), (3, 4, 33, 130)]:
        p = make(rng, kind, steps, n, i, h, peep=True)
        outs = forward(kind, p, nl)
        for got, ref in zip(outs, reference(kind, p, nl)):
            assert_close(got, ref, 3e-5)
        p64 = {k: None if v is None else v.astype(np.float64) for k, v in p.items()}
        grads = output_grads(rng, kind, steps, n, h, np.float32)
        got = backward(kind, p, outs, grads, nl)
        want = backward(kind, p64, forward(kind, p64, nl), tuple(None if g is None else g.astype(np.float64)
                                                                 for g in grads), nl)
        for name in want:
            assert_close(got[name], want[name], 2e-4, f"{name} {(steps, n, i, h)}")


@pytest.mark.parametrize("peep", [False, True])
def test_lstm_cell_forward(each_isa, rng, peep):
    for h in HIDDEN:
        n, i = (1, 3)[h % 2], 7
        p = make(rng, "lstm", 1, n, i, h, peep=peep, bias=(h % 3 != 0, h % 3 != 0))
        h_new, c_new, state = ops.lstm_cell(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"],
                                            p["peep"], return_state=True)
        _, want_h, want_c = reference("lstm", p)
        assert_close(h_new, want_h, 2e-5, "h_new")
        assert_close(c_new, want_c, 2e-5, "c_new")
        assert state.shape == (n, 5 * h)
        np.testing.assert_array_equal(state[:, 4 * h:], c_new)


def test_gru_and_rnn_cell_forward(each_isa, rng):
    for h in HIDDEN:
        n, i = (1, 3)[h % 2], 6
        p = make(rng, "gru", 1, n, i, h, bias=(h % 3 != 1, h % 3 != 2))
        h_new, state = ops.gru_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], return_state=True)
        assert_close(h_new, reference("gru", p)[1], 2e-5, "gru h_new")
        assert state.shape == (n, 4 * h)
        for nl in ("tanh", "relu"):
            p = make(rng, "rnn", 1, n, i, h, bias=(h % 2 == 0, True))
            got = ops.rnn_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nl)
            assert_close(got, reference("rnn", p, nl)[1], 2e-5, f"rnn {nl}")


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
def test_float64_matches_reference_tightly(rng, kind, nl):
    p = make(rng, kind, 5, 3, 4, 6, peep=True, dtype=np.float64)
    for got, ref in zip(forward(kind, p, nl), reference(kind, p, nl)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_cells_take_none_states_as_zeros(rng):
    p = make(rng, "lstm", 1, 2, 4, 5)
    z = np.zeros((2, 5), np.float32)
    for a, b in zip(ops.lstm_cell(p["x"][0], None, None, p["w_ih"], p["w_hh"]),
                    ops.lstm_cell(p["x"][0], z, z, p["w_ih"], p["w_hh"])):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ops.gru_cell(p["x"][0], None, p["w_ih"][:15], p["w_hh"][:15]),
                                  ops.gru_cell(p["x"][0], z, p["w_ih"][:15], p["w_hh"][:15]))
    np.testing.assert_array_equal(ops.rnn_cell(p["x"][0], None, p["w_ih"][:5], p["w_hh"][:5]),
                                  ops.rnn_cell(p["x"][0], z, p["w_ih"][:5], p["w_hh"][:5]))


def test_h0_c0_none_mean_zeros(rng):
    p = make(rng, "lstm", 3, 2, 4, 5)
    y, h_n, c_n, _ = ops.lstm(p["x"], None, None, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    want = lstm_ref(p["x"], np.zeros((2, 5)), np.zeros((2, 5)), p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    assert_close(y, want[0], 2e-5)
    g = make(rng, "gru", 3, 2, 4, 5)
    assert_close(ops.gru(g["x"], None, g["w_ih"], g["w_hh"])[0], gru_ref(g["x"], np.zeros((2, 5)), g["w_ih"],
                                                                          g["w_hh"])[0], 2e-5)


# ---------------------------------------------------------------- backward


def numeric_grads(kind, p, grads, nl, eps=1e-6):
    """Central differences of the float64 reference loss for every input."""
    out = {}
    for name, arr in p.items():
        if arr is None:
            continue
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            keep = arr[idx]
            arr[idx] = keep + eps
            up = loss_ref(kind, p, grads, nl)
            arr[idx] = keep - eps
            down = loss_ref(kind, p, grads, nl)
            arr[idx] = keep
            g[idx] = (up - down) / (2 * eps)
        out[name] = g
    return out


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("steps", [1, 3])
def test_backward_matches_finite_differences(rng, kind, nl, steps):
    p = make(rng, kind, steps, 2, 3, 4, peep=True, dtype=np.float64)
    if nl == "relu":  # keep pre-activations away from the kink
        p["b_ih"] += 0.5
    grads = output_grads(rng, kind, steps, 2, 4, np.float64)
    got = backward(kind, p, forward(kind, p, nl), grads, nl)
    want = numeric_grads(kind, p, grads, nl)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
def test_float32_backward_matches_float64(each_isa, rng, kind, nl):
    for k, h in enumerate([1, 3, 8, 13, 16, 17]):
        steps, n, i = (1, 7, 2)[k % 3], (1, 3)[k % 2], (2, 9)[k % 2]
        p64 = make(rng, kind, steps, n, i, h, peep=k % 2 == 0, bias=[(True, True), (False, False)][k % 2],
                   dtype=np.float64)
        p32 = {k2: None if v is None else v.astype(np.float32) for k2, v in p64.items()}
        grads64 = output_grads(rng, kind, steps, n, h, np.float64)
        grads32 = tuple(None if g is None else g.astype(np.float32) for g in grads64)
        with isa("scalar"):
            want = backward(kind, p64, forward(kind, p64, nl), grads64, nl)
        got = backward(kind, p32, forward(kind, p32, nl), grads32, nl)
        for name in want:
            assert_close(got[name], want[name], 1e-4, f"{name} h={h}")


def test_none_output_grads_are_zero(rng):
    p = make(rng, "lstm", 4, 2, 3, 5, peep=True)
    outs = forward("lstm", p)
    z = np.zeros((2, 5), np.float32)
    gy = rng.standard_normal((4, 2, 5)).astype(np.float32)
    a = ops.lstm_backward(gy, None, None, p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], outs[0], outs[3], p["peep"])
    b = ops.lstm_backward(gy, z, z, p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], outs[0], outs[3], p["peep"])
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("peep", [False, True])
def test_lstm_cell_backward(each_isa, rng, peep):
    for h in [1, 4, 16, 17]:
        p = make(rng, "lstm", 1, 3, 5, h, peep=peep, dtype=np.float64)
        gh, gc = rng.standard_normal((3, h)), rng.standard_normal((3, h))
        _, _, state = ops.lstm_cell(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"],
                                    p["peep"], return_state=True)
        got = ops.lstm_cell_backward(gh, gc, p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], state, p["peep"])
        seq = backward("lstm", p, forward("lstm", p), (gh[None], None, gc))
        want = [seq["x"][0], seq["h0"], seq["c0"], seq["w_ih"], seq["w_hh"], seq["b_ih"], seq["b_hh"], seq.get("peep")]
        for u, v in zip(got, want):
            if v is None:
                assert u is None
            else:
                np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_gru_and_rnn_cell_backward(rng):
    p = make(rng, "gru", 1, 3, 5, 6, dtype=np.float64)
    gh = rng.standard_normal((3, 6))
    h_new, state = ops.gru_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], return_state=True)
    got = ops.gru_cell_backward(gh, p["x"][0], p["h0"], p["w_ih"], p["w_hh"], state)
    want = numeric_grads("gru", p, (gh[None], np.zeros((3, 6)), None), "tanh")
    for u, name in zip(got, ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]):
        np.testing.assert_allclose(u, want[name][0] if name == "x" else want[name], rtol=1e-5, atol=1e-7)
    for nl in ("tanh", "relu"):
        p = make(rng, "rnn", 1, 3, 5, 6, dtype=np.float64)
        h_new = ops.rnn_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nl)
        got = ops.rnn_cell_backward(gh, p["x"][0], p["h0"], h_new, p["w_ih"], p["w_hh"], nl, bias=False)
        want = numeric_grads("rnn", p, (gh[None], np.zeros((3, 6)), None), nl)
        assert got[4] is None and got[5] is None
        for u, name in zip(got[:4], ["x", "h0", "w_ih", "w_hh"]):
            np.testing.assert_allclose(u, want[name][0] if name == "x" else want[name], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- edges


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("shape", [(0, 2, 3, 4), (2, 0, 3, 4), (2, 2, 0, 4), (2, 2, 3, 0)],
                         ids=["T0", "N0", "I0", "H0"])
def test_empty_sizes(each_isa, rng, kind, nl, shape):
    steps, n, i, h = shape
    p = make(rng, kind, steps, n, i, h)
    outs = forward(kind, p, nl)
    for got, ref in zip(outs, reference(kind, p, nl)):
        assert_close(got, ref, 2e-5)
    grads = output_grads(rng, kind, steps, n, h, np.float32)
    got = backward(kind, p, outs, grads, nl)
    if steps == 0:
        np.testing.assert_array_equal(got["h0"], grads[1])
        assert not np.any(got["w_hh"])
    for v in got.values():
        assert np.all(np.isfinite(v))


def test_poisoned_outputs_are_fully_written(each_isa, rng):
    steps, n, i, h = 3, 2, 5, 9
    p = make(rng, "lstm", steps, n, i, h, peep=True)
    y, h_n, c_n, saved = (poisoned(s) for s in [(steps, n, h), (n, h), (n, h), (steps, n, 5 * h)])
    _C.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"], y, h_n, c_n,
                    saved)
    for a in (y, h_n, c_n, saved):
        assert np.all(np.isfinite(a))
    gy, gh, gc = output_grads(rng, "lstm", steps, n, h, np.float32)
    shapes = [(steps, n, i), (n, h), (n, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,), (3, h)]
    grads = [poisoned(s) for s in shapes]
    _C.lstm_backward(gy, gh, gc, p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["peep"], y, saved, *grads)
    for a in grads:
        assert np.all(np.isfinite(a))

    g = make(rng, "gru", steps, n, i, h)
    y, h_n, saved = poisoned((steps, n, h)), poisoned((n, h)), poisoned((steps, n, 4 * h))
    _C.gru_forward(g["x"], g["h0"], g["w_ih"], g["w_hh"], g["b_ih"], g["b_hh"], y, h_n, saved)
    assert all(np.all(np.isfinite(a)) for a in (y, h_n, saved))
    grads = [poisoned(s) for s in [(steps, n, i), (n, h), (3 * h, i), (3 * h, h), (3 * h,), (3 * h,)]]
    _C.gru_backward(gy, gh, g["x"], g["h0"], g["w_ih"], g["w_hh"], y, saved, *grads)
    assert all(np.all(np.isfinite(a)) for a in grads)

    r = make(rng, "rnn", steps, n, i, h)
    y, h_n = poisoned((steps, n, h)), poisoned((n, h))
    _C.rnn_forward(r["x"], r["h0"], r["w_ih"], r["w_hh"], r["b_ih"], r["b_hh"], "tanh", y, h_n)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(h_n))
    grads = [poisoned(s) for s in [(steps, n, i), (n, h), (h, i), (h, h), (h,), (h,)]]
    _C.rnn_backward(gy, gh, r["x"], r["h0"], r["w_ih"], r["w_hh"], y, "tanh", *grads)
    assert all(np.all(np.isfinite(a)) for a in grads)


def test_repeated_calls_are_bit_identical(rng):
    p = make(rng, "lstm", 6, 4, 16, 32, peep=True)
    grads = output_grads(rng, "lstm", 6, 4, 32, np.float32)
    first = backward("lstm", p, forward("lstm", p), grads)
    for _ in range(2):
        again = backward("lstm", p, forward("lstm", p), grads)
        for k in first:
            np.testing.assert_array_equal(first[k], again[k])


@pytest.mark.parametrize("kind,nl", KINDS, ids=KIND_IDS)
def test_thread_count_does_not_change_results(rng, kind, nl):
    import nncore

    p = make(rng, kind, 3, 32, 20, 256, peep=True)
    grads = output_grads(rng, kind, 3, 32, 256, np.float32)
    before = nncore.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            nncore.set_num_threads(threads)
            outs = forward(kind, p, nl)
            results.append([o.copy() for o in outs] + list(backward(kind, p, outs, grads, nl).values()))
    finally:
        nncore.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_large_values_saturate_without_nan(each_isa):
    x = np.array([[[-1e4, -100.0, -20.0, 0.0, 1e-30, 20.0, 100.0, 1e4]]], np.float32).reshape(1, 8, 1)
    w = np.ones((4, 1), np.float32)
    y, h_n, c_n, _ = ops.lstm(x, None, None, w, np.zeros((4, 1), np.float32))
    want = lstm_ref(x, np.zeros((8, 1)), np.zeros((8, 1)), w, np.zeros((4, 1)))
    assert_close(y, want[0], 1e-6)
    y, _ = ops.rnn(x, None, np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32))
    assert_close(y, np.tanh(x.astype(np.float64)), 1e-6)


# ---------------------------------------------------------------- errors


def test_errors_name_op_argument_and_expectation(rng):
    p = make(rng, "lstm", 2, 3, 4, 5)
    x, h0, c0, w_ih, w_hh = p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"]
    with pytest.raises(TypeError, match="lstm: h0 must have the dtype of x"):
        ops.lstm(x, h0.astype(np.float64), c0, w_ih, w_hh)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.lstm(x.astype(np.int32), h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm: w_ih must have shape \(20, 4\)"):
        ops.lstm(x, h0, c0, w_ih[:, :3].copy(), w_hh)
    with pytest.raises(ValueError, match=r"lstm: w_hh must have shape \(4 \* hidden_size"):
        ops.lstm(x, h0, c0, w_ih, w_hh[:19])
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.lstm(x, np.asfortranarray(h0), c0, w_ih, w_hh)
    with pytest.raises(ValueError, match="lstm_cell: x must be 2-D"):
        ops.lstm_cell(x[0, 0], h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_cell: c must have shape \(3, 5\)"):
        ops.lstm_cell(x[0], h0, c0[:2], w_ih, w_hh)
    with pytest.raises(ValueError, match=r"gru_cell_backward: state must have shape \(3, 20\)"):
        ops.gru_cell_backward(h0, x[0], h0, w_ih[:15], w_hh[:15], np.zeros((3, 19), np.float32))
    with pytest.raises(ValueError, match="w_peephole must have shape"):
        ops.lstm(x, h0, c0, w_ih, w_hh, w_peephole=np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        ops.rnn_cell(x[0], h0, w_ih[:5], w_hh[:5, :], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="must not share memory"):
        y = np.empty((2, 3, 5), np.float32)
        _C.rnn_forward(x, h0, w_ih[:5], w_hh[:5], None, None, "tanh", y, y[0])
    with pytest.raises(TypeError, match="numpy.ndarray"):
        ops.gru(x, [[0.0]], w_ih[:15], w_hh[:15])
    with pytest.raises(ValueError, match="read-only"):
        ro = np.empty((2, 3, 5), np.float32)
        ro.flags.writeable = False
        _C.rnn_forward(x, h0, w_ih[:5], w_hh[:5], None, None, "tanh", ro, None)


def bad_variant(draw, arr):
    """arr, or a broken version of it: wrong dtype, rank, size, layout, or not an array."""
    how = draw(st.sampled_from(["ok", "ok", "ok", "dtype", "rank", "size", "strided", "none", "list", "scalar"]))
    if arr is None or how == "ok":
        return arr
    if how == "dtype":
        return arr.astype(draw(st.sampled_from([np.float64, np.int32, np.int64, np.float16, np.bool_, np.complex64])))
    if how == "rank":
        return arr.reshape(arr.shape + (1,)) if draw(st.booleans()) else arr.reshape(-1)[:1].reshape(())
    if how == "size":
        return np.zeros(tuple(s + draw(st.integers(-1, 2)) if s > 0 else s + 1 for s in arr.shape), arr.dtype)
    if how == "strided":
        big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],) if arr.ndim else (2,), arr.dtype)
        return big[..., ::2] if arr.ndim else big[::2]
    if how == "none":
        return None
    if how == "list":
        return arr.tolist()
    return 1.5


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_front_door_rejects_bad_arguments_cleanly(data):
    kind = data.draw(st.sampled_from(["lstm", "gru", "rnn"]))
    cell = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    p = make(rng, kind, 2, 3, 4, 5, peep=True)
    if cell:
        p["x"] = p["x"][0]
    p = {k: bad_variant(data.draw, v) for k, v in p.items()}
    try:
        if kind == "lstm":
            fn = ops.lstm_cell if cell else ops.lstm
            outs = fn(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["peep"])
        elif kind == "gru":
            fn = ops.gru_cell if cell else ops.gru
            outs = fn(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
        else:
            fn = ops.rnn_cell if cell else ops.rnn
            outs = fn(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], "tanh")
    except (TypeError, ValueError) as e:
        assert str(e).split(":")[0].startswith(kind) or "numpy.ndarray" in str(e) or "float" in str(e), str(e)
        return
    assert outs is not None


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_backward_front_door_rejects_bad_arguments_cleanly(data):
    kind = data.draw(st.sampled_from(["lstm", "gru", "rnn"]))
    cell = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    p = make(rng, kind, 1 if cell else 2, 3, 4, 5, peep=True)
    outs = forward(kind, p)
    if cell:
        p["x"] = p["x"][0]
        outs = tuple(o[0] if o.ndim == 3 else o for o in outs)
    args = dict(p, g=rng.standard_normal((3, 5)).astype(np.float32), y=outs[0], saved=outs[-1])
    if not cell:
        args["g"] = rng.standard_normal((2, 3, 5)).astype(np.float32)
    args = {k: bad_variant(data.draw, v) for k, v in args.items()}
    a = args
    try:
        if kind == "lstm" and cell:
            ops.lstm_cell_backward(a["g"], None, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["saved"], a["peep"])
        elif kind == "lstm":
            ops.lstm_backward(a["g"], None, a["h0"], a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["y"],
                              a["saved"], a["peep"])
        elif kind == "gru" and cell:
            ops.gru_cell_backward(a["g"], a["x"], a["h0"], a["w_ih"], a["w_hh"], a["saved"])
        elif kind == "gru":
            ops.gru_backward(a["g"], a["h0"], a["x"], a["h0"], a["w_ih"], a["w_hh"], a["y"], a["saved"])
        elif cell:
            ops.rnn_cell_backward(a["g"], a["x"], a["h0"], a["y"], a["w_ih"], a["w_hh"])
        else:
            ops.rnn_backward(a["g"], a["h0"], a["x"], a["h0"], a["w_ih"], a["w_hh"], a["y"])
    except (TypeError, ValueError):
        pass


# ---------------------------------------------------------------- PyTorch


def torch_or_skip():
    return pytest.importorskip("torch")


def copy_weights(module, params, suffix=""):
    torch = torch_or_skip()
    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name + suffix).copy_(torch.from_numpy(value))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("n", [1, 3])
def test_cells_match_pytorch(rng, kind, n):
    torch = torch_or_skip()
    i, h = 6, 11
    nl = "relu" if kind == "rnn_relu" else "tanh"
    base = kind.split("_")[0]
    cell = {"lstm": lambda: torch.nn.LSTMCell(i, h), "gru": lambda: torch.nn.GRUCell(i, h),
            "rnn": lambda: torch.nn.RNNCell(i, h, nonlinearity=nl)}[base]()
    p = make(rng, base, 1, n, i, h)
    copy_weights(cell, {"weight_ih": p["w_ih"], "weight_hh": p["w_hh"], "bias_ih": p["b_ih"], "bias_hh": p["b_hh"]})
    xt = torch.from_numpy(p["x"][0]).requires_grad_()
    ht = torch.from_numpy(p["h0"]).requires_grad_()
    gh = rng.standard_normal((n, h)).astype(np.float32)
    if base == "lstm":
        ct = torch.from_numpy(p["c0"]).requires_grad_()
        gc = rng.standard_normal((n, h)).astype(np.float32)
        th, tc = cell(xt, (ht, ct))
        (th * torch.from_numpy(gh) + tc * torch.from_numpy(gc)).sum().backward()
        h_new, c_new, state = ops.lstm_cell(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"],
                                            return_state=True)
        assert_close(c_new, tc.detach().double().numpy(), 1e-5)
        got = ops.lstm_cell_backward(gh, gc, p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], state)
        want = [xt.grad, ht.grad, ct.grad]
    else:
        th = cell(xt, ht)
        (th * torch.from_numpy(gh)).sum().backward()
        if base == "gru":
            h_new, state = ops.gru_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"],
                                        return_state=True)
            got = ops.gru_cell_backward(gh, p["x"][0], p["h0"], p["w_ih"], p["w_hh"], state)
        else:
            h_new = ops.rnn_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nl)
            got = ops.rnn_cell_backward(gh, p["x"][0], p["h0"], h_new, p["w_ih"], p["w_hh"], nl)
        want = [xt.grad, ht.grad]
    assert_close(h_new, th.detach().double().numpy(), 1e-5)
    want += [cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad]
    for u, v in zip([g for g in got if g is not None], want):
        assert_close(u, v.double().numpy(), 1e-4)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_sequences_match_pytorch(rng, kind):
    torch = torch_or_skip()
    steps, n, i, h = 7, 3, 5, 9
    nl = "relu" if kind == "rnn_relu" else "tanh"
    base = kind.split("_")[0]
    mod = {"lstm": lambda: torch.nn.LSTM(i, h), "gru": lambda: torch.nn.GRU(i, h),
           "rnn": lambda: torch.nn.RNN(i, h, nonlinearity=nl)}[base]()
    p = make(rng, base, steps, n, i, h)
    copy_weights(mod, {"weight_ih": p["w_ih"], "weight_hh": p["w_hh"], "bias_ih": p["b_ih"], "bias_hh": p["b_hh"]},
                 "_l0")
    xt = torch.from_numpy(p["x"]).requires_grad_()
    ht = torch.from_numpy(p["h0"][None]).requires_grad_()
    grads = output_grads(rng, base, steps, n, h, np.float32)
    if base == "lstm":
        ct = torch.from_numpy(p["c0"][None]).requires_grad_()
        ty, (th, tc) = mod(xt, (ht, ct))
        loss = (ty * torch.from_numpy(grads[0])).sum() + (th[0] * torch.from_numpy(grads[1])).sum()
        loss = loss + (tc[0] * torch.from_numpy(grads[2])).sum()
    else:
        ty, th = mod(xt, ht)
        loss = (ty * torch.from_numpy(grads[0])).sum() + (th[0] * torch.from_numpy(grads[1])).sum()
    loss.backward()
    outs = forward(base, p, nl)
    assert_close(outs[0], ty.detach().double().numpy(), 1e-5, "y")
    got = backward(base, p, outs, grads, nl)
    want = {"x": xt.grad, "h0": ht.grad[0], "w_ih": mod.weight_ih_l0.grad, "w_hh": mod.weight_hh_l0.grad,
            "b_ih": mod.bias_ih_l0.grad, "b_hh": mod.bias_hh_l0.grad}
    if base == "lstm":
        want["c0"] = ct.grad[0]
    for name, v in want.items():
        assert_close(got[name], v.double().numpy(), 1e-4, name)
