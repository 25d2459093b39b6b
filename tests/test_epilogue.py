"""Bias + activation fused into the conv2d and linear (GEMM) epilogues, their
backward from the output (epilogue_grad), the fused autograd nodes
(F.fused_conv2d / F.fused_linear) and Sequential's peephole fusion: float64
references, poisoned outputs, every CPU twin, finite differences, the models
fused against unfused, PyTorch as a second oracle."""

import math

import numpy as np
import pytest
from support import available_isas, isa, poisoned
from test_conv2d import ref_conv2d

import nncore
import nncore.functional as F
import nncore.nn as nn
from nncore import ops
from nncore.nn import _fusion
from nncore.ops import activation_kinds

ALL_KINDS = sorted(activation_kinds.KINDS)
FUSED_KINDS = ["relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh"]


def ref_act(z, kind, alpha=None):
    """float64 activation of the pre-activation z."""
    z = z.astype(np.float64)
    if kind == "none":
        return z
    if kind == "relu":
        return np.where(z > 0, z, 0.0)
    if kind == "relu6":
        return np.clip(z, 0.0, 6.0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, (0.01 if alpha is None else alpha) * z)
    if kind == "elu":
        return np.where(z > 0, z, (1.0 if alpha is None else alpha) * np.expm1(np.minimum(z, 0)))
    if kind == "softplus":
        b = 1.0 if alpha is None else alpha
        return np.where(z * b > 20, z, np.log1p(np.exp(np.minimum(z * b, 20))) / b)
    if kind == "softsign":
        return z / (1 + np.abs(z))
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if kind == "tanh":
        return np.tanh(z)
    raise AssertionError(kind)


def ref_act_grad(g, y, kind, alpha=None):
    """float64 g * act'(z) written with the output y = act(z)."""
    g, y = g.astype(np.float64), y.astype(np.float64)
    if kind == "relu":
        return np.where(y > 0, g, 0.0)
    if kind == "relu6":
        return np.where((y > 0) & (y < 6), g, 0.0)
    if kind == "leaky_relu":
        return np.where(y > 0, g, g * (0.01 if alpha is None else alpha))
    if kind == "elu":
        return np.where(y > 0, g, g * (y + (1.0 if alpha is None else alpha)))
    if kind == "sigmoid":
        return g * y * (1 - y)
    if kind == "tanh":
        return g * (1 - y * y)
    raise AssertionError(kind)


def rand(rng, shape, dtype=np.float32, scale=1.0):
    return (rng.uniform(-scale, scale, size=shape)).astype(dtype)


def assert_close_f32(got, want, k):
    assert np.all(np.isfinite(got)), "unwritten (NaN-poisoned) output elements"
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6 * math.sqrt(max(k, 1)) * 4)


# --- linear: act(x @ W^T + b) in the GEMM's output tiles ------------------------------

# (M, K, N) around the register tiles (AVX2 6x16, AVX-512 12x32), primes, one K past KC (512)
LINEAR_SHAPES = [(1, 1, 1), (2, 3, 5), (7, 17, 13), (6, 16, 16), (12, 31, 32), (13, 8, 33), (17, 64, 31),
                 (5, 513, 11), (64, 97, 48), (97, 29, 100)]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_linear_every_kind_matches_float64(each_isa, rng, kind):
    for m, k, n in LINEAR_SHAPES:
        x, w, b = rand(rng, (m, k)), rand(rng, (n, k)), rand(rng, (n,))
        out = poisoned((m, n))
        got = ops.linear(x, w, b, activation=kind, out=out)
        assert got is out
        want = ref_act(x.astype(np.float64) @ w.T.astype(np.float64) + b, kind)
        assert_close_f32(got, want, k)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "elu", "sigmoid"])
def test_linear_without_bias_and_with_act_alpha(each_isa, rng, kind):
    alpha = 0.3
    x, w = rand(rng, (19, 23)), rand(rng, (37, 23))
    got = ops.linear(x, w, activation=kind, act_alpha=alpha if kind in ("leaky_relu", "elu") else None)
    want = ref_act(x.astype(np.float64) @ w.T.astype(np.float64), kind,
                   alpha if kind in ("leaky_relu", "elu") else None)
    assert_close_f32(got, want, 23)


def test_linear_float64_and_threads(rng):
    x, w, b = rand(rng, (70, 300), np.float64), rand(rng, (130, 300), np.float64), rand(rng, (130,), np.float64)
    want = ref_act(x @ w.T + b, "tanh")
    before = nncore.get_num_threads()
    try:
        for threads in (1, 2):
            nncore.set_num_threads(threads)
            np.testing.assert_allclose(ops.linear(x, w, b, activation="tanh"), want, rtol=1e-12, atol=1e-12)
    finally:
        nncore.set_num_threads(before)


