"""ops.activation / ops.activation_backward against float64 NumPy references,
every twin, sizes around the vector widths and a threaded size, in place, and
the Tensor / functional ops that run on them (autograd, PyTorch as a second oracle)."""

import numpy as np
import pytest

import nncore
import nncore.functional as F
from nncore import ops
from nncore.ops.activation_kinds import KINDS, NEEDS_INPUT

from support import isa, poisoned

SIZES = list(range(0, 18)) + [31, 32, 33, 97, 127, 1000, 70001]  # 70001: over the threading cut-off
# (kind, alpha, beta) as the kernels take them
CASES = [("relu", None, None), ("relu6", None, None), ("leaky_relu", 0.1, None), ("leaky_relu", 0.0, None),
         ("elu", 1.0, None), ("elu", 0.7, None), ("softplus", 1.0, 20.0), ("softplus", 2.5, 3.0),
         ("softsign", None, None), ("sigmoid", None, None), ("tanh", None, None), ("none", None, None)]
DEFAULTS = {"leaky_relu": (0.01, 0.0), "elu": (1.0, 0.0), "softplus": (1.0, 20.0)}
RTOL, ATOL = 2e-6, 1e-30  # a few ulp of float32


def ids(case):
    kind, a, b = case
    return kind + ("" if a is None else f"-{a}") + ("" if b is None else f"-{b}")


def inputs(rng, n):
    """Values over the ranges where each kind changes branch, and the edges of its vector exp."""
    x = rng.standard_normal(n) * 4
    specials = [0.0, -0.0, 1e-6, -1e-6, 0.62, -0.63, 5.99, 6.01, 19.9, 20.1, -86.9, -87.1, -100, 100, 1e-30, 3.0]
    k = min(n, len(specials))
    x[:k] = rng.permutation(specials)[:k]
    return x.astype(np.float32)


def ref_forward(kind, x, alpha, beta):
    alpha, beta = (a if v is None else v for v, a in zip((alpha, beta), DEFAULTS.get(kind, (0.0, 0.0))))
    x = x.astype(np.float64)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "relu6":
        return np.clip(x, 0, 6)
    if kind == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if kind == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    if kind == "softplus":
        z = (x.astype(np.float32) * np.float32(alpha)).astype(np.float64)  # the product the kernel rounds
        return np.where(z > beta, x, (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / alpha)
    if kind == "softsign":
        return x / (1 + np.abs(x))
    if kind == "sigmoid":
        return ref_sigmoid(x)
    if kind == "tanh":
        return np.tanh(x)
    return x


def ref_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def ref_backward(kind, g, x, y, alpha, beta):
    """g * f' from what the kernel reads: y (float32, as stored) or x."""
    alpha, beta = (a if v is None else v for v, a in zip((alpha, beta), DEFAULTS.get(kind, (0.0, 0.0))))
    g, x, y = (a.astype(np.float64) for a in (g, x, y))
    if kind == "relu":
        return np.where(y > 0, g, 0)
    if kind == "relu6":
        return np.where((y > 0) & (y < 6), g, 0)
    if kind == "leaky_relu":
        return np.where(y > 0, g, alpha * g)
    if kind == "elu":
        return np.where(y > 0, g, g * (y + alpha))
    if kind == "softplus":
        z = (x.astype(np.float32) * np.float32(alpha)).astype(np.float64)
        return np.where(z > beta, g, g * ref_sigmoid(z))
    if kind == "softsign":
        return g / (1 + np.abs(x)) ** 2
    if kind == "sigmoid":
        return g * y * (1 - y)
    if kind == "tanh":
        return g * (1 - y * y)
    return g


def assert_gradient_close(dx, want, g, msg):
    """A few ulp of the result, or of g where f' comes out of a cancellation
    (1 - y^2 near |y| = 1, y + alpha near y = -alpha): 2e-7 |g|."""
    assert np.isfinite(dx).all(), msg
    bad = np.abs(dx - want) > RTOL * np.abs(want) + 2e-7 * np.abs(g)
    assert not bad.any(), f"{msg}: {dx[bad][:5]} != {want[bad][:5]}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_and_backward_match_float64_every_twin(rng, each_isa, case):
    kind, alpha, beta = case
    for n in SIZES:
        x = inputs(rng, n)
        out = poisoned(n)
        assert ops.activation(x, kind, alpha, beta, out=out) is out
        np.testing.assert_allclose(out, ref_forward(kind, x, alpha, beta), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{kind} n={n} {each_isa}")
        g = rng.standard_normal(n).astype(np.float32)
        dx = poisoned(n)
        saved_x, saved_y = (x, None) if kind in NEEDS_INPUT else (None, out)
        assert ops.activation_backward(g, saved_x, saved_y, kind, alpha, beta, out=dx) is dx
        assert_gradient_close(dx, ref_backward(kind, g, x, out, alpha, beta), g, f"{kind} backward n={n} {each_isa}")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_any_shape_in_place_and_twins_agree(rng, case):
    kind, alpha, beta = case
    x = inputs(rng, 3 * 5 * 7 * 11).reshape(3, 5, 7, 11)
    with isa("scalar"):
        want = ops.activation(x, kind, alpha, beta)
    got = ops.activation(x, kind, alpha, beta)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    inplace = x.copy()
    assert ops.activation(inplace, kind, alpha, beta, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, got)
    g = rng.standard_normal(x.shape).astype(np.float32)
    want_dx = ops.activation_backward(g, x, got, kind, alpha, beta)
    ops.activation_backward(g, x, got, kind, alpha, beta, out=g)  # into the gradient itself
    np.testing.assert_array_equal(g, want_dx)


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_ranges_cover_every_element(rng, threads):
    before = nncore.get_num_threads()
    nncore.set_num_threads(threads)
    try:
        for n in (65536, 65537, 65536 + 63, 200003):
            x = inputs(rng, n)
            out = poisoned(n)
            ops.activation(x, "tanh", out=out)
            np.testing.assert_allclose(out, np.tanh(x.astype(np.float64)), rtol=RTOL, atol=ATOL)
    finally:
        nncore.set_num_threads(before)


# ---------------------------------------------------------------- through Tensor / functional
FUNCTIONAL = [
    ("relu", lambda F, x: F.relu(x)), ("relu6", lambda F, x: F.relu6(x)),
    ("hardtanh06", lambda F, x: F.hardtanh(x, 0.0, 6.0)), ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2)),
    ("elu", lambda F, x: F.elu(x, 0.8)), ("softplus", lambda F, x: F.softplus(x, 2.0, 5.0)),
    ("softsign", lambda F, x: F.softsign(x)), ("sigmoid", lambda F, x: F.sigmoid(x)),
    ("tanh", lambda F, x: F.tanh(x)), ("tensor_relu", lambda F, x: x.relu()),
    ("tensor_sigmoid", lambda F, x: x.sigmoid()), ("tensor_tanh", lambda F, x: x.tanh()),
]