def test_linear_large_splits_columns_and_rows(each_isa, rng):
    """Sizes that take the threaded row split and column split of the blocked SGEMM."""
    before = nncore.get_num_threads()
    try:
        nncore.set_num_threads(2)
        for m, k, n in [(300, 200, 40), (20, 200, 700)]:
            x, w, b = rand(rng, (m, k)), rand(rng, (n, k)), rand(rng, (n,))
            got = ops.linear(x, w, b, activation="relu6", out=poisoned((m, n)))
            assert_close_f32(got, ref_act(x.astype(np.float64) @ w.T.astype(np.float64) + b, "relu6"), k)
    finally:
        nncore.set_num_threads(before)


def test_linear_k_zero_is_act_of_bias(each_isa, rng):
    b = rand(rng, (9,))
    got = ops.linear(np.zeros((4, 0), np.float32), np.zeros((9, 0), np.float32), b, activation="sigmoid")
    np.testing.assert_allclose(got, np.broadcast_to(ref_act(b, "sigmoid"), (4, 9)), rtol=1e-6)


def test_gemm_default_epilogue_is_plain_gemm(rng):
    a, b = rand(rng, (5, 7)), rand(rng, (7, 3))
    np.testing.assert_array_equal(ops.gemm(a, b), ops.linear(a, np.ascontiguousarray(b.T)))


# --- conv2d: act(conv(x, W) + b) in every forward path ---------------------------------

# (N, C, H, W, K, R, S, options): chosen to reach the implicit GEMM (tiles straddling images,
# the staged small-image layout), AVX-512's few-channel and Winograd kernels, and the portable path
CONV_CASES = [
    (2, 3, 7, 7, 5, 3, 3, dict(padding=1)),                    # staged: PQ = 49 < 32 NR
    (3, 5, 9, 11, 17, 2, 3, dict(stride=(2, 1), padding=(1, 0))),
    (1, 4, 13, 13, 2, 3, 3, dict()),                            # K = 2: portable GEMM path
    (2, 6, 10, 10, 4, 3, 3, dict(groups=2, dilation=2, padding=2)),
    (2, 8, 16, 20, 13, 3, 3, dict(padding=1)),                  # small-K kernel (Kg <= 16, Q >= 12, CRS >= 64)
    (5, 32, 12, 12, 33, 3, 3, dict(padding=1)),                 # Winograd (3x3, C, K >= 32, >= 160 tiles)
    (1, 7, 5, 5, 31, 1, 1, dict()),                             # pointwise
    (2, 20, 12, 12, 50, 5, 5, dict()),                          # LeNet's second layer
]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_conv2d_every_kind_matches_float64(each_isa, rng, kind):
    for n, c, h, w_, k, r, s, opts in CONV_CASES:
        g = opts.get("groups", 1)
        x, w, b = rand(rng, (n, c, h, w_)), rand(rng, (k, c // g, r, s), scale=0.5), rand(rng, (k,))
        ref = ref_conv2d(x, w, b, **opts)
        out = poisoned(ref.shape)
        got = ops.conv2d(x, w, b, **opts, out=out, activation=kind)
        assert got is out
        assert_close_f32(got, ref_act(ref, kind), c * r * s)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "tanh"])
def test_conv2d_without_bias_float64(rng, kind):
    x, w = rand(rng, (2, 3, 8, 6), np.float64), rand(rng, (5, 3, 3, 2), np.float64)
    got = ops.conv2d(x, w, None, padding=1, activation=kind, act_alpha=0.2 if kind == "leaky_relu" else None)
    want = ref_act(ref_conv2d(x, w, None, padding=1), kind, 0.2 if kind == "leaky_relu" else None)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_simd_twins_match_scalar(rng):
    x, w, b = rand(rng, (4, 32, 14, 14)), rand(rng, (40, 32, 3, 3), scale=0.2), rand(rng, (40,))
    with isa("scalar"):
        want = ops.conv2d(x, w, b, padding=1, activation="elu")
    for name in available_isas()[1:]:
        with isa(name):
            np.testing.assert_allclose(ops.conv2d(x, w, b, padding=1, activation="elu"), want, rtol=1e-4,
                                       atol=1e-5)


# --- epilogue_grad: g' = g act'(y) ------------------------------------------------------

@pytest.mark.parametrize("kind", FUSED_KINDS)
def test_epilogue_grad_matches_float64(each_isa, rng, kind):
    for size in [0, 1, 7, 8, 15, 16, 17, 97, 70001]:  # the last one runs on every thread
        z = rand(rng, (size,), scale=8.0)
        y = ref_act(z, kind).astype(np.float32)
        g = rand(rng, (size,))
        out = poisoned((size,))
        got = ops.epilogue_grad(g, y, kind, out=out)
        assert got is out
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, ref_act_grad(g, y, kind), rtol=1e-6, atol=1e-7)


def test_epilogue_grad_in_place_and_float64(rng):
    y = ref_act(rand(rng, (5, 6), np.float64), "elu", 0.5)
    g = rand(rng, (5, 6), np.float64)
    want = ref_act_grad(g, y, "elu", 0.5)
    assert ops.epilogue_grad(g, y, "elu", act_alpha=0.5, out=g) is g
    np.testing.assert_allclose(g, want, rtol=1e-15)


# --- bad arguments -----------------------------------------------------------------------

def test_bad_arguments_name_what_is_wrong(rng):
    x, w = rand(rng, (2, 3)), rand(rng, (4, 3))
    with pytest.raises(ValueError, match="activation must be one of"):
        ops.linear(x, w, activation="gelu")
    with pytest.raises(TypeError, match="activation must be a str"):
        ops.linear(x, w, activation=1)
    with pytest.raises(ValueError, match="act_alpha must be finite"):
        ops.linear(x, w, activation="elu", act_alpha=float("nan"))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        ops.linear(x, w, rand(rng, (3,)), activation="relu")
    with pytest.raises(ValueError, match="needs its input"):
        ops.epilogue_grad(x, x, "softplus")
    with pytest.raises(ValueError, match="output must have shape"):
        ops.epilogue_grad(x, w, "relu")
    with pytest.raises(ValueError, match="activation must be a code"):
        nncore._C.gemm(x, w, np.empty((2, 4), np.float32), False, True, 1.0, 0.0, 0, None, 99)
    xc, wc = rand(rng, (1, 2, 4, 4)), rand(rng, (2, 2, 3, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: takes no activation"):
        nncore._C.conv2d_forward(xc, wc, None, np.empty((1, 2, 6, 6), np.float32), (1, 1), (0, 0), (1, 1), 1,
                                 (0, 0), True, 0, 1)
    xt, wt = nncore.tensor(x), nncore.tensor(w)
    with pytest.raises(ValueError, match="act_alpha must be finite and >= 0"):
        F.fused_linear(xt, wt, None, "leaky_relu", -0.1)
    with pytest.raises(ValueError, match="activation must be one of relu"):
        F.fused_linear(xt, wt, None, "softplus")


# --- autograd: one node, gradients by finite differences --------------------------------

def directional_fd(f, v, d, h=1e-6):
    return (f(v + h * d) - f(v - h * d)) / (2 * h)


@pytest.mark.parametrize("kind", FUSED_KINDS)
@pytest.mark.parametrize("layer", ["linear", "conv2d"])
def test_fused_node_gradients_by_finite_differences(rng, kind, layer):
    alpha = {"leaky_relu": 0.1, "elu": 0.7}.get(kind)
    if layer == "linear":
        arrays = [rand(rng, (2, 3, 5), np.float64), rand(rng, (4, 5), np.float64), rand(rng, (4,), np.float64)]
        fused = lambda x, w, b: F.fused_linear(x, w, b, kind, alpha)
    else:
        arrays = [rand(rng, (2, 4, 6, 5), np.float64), rand(rng, (6, 2, 3, 2), np.float64),
                  rand(rng, (6,), np.float64)]
        fused = lambda x, w, b: F.fused_conv2d(x, w, b, stride=(2, 1), padding=1, groups=2, activation=kind,
                                               act_alpha=alpha)
    # keep pre-activations away from the kinks of relu / relu6 / leaky relu, where differences jump
    arrays[0] *= 3
    tensors = [nncore.tensor(a, requires_grad=True) for a in arrays]
    y = fused(*tensors)
    gy = rand(rng, y.shape, np.float64)
    (y * nncore.tensor(gy)).sum().backward()
    assert y._node is not None and len(y._node.inputs) == 3  # one node over input, weight and bias
    loss = lambda *a: float(np.sum(fused(*[nncore.tensor(v) for v in a]).numpy() * gy))
    for i, t in enumerate(tensors):
        for _ in range(2):
            d = rand(rng, arrays[i].shape, np.float64)
            args = lambda v: [v if j == i else arrays[j] for j in range(3)]
            fd = directional_fd(lambda v: loss(*args(v)), arrays[i], d)
            assert np.isclose(fd, np.sum(t.grad.numpy() * d), rtol=1e-6, atol=1e-6), (i, kind)


def test_fused_equals_unfused_with_torch_as_second_oracle(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rand(rng, (8, 20, 12, 12)), rand(rng, (50, 20, 5, 5), scale=0.1), rand(rng, (50,))
    y = F.fused_conv2d(nncore.tensor(x), nncore.tensor(w), nncore.tensor(b), activation="relu").numpy()
    ty = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)))
    np.testing.assert_allclose(y, ty.numpy(), rtol=1e-4, atol=1e-5)
    x, w, b = rand(rng, (16, 78)), rand(rng, (33, 78)), rand(rng, (33,))
    y = F.fused_linear(nncore.tensor(x), nncore.tensor(w), nncore.tensor(b), "leaky_relu", 0.2).numpy()
    ty = torch.nn.functional.leaky_relu(torch.from_numpy(x) @ torch.from_numpy(w).T + torch.from_numpy(b), 0.2)
    np.testing.assert_allclose(y, ty.numpy(), rtol=1e-4, atol=1e-5)