@pytest.mark.parametrize("name,fn", FUNCTIONAL, ids=[n for n, _ in FUNCTIONAL])
def test_autograd_gradient_matches_finite_differences(rng, name, fn):
    """float32 forward and backward (the kernels) against central differences of the float64 path."""
    x32 = (rng.standard_normal((4, 9)) * 3).astype(np.float32)
    x32[np.abs(x32) < 0.05] += 0.1  # away from the kinks
    x32[np.abs(x32 - 6) < 0.05] += 0.1
    x = nncore.tensor(x32, requires_grad=True)
    y = fn(F, x)
    w = rng.standard_normal(x32.shape)
    (y * nncore.tensor(w.astype(np.float32))).sum().backward()
    h = 1e-6
    x64 = x32.astype(np.float64)
    numeric = (fn(F, nncore.tensor(x64 + h)).numpy() - fn(F, nncore.tensor(x64 - h)).numpy()) * w / (2 * h)
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(y.numpy(), fn(F, nncore.tensor(x64)).numpy(), rtol=RTOL, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name,fn", FUNCTIONAL, ids=[n for n, _ in FUNCTIONAL])
def test_matches_torch(rng, name, fn):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    x32 = (rng.standard_normal((2, 3, 17, 5)) * 4).astype(np.float32)
    g = rng.standard_normal(x32.shape).astype(np.float32)
    ours = nncore.tensor(x32, requires_grad=True)
    theirs = torch.tensor(x32, requires_grad=True)
    y = fn(F, ours)
    y.backward(nncore.tensor(g))
    ty = fn(TF, theirs)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_backward_keeps_only_the_output_for_output_kinds(rng):
    """relu / sigmoid / tanh save y, not x: changing x in place after the forward is not an error."""
    for fn in (F.relu, F.sigmoid, F.tanh, F.elu, F.leaky_relu):
        x = nncore.tensor(rng.standard_normal(40).astype(np.float32), requires_grad=True)
        h = x * 1.0
        y = fn(h)
        h.data[...] = 7.0
        node = y._node
        assert len(node.saved) == 1  # the output's version counter alone
        y.sum().backward()
        assert x.grad is not None


def test_relu_in_place_without_grad_writes_the_same_array(rng):
    d = rng.standard_normal(1000).astype(np.float32)
    t = nncore.tensor(d.copy())
    data = t.data
    t.relu_()
    assert t.data is data
    np.testing.assert_array_equal(t.numpy(), np.maximum(d, 0))
    t64 = nncore.tensor(d.astype(np.float64))
    t64.relu_()
    np.testing.assert_array_equal(t64.numpy(), np.maximum(d, 0).astype(np.float64))


def test_other_dtypes_and_layouts_keep_the_numpy_path(rng):
    x = rng.standard_normal((6, 8))
    for dtype in (np.float64, np.float32):
        t = nncore.tensor(x.astype(dtype)[:, ::2])  # non-contiguous
        np.testing.assert_allclose(F.sigmoid(t).numpy(), 1 / (1 + np.exp(-x[:, ::2])), rtol=1e-6)
        assert F.sigmoid(t).numpy().dtype == dtype


def test_outputs_come_from_the_host_cache_without_new_pages(rng):
    import resource

    x = rng.standard_normal(1 << 20).astype(np.float32)
    for _ in range(3):
        ops.activation(x, "sigmoid")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        ops.activation(x, "sigmoid")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 5 * 256 // 4  # 1 MiB outputs: 256 pages each


# ---------------------------------------------------------------- bad input
def test_bad_arguments_raise_naming_them():
    x = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="activation: kind"):
        ops.activation(x, "gelu")
    with pytest.raises(TypeError, match="activation: kind"):
        ops.activation(x, 3)
    with pytest.raises((TypeError, ValueError), match="activation: input"):
        ops.activation(np.ones(8), "relu")
    with pytest.raises(ValueError, match="activation: input"):
        ops.activation(np.ones((4, 4), np.float32)[:, ::2], "relu")
    with pytest.raises(ValueError, match="activation: out"):
        ops.activation(x, "relu", out=np.empty(7, np.float32))
    with pytest.raises(ValueError, match="activation: out"):
        buffer = np.ones(9, np.float32)
        ops.activation(buffer[1:], "relu", out=buffer[:8])  # a partial overlap
    with pytest.raises(ValueError, match="activation: alpha"):
        ops.activation(x, "softplus", 0.0)
    with pytest.raises(ValueError, match="activation: alpha"):
        ops.activation(x, "elu", float("nan"))
    with pytest.raises(TypeError, match="activation_backward: .*output"):
        ops.activation_backward(x, x, None, "sigmoid")
    with pytest.raises(TypeError, match="activation_backward: .*input"):
        ops.activation_backward(x, None, x, "softsign")
    with pytest.raises(ValueError, match="activation_backward: output"):
        ops.activation_backward(x, None, np.ones(4, np.float32), "tanh")
    with pytest.raises(ValueError, match="activation_backward: out"):
        ops.activation_backward(x, None, x, "tanh", out=np.ones(8, np.float32)[::1].reshape(2, 4))


def test_kind_codes_cover_the_kernel():
    assert sorted(KINDS.values()) == list(range(len(KINDS)))