# --- Sequential peephole: models fused against unfused ---------------------------------

def _models():
    from nncore.models import cnn, gan, mlp, vgg

    cases = [
        ("lenet", lambda: cnn.LeNet(), (4, 1, 32, 32)),
        ("allconv", lambda: cnn.AllConvNet(in_channels=3, num_classes=10, widths=(8, 16)), (2, 3, 16, 16)),
        ("vgg", lambda: vgg.VGG(vgg.make_layers([8, "M", 16, "M"]), num_classes=10, hidden=32, pool_size=2),
         (2, 3, 16, 16)),
        ("gan_g", lambda: gan.mlp_generator(nz=8, out_features=20, hidden=16, depth=2), (5, 8)),
        ("gan_d", lambda: gan.MLPDiscriminator(in_features=20, hidden=16, depth=2), (6, 20)),
        ("dcgan_d", lambda: gan.DCGANDiscriminator(ndf=4, nc=3, image_size=16), (2, 3, 16, 16)),
        ("mlp_tanh", lambda: mlp.MLP(10, [13, 7], 3, activation="tanh"), (9, 10)),
        ("mlp_sigmoid", lambda: mlp.MLP(10, [13], 3, activation="sigmoid"), (9, 10)),
    ]
    return cases


@pytest.mark.parametrize("name,build,shape", _models(), ids=[c[0] for c in _models()])
def test_models_fused_equal_unfused(rng, monkeypatch, name, build, shape):
    nncore.manual_seed(7)
    model = build()
    model.eval()  # dropout off, so both runs see the same function
    x = rand(rng, shape)
    calls = []
    real = _fusion.fused_call

    def counting(layer, act, input):
        y = real(layer, act, input)
        calls.append(y is not None)
        return y

    def run(fuse):
        monkeypatch.setattr(_fusion, "fused_call", counting if fuse else (lambda *a: None))
        model.zero_grad()
        xt = nncore.tensor(x, requires_grad=True)
        y = model(xt)
        y.backward(nncore.tensor(np.cos(np.arange(y.numel()).reshape(y.shape)).astype(np.float32)))
        return y.numpy().copy(), xt.grad.numpy().copy(), [p.grad.numpy().copy() for p in model.parameters()]

    y0, gx0, gp0 = run(False)
    y1, gx1, gp1 = run(True)
    assert any(calls), f"{name}: no Conv2d / Linear + activation pair was fused"
    scale = lambda a: max(float(np.abs(a).max()), 1e-30)
    assert np.abs(y1 - y0).max() <= 1e-5 * scale(y0)
    assert np.abs(gx1 - gx0).max() <= 1e-5 * scale(gx0)
    for a, b in zip(gp1, gp0):
        assert np.abs(a - b).max() <= 1e-5 * scale(b)


def test_peephole_skips_what_it_must_not_fuse(rng):
    nncore.manual_seed(3)
    x = nncore.tensor(rand(rng, (3, 4)))
    seen = []

    class Hooked(nn.Linear):
        pass

    slope_negative = nn.Sequential(nn.Linear(4, 5), nn.LeakyReLU(-0.5))
    subclass = nn.Sequential(Hooked(4, 5), nn.ReLU())
    patched = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
    patched[1].forward = lambda t: seen.append(1) or F.relu(t)
    for seq in (slope_negative, subclass, patched):
        assert _fusion.fused_call(seq[0], seq[1], x) is None
        want = seq[1](seq[0](x)).numpy()
        np.testing.assert_array_equal(seq(x).numpy(), want)
    assert seen  # the patched forward ran
    assert _fusion.fused_call(nn.Linear(4, 5), nn.ReLU(), x) is not None
    assert _fusion.fused_call(nn.Linear(4, 5), nn.Softplus(), x) is None
    assert _fusion.fused_call(nn.Linear(4, 5), nn.ReLU(), nncore.tensor(np.ones((3, 4), np.int64))) is None
