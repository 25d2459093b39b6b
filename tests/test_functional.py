"""nncore.functional: gradcheck (float64) on every differentiable function and
PyTorch parity (float32 outputs and gradients) with the same call written once
for both libraries: torch.nn.functional and nncore.functional share names,
argument order and defaults."""

import numpy as np
import pytest

import nncore
from nncore import functional as NF
from nncore import ops


pytestmark = pytest.mark.usefixtures("one_kernel_thread")

FIXED = np.random.default_rng(7)
TARGET3 = FIXED.integers(0, 4, 3)                      # class indices for (3, 4) logits
TARGET_IGNORE = np.array([1, -100, 3, 0, 2])           # with an ignored position
TARGET_SPATIAL = FIXED.integers(0, 3, (2, 4, 5))       # for (2, 3, 4, 5) logits
PROBS = FIXED.dirichlet(np.ones(4), 3)                 # class probabilities (3, 4)
SIGNS = np.where(FIXED.random((3, 4)) > 0.5, 1.0, -1.0)
UNIT = FIXED.uniform(0.05, 0.95, (3, 4))
CLASS_WEIGHT = FIXED.uniform(0.5, 2.0, 4)
INDICES = np.array([[0, 2, 4], [4, 4, 1]])


def needs(*names):
    missing = [n for n in names if not hasattr(ops, n)]
    return pytest.mark.skipif(bool(missing), reason=f"nncore.ops lacks {missing} (kernel branch not merged)")


K_CONV = needs("conv2d", "conv2d_backward")
K_CONVT = needs("conv_transpose2d", "conv_transpose2d_backward")
K_POOL = needs("max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d")
K_SOFTMAX = needs("softmax", "log_softmax", "softmax_backward")
K_CE = needs("cross_entropy_with_grad", "cross_entropy_backward")

# (name, fn(F, T, *inputs), input shapes, input kind, marks); kind 'n' normal, 'p' positive, 'u' in (0, 1)
CASES = [
    ("linear", lambda F, T, x, w, b: F.linear(x, w, b), [(3, 5), (4, 5), (4,)], "n", []),
    ("linear_3d_nobias", lambda F, T, x, w: F.linear(x, w), [(2, 3, 5), (4, 5)], "n", []),
    ("conv2d", lambda F, T, x, w, b: F.conv2d(x, w, b), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)], "n", [K_CONV]),
    ("conv2d_strided", lambda F, T, x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
     [(2, 3, 7, 6), (4, 3, 3, 3), (4,)], "n", [K_CONV]),
    ("conv2d_dilated_groups", lambda F, T, x, w: F.conv2d(x, w, None, (1, 2), (2, 1), (2, 1), 2),
     [(1, 4, 7, 8), (6, 2, 3, 2)], "n", [K_CONV]),
    ("conv2d_same", lambda F, T, x, w: F.conv2d(x, w, padding="same"), [(1, 2, 5, 6), (3, 2, 2, 3)], "n",
     [K_CONV]),
    ("conv2d_unbatched", lambda F, T, x, w: F.conv2d(x, w), [(2, 5, 5), (3, 2, 3, 3)], "n", [K_CONV]),
    ("conv_transpose2d", lambda F, T, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [(2, 3, 4, 5), (3, 2, 3, 3), (2,)], "n", [K_CONVT]),
    ("conv_transpose2d_groups", lambda F, T, x, w: F.conv_transpose2d(x, w, None, 1, 0, 0, 2, 2),
     [(1, 4, 3, 4), (4, 3, 2, 3)], "n", [K_CONVT]),
    ("max_pool2d", lambda F, T, x: F.max_pool2d(x, 2), [(2, 3, 6, 7)], "n", [K_POOL]),
    ("max_pool2d_pad_ceil", lambda F, T, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 6, 7)], "n",
     [K_POOL]),
    ("max_pool2d_dilated", lambda F, T, x: F.max_pool2d(x, 2, 1, 0, 2), [(1, 2, 6, 7)], "n", [K_POOL]),
    ("avg_pool2d", lambda F, T, x: F.avg_pool2d(x, 2), [(2, 3, 6, 7)], "n", [K_POOL]),
    ("avg_pool2d_pad", lambda F, T, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 6, 7)], "n",
     [K_POOL]),
    ("avg_pool2d_ceil_divisor", lambda F, T, x: F.avg_pool2d(x, 3, 2, 0, True, True, 5), [(1, 2, 6, 8)], "n",
     [K_POOL]),
    ("lp_pool2d_p2", lambda F, T, x: F.lp_pool2d(x, 2, 2), [(2, 3, 6, 7)], "p", [K_POOL]),
    ("lp_pool2d_p3", lambda F, T, x: F.lp_pool2d(x, 3.0, (2, 3), 1), [(1, 2, 5, 6)], "p", [K_POOL]),
    ("adaptive_avg_pool2d", lambda F, T, x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)], "n", [K_POOL]),
    ("adaptive_avg_pool2d_1", lambda F, T, x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 5)], "n", [K_POOL]),
    ("sigmoid", lambda F, T, x: F.sigmoid(x), [(3, 4)], "n", []),
    ("tanh", lambda F, T, x: F.tanh(x), [(3, 4)], "n", []),
    ("softsign", lambda F, T, x: F.softsign(x), [(3, 4)], "n", []),
    ("relu", lambda F, T, x: F.relu(x), [(3, 4)], "n", []),
    ("relu6", lambda F, T, x: F.relu6(x * 4), [(3, 4)], "n", []),
    ("softplus", lambda F, T, x: F.softplus(x), [(3, 4)], "n", []),
    ("softplus_beta_threshold", lambda F, T, x: F.softplus(x * 3, beta=2, threshold=1.5), [(3, 4)], "n", []),
    ("elu", lambda F, T, x: F.elu(x, 0.7), [(3, 4)], "n", []),
    ("leaky_relu", lambda F, T, x: F.leaky_relu(x, 0.2), [(3, 4)], "n", []),
    ("hardtanh", lambda F, T, x: F.hardtanh(x, -0.5, 0.8), [(3, 4)], "n", []),
    ("silu", lambda F, T, x: F.silu(x), [(3, 4)], "n", []),
    ("logsigmoid", lambda F, T, x: F.logsigmoid(x), [(3, 4)], "n", []),
    ("softmax", lambda F, T, x: F.softmax(x, 1), [(3, 4)], "n", [K_SOFTMAX]),
    ("softmax_dim0_3d", lambda F, T, x: F.softmax(x, 0), [(3, 4, 2)], "n", [K_SOFTMAX]),
    ("log_softmax", lambda F, T, x: F.log_softmax(x, -1), [(3, 4)], "n", [K_SOFTMAX]),
    ("log_softmax_mid", lambda F, T, x: F.log_softmax(x, 1), [(2, 5, 3)], "n", [K_SOFTMAX]),
    ("batch_norm_train", lambda F, T, x, w, b: F.batch_norm(x, T(np.zeros(3)), T(np.ones(3)), w, b, True, 0.3),
     [(4, 3, 2, 3), (3,), (3,)], "n", []),
    ("batch_norm_eval", lambda F, T, x, w, b: F.batch_norm(x, T(np.full(3, 0.2)), T(np.full(3, 1.5)), w, b),
     [(4, 3, 5), (3,), (3,)], "n", []),
    ("batch_norm_noaffine", lambda F, T, x: F.batch_norm(x, None, None, training=True), [(5, 3)], "n", []),
    ("layer_norm", lambda F, T, x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)], "n", []),
    ("layer_norm_2d", lambda F, T, x: F.layer_norm(x, (3, 4)), [(2, 3, 4)], "n", []),
    ("embedding", lambda F, T, w: F.embedding(T(INDICES), w), [(5, 3)], "n", []),
    ("embedding_padding", lambda F, T, w: F.embedding(T(INDICES), w, padding_idx=4), [(5, 3)], "n", []),
    ("normalize", lambda F, T, x: F.normalize(x), [(3, 4)], "n", []),
    ("normalize_p1_dim0", lambda F, T, x: F.normalize(x, 1.0, 0), [(3, 4)], "n", []),
    ("interpolate_scale", lambda F, T, x: F.interpolate(x, scale_factor=2), [(1, 2, 3, 4)], "n", []),
    ("interpolate_size", lambda F, T, x: F.interpolate(x, size=(5, 3)), [(1, 2, 3, 4)], "n", []),
    ("pad_constant", lambda F, T, x: F.pad(x, (1, 2, 0, 1), value=0.3), [(2, 3, 4)], "n", []),
    ("pad_reflect", lambda F, T, x: F.pad(x, (2, 1), mode="reflect"), [(2, 3, 4)], "n", []),
    ("pad_replicate", lambda F, T, x: F.pad(x, (1, 2, 2, 1), mode="replicate"), [(1, 2, 3, 4)], "n", []),
    ("dropout_eval", lambda F, T, x: F.dropout(x, 0.5, training=False), [(3, 4)], "n", []),
    ("softmin", lambda F, T, x: F.softmin(x, 1), [(3, 4)], "n", [K_SOFTMAX]),
    ("bilinear", lambda F, T, a, b, w, c: F.bilinear(a, b, w, c), [(3, 4), (3, 5), (2, 4, 5), (2,)], "n", []),
    ("kl_div_batchmean", lambda F, T, x: F.kl_div(x, T(PROBS), reduction="batchmean"), [(3, 4)], "n", []),
    ("kl_div_log_target", lambda F, T, x, y: F.kl_div(x, y, reduction="sum", log_target=True), [(3, 4), (3, 4)],
     "n", []),
    ("normalize_0d", lambda F, T, x: F.normalize(x.reshape(()) * 3, dim=0), [(1,)], "n", []),
    ("normalize_p0", lambda F, T, x: F.normalize(x, 0, 1), [(3, 4)], "n", []),
    ("normalize_p3_dim_last", lambda F, T, x: F.normalize(x, 3.0, -1), [(2, 3, 4)], "n", []),
    ("normalize_p_negative", lambda F, T, x: F.normalize(x, -1.5, 0), [(3, 4)], "n", []),
    ("normalize_p_inf", lambda F, T, x: F.normalize(x, float("inf"), 1), [(3, 4)], "n", []),
    ("pad_reflect_crop", lambda F, T, x: F.pad(x, (-1, 3, 2, -1), mode="reflect"), [(1, 2, 4, 5)], "n", []),
    ("pad_circular", lambda F, T, x: F.pad(x, (2, 1), mode="circular"), [(2, 3, 4)], "n", []),
    ("pad_circular_crop", lambda F, T, x: F.pad(x, (-1, 2, 3, -2), mode="circular"), [(1, 2, 5, 5)], "n", []),
    ("pad_circular_crop_both", lambda F, T, x: F.pad(x, (-2, -1), mode="circular"), [(1, 2, 5)], "n", []),
    ("pad_replicate_crop", lambda F, T, x: F.pad(x, (-1, 2), mode="replicate"), [(1, 2, 5)], "n", []),
    ("multi_margin_loss_one_row_none", lambda F, T, x: F.multi_margin_loss(x, T(TARGET3[:1]), reduction="none"),
     [(1, 4)], "n", []),
    ("multi_margin_loss_1d_target1_none", lambda F, T, x: F.multi_margin_loss(x, T(TARGET3[:1]), reduction="none"),
     [(4,)], "n", []),
    ("multi_margin_loss_0d", lambda F, T, x: F.multi_margin_loss(x.reshape(()), T(np.array(0))), [(1,)], "n", []),
    ("cross_entropy_probs_target_grad", lambda F, T, x, y: F.cross_entropy(x, F.softmax(y, 1)), [(3, 4), (3, 4)],
     "n", [K_CE]),
    ("cross_entropy_probs_target_grad_spatial_weight_smooth",
     lambda F, T, x, y: F.cross_entropy(x, F.softmax(y, 1), T(CLASS_WEIGHT[:3]), reduction="sum",
                                        label_smoothing=0.3), [(2, 3, 4, 2), (2, 3, 4, 2)], "n", [K_CE]),
    ("cross_entropy_probs_target_grad_none", lambda F, T, x, y: F.cross_entropy(x, y * y, reduction="none"),
     [(5, 3), (5, 3)], "n", [K_CE]),
    ("huber_loss", lambda F, T, x, y: F.huber_loss(x * 2, y, delta=0.7), [(3, 4), (3, 4)], "n", []),
    ("huber_loss_none", lambda F, T, x, y: F.huber_loss(x * 2, y, reduction="none", delta=1.5), [(3, 4), (3, 4)],
     "n", []),
]

for reduction in ("mean", "sum", "none"):
    r = reduction
    CASES += [
        (f"mse_loss_{r}", lambda F, T, x, y, r=r: F.mse_loss(x, y, reduction=r), [(3, 4), (3, 4)], "n", []),
        (f"l1_loss_{r}", lambda F, T, x, y, r=r: F.l1_loss(x, y, reduction=r), [(3, 4), (3, 4)], "n", []),
        (f"smooth_l1_loss_{r}", lambda F, T, x, y, r=r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
         [(3, 4), (3, 4)], "n", []),
        (f"hinge_embedding_loss_{r}",
         lambda F, T, x, r=r: F.hinge_embedding_loss(x, T(SIGNS), margin=0.5, reduction=r), [(3, 4)], "n", []),
        (f"multi_margin_loss_{r}", lambda F, T, x, r=r: F.multi_margin_loss(x, T(TARGET3), reduction=r),
         [(3, 4)], "n", []),
        (f"multi_margin_loss_p2_weight_{r}",
         lambda F, T, x, r=r: F.multi_margin_loss(x, T(TARGET3), 2, 0.7, T(CLASS_WEIGHT), reduction=r),
         [(3, 4)], "n", []),
        (f"binary_cross_entropy_{r}", lambda F, T, x, r=r: F.binary_cross_entropy(x, T(UNIT), reduction=r),
         [(3, 4)], "u", []),
        (f"binary_cross_entropy_weight_{r}",
         lambda F, T, x, r=r: F.binary_cross_entropy(x, T(UNIT), T(CLASS_WEIGHT), reduction=r), [(3, 4)], "u", []),
        (f"bce_with_logits_{r}", lambda F, T, x, r=r: F.binary_cross_entropy_with_logits(x, T(UNIT), reduction=r),
         [(3, 4)], "n", []),
        (f"bce_with_logits_pos_weight_{r}",
         lambda F, T, x, r=r: F.binary_cross_entropy_with_logits(x, T(UNIT), T(CLASS_WEIGHT[::-1].copy()),
                                                                 reduction=r, pos_weight=T(CLASS_WEIGHT)),
         [(3, 4)], "n", []),
        (f"nll_loss_{r}", lambda F, T, x, r=r: F.nll_loss(x, T(TARGET3), reduction=r), [(3, 4)], "n", []),
        (f"nll_loss_weight_ignore_{r}",
         lambda F, T, x, r=r: F.nll_loss(x, T(TARGET_IGNORE), T(CLASS_WEIGHT), reduction=r), [(5, 4)], "n", []),
        (f"nll_loss_spatial_{r}", lambda F, T, x, r=r: F.nll_loss(x, T(TARGET_SPATIAL), reduction=r),
         [(2, 3, 4, 5)], "n", []),
        (f"cross_entropy_{r}", lambda F, T, x, r=r: F.cross_entropy(x, T(TARGET3), reduction=r), [(3, 4)], "n",
         [K_CE]),
        (f"cross_entropy_weight_ignore_smooth_{r}",
         lambda F, T, x, r=r: F.cross_entropy(x, T(TARGET_IGNORE), T(CLASS_WEIGHT), reduction=r,
                                              label_smoothing=0.2), [(5, 4)], "n", [K_CE]),
        (f"cross_entropy_spatial_{r}", lambda F, T, x, r=r: F.cross_entropy(x, T(TARGET_SPATIAL), reduction=r),
         [(2, 3, 4, 5)], "n", [K_CE]),
        (f"cross_entropy_probs_{r}", lambda F, T, x, r=r: F.cross_entropy(x, T(PROBS), reduction=r), [(3, 4)], "n",
         [K_CE]),
    ]


def make_inputs(rng, shapes, kind):
    arrays = []
    for shape in shapes:
        if kind == "p":
            arrays.append(np.abs(rng.standard_normal(shape)) + 0.3)
        elif kind == "u":
            arrays.append(rng.uniform(0.05, 0.95, shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


def params(cases):
    return [pytest.param(fn, shapes, kind, id=name, marks=marks) for name, fn, shapes, kind, marks in cases]


def ours_T(dtype):
    def T(a):
        a = np.asarray(a)
        return nncore.tensor(a.astype(dtype) if a.dtype.kind == "f" else a)

    return T


# padding_idx rows get no gradient by definition (not the derivative)
NOT_A_DERIVATIVE = {"embedding_padding"}


@pytest.mark.parametrize("fn,shapes,kind", params([c for c in CASES if c[0] not in NOT_A_DERIVATIVE]))
def test_gradcheck(rng, fn, shapes, kind):
    inputs = [nncore.tensor(a, requires_grad=True) for a in make_inputs(rng, shapes, kind)]
    assert nncore.gradcheck(lambda *xs: fn(NF, ours_T(np.float64), *xs), inputs)


@pytest.mark.parametrize("fn,shapes,kind", params(CASES))
def test_matches_torch_float32(rng, fn, shapes, kind):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    arrays = [a.astype(np.float32) for a in make_inputs(rng, shapes, kind)]

    def torch_T(a):
        a = np.asarray(a)
        return torch.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a)

    ours = [nncore.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(NF, ours_T(np.float32), *ours)
    ref = fn(TF, torch_T, *theirs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=2e-5, atol=2e-6)
    w = np.random.default_rng(1).standard_normal(tuple(ref.shape)).astype(np.float32)
    (out * nncore.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy())
            continue
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=2e-5)


def test_batch_norm_updates_running_stats_like_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 3, 4)).astype(np.float32)
    rm, rv = nncore.zeros(3), nncore.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    NF.batch_norm(nncore.tensor(x), rm, rv, training=True, momentum=0.2)
    torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_zeroes_and_scales():
    nncore.manual_seed(0)
    x = nncore.ones(200, 100, requires_grad=True)
    y = NF.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)
    assert NF.dropout(x, 0.0) is x and NF.dropout(x, 0.5, training=False) is x
    assert not NF.dropout(x, 1.0).numpy().any()


def test_embedding_repeated_indices_accumulate():
    w = nncore.ones(4, 2, requires_grad=True)
    NF.embedding(nncore.tensor([1, 1, 3, 1]), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [0, 3, 0, 1])


def test_one_hot():
    np.testing.assert_array_equal(NF.one_hot(nncore.tensor([0, 2]), 3).numpy(), [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("call,error", [
    (lambda: NF.linear(nncore.ones(3, 4), nncore.ones(2, 5)), ValueError),
    (lambda: NF.mse_loss(nncore.ones(3), nncore.ones(4)), ValueError),
    (lambda: NF.mse_loss(nncore.ones(3), nncore.ones(3), reduction="avg"), ValueError),
    (lambda: NF.nll_loss(nncore.ones(3, 4), nncore.tensor([0, 1, 4])), IndexError),
    (lambda: NF.nll_loss(nncore.ones(3, 4), nncore.ones(3)), TypeError),
    (lambda: NF.dropout(nncore.ones(3), 1.5), ValueError),
    (lambda: NF.batch_norm(nncore.ones(1, 3), None, None, training=True), ValueError),
    (lambda: NF.layer_norm(nncore.ones(3, 4), (5,)), ValueError),
    (lambda: NF.embedding(nncore.tensor([0, 9]), nncore.ones(4, 2)), IndexError),
    (lambda: NF.interpolate(nncore.ones(1, 1, 2, 2), scale_factor=2, mode="trilinear"), ValueError),
    (lambda: NF.interpolate(nncore.ones(1, 1, 2, 2), scale_factor=2, mode="nearest", align_corners=True), ValueError),
    (lambda: NF.interpolate(nncore.ones(1, 2, 2), scale_factor=2, mode="bilinear"), ValueError),
    (lambda: NF.pad(nncore.ones(3), (1, 2, 3)), ValueError),
    (lambda: NF.binary_cross_entropy(nncore.full((2,), 1.5), nncore.ones(2)), ValueError),
    (lambda: NF.huber_loss(nncore.ones(3), nncore.zeros(3), delta=0.0), ValueError),
    (lambda: NF.huber_loss(nncore.ones(3), nncore.zeros(3), delta=-1.0), ValueError),
    (lambda: NF.smooth_l1_loss(nncore.ones(3), nncore.zeros(3), beta=-1.0), ValueError),
    (lambda: NF.hardtanh(nncore.ones(3), 1.0, -1.0), ValueError),
    (lambda: NF.normalize(nncore.ones(3), dim=1), IndexError),
    (lambda: NF.multi_margin_loss(nncore.ones(3, 4), nncore.tensor([0, 1, 2]), p=3), ValueError),
    (lambda: NF.multi_margin_loss(nncore.ones(3, 4), nncore.tensor([0, 1])), ValueError),
    (lambda: NF.multi_margin_loss(nncore.ones(3, 4), nncore.tensor([0, 1, 4])), ValueError),
    (lambda: NF.multi_margin_loss(nncore.ones(2, 3, 4), nncore.tensor([0, 1])), ValueError),
    (lambda: NF.pad(nncore.ones(1, 4), (4, 0), mode="reflect"), ValueError),
    (lambda: NF.pad(nncore.ones(1, 4), (5, 0), mode="circular"), ValueError),
    (lambda: NF.pad(nncore.ones(1, 4), (1.5, 0)), TypeError),
    (lambda: NF.pad(nncore.ones(1, 4), (1, 1), mode="wrap"), ValueError),
])
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()


@K_CONV
def test_conv2d_rejects_bad_shapes():
    with pytest.raises((ValueError, TypeError)):
        NF.conv2d(nncore.ones(1, 3, 5, 5), nncore.ones(4, 2, 3, 3))
    with pytest.raises(ValueError):
        NF.conv2d(nncore.ones(3, 5), nncore.ones(4, 3, 3, 3))


FRONT_DOORS = {
    "linear": lambda x, y: NF.linear(x, y),
    "conv2d": lambda x, y: NF.conv2d(x, y, stride=1, padding=1),
    "conv_transpose2d": lambda x, y: NF.conv_transpose2d(x, y, stride=2),
    "max_pool2d": lambda x, y: NF.max_pool2d(x, 2),
    "avg_pool2d": lambda x, y: NF.avg_pool2d(x, 3, 1, 1),
    "lp_pool2d": lambda x, y: NF.lp_pool2d(x, 2, 2),
    "adaptive_avg_pool2d": lambda x, y: NF.adaptive_avg_pool2d(x, 2),
    "softmax": lambda x, y: NF.softmax(x, -1),
    "log_softmax": lambda x, y: NF.log_softmax(x, 0),
    "cross_entropy": lambda x, y: NF.cross_entropy(x, y),
    "nll_loss": lambda x, y: NF.nll_loss(x, y),
    "mse_loss": lambda x, y: NF.mse_loss(x, y),
    "batch_norm": lambda x, y: NF.batch_norm(x, None, None, training=True),
    "layer_norm": lambda x, y: NF.layer_norm(x, tuple(y.shape[-1:])),
    "embedding": lambda x, y: NF.embedding(y, x),
    "interpolate": lambda x, y: NF.interpolate(x, scale_factor=2),
    "pad": lambda x, y: NF.pad(x, (1, 1), mode="reflect"),
}


def _random_tensor(data):
    from hypothesis import strategies as st

    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.float16, np.bool_, np.uint8]))
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=0, max_size=5)))
    arr = (np.random.default_rng(len(shape)).standard_normal(shape) * 3).astype(dtype)
    if data.draw(st.booleans()) and arr.ndim >= 2:
        arr = arr.swapaxes(0, -1)
    if data.draw(st.booleans()) and arr.ndim >= 1 and arr.shape[0] > 1:
        arr = arr[::2]
    return nncore.tensor(arr) if arr.dtype.kind != "f" else nncore.tensor(arr, requires_grad=True)


KERNEL_OF = {"conv2d": K_CONV, "conv_transpose2d": K_CONVT, "max_pool2d": K_POOL, "avg_pool2d": K_POOL,
             "lp_pool2d": K_POOL, "adaptive_avg_pool2d": K_POOL, "softmax": K_SOFTMAX, "log_softmax": K_SOFTMAX,
             "cross_entropy": K_CE}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[KERNEL_OF[n]] if n in KERNEL_OF else []) for n in FRONT_DOORS])
def test_random_wrong_inputs_raise_python_errors(name):
    """Random dtypes, ranks, shapes and strides: a result or a Python error, never a crash."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    call = FRONT_DOORS[name]

    @settings(max_examples=40, deadline=None)
    @given(st.data())
    def check(data):
        x, y = _random_tensor(data), _random_tensor(data)
        try:
            out = call(x, y)
        except (TypeError, ValueError, IndexError, RuntimeError):
            return
        for o in (out if isinstance(out, tuple) else (out,)):
            if o.requires_grad and o.numel():
                o.sum().backward()

    check()


def test_large_inputs_through_cached_buffers_match_torch(rng):
    """Arrays above the host-cache threshold take the out= paths: same results."""
    torch = pytest.importorskip("torch")
    shape = (4, 3, 80, 80)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(2)] + \
        [rng.standard_normal(3).astype(np.float32) for _ in range(2)]

    def net(F, lib, x, y, w, b):
        h = F.batch_norm(x * y - y, None, None, w, b, training=True)
        return F.relu(h + x)

    ours = [nncore.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = net(NF, nncore, *ours)
    ref = net(torch.nn.functional, torch, *theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(shape).astype(np.float32)
    for _ in range(2):  # the second pass reuses the cached buffers
        for t in ours:
            t.grad = None
        net(NF, nncore, *ours).backward(nncore.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-3, atol=1e-3)


def test_pad_reflect_on_empty_batch_and_circular_crop_values():
    empty = NF.pad(nncore.ones(0, 3, 5), (2, 2), mode="reflect")
    assert tuple(empty.shape) == (0, 3, 9)
    x = nncore.arange(5.0).reshape(1, 1, 5)
    np.testing.assert_array_equal(NF.pad(x, (-1, 2), mode="circular").numpy().ravel(), [1, 2, 3, 4, 1, 2])
    np.testing.assert_array_equal(NF.pad(x, (2, -1), mode="circular").numpy().ravel(), [2, 3, 0, 1, 2, 3])
    np.testing.assert_array_equal(NF.pad(x, (-3, 2), mode="reflect").numpy().ravel(), [3, 4, 3, 2])


@pytest.mark.parametrize("call,wshape", [
    (lambda w: NF.nll_loss(nncore.randn(3, 4, requires_grad=True), nncore.tensor([0, 1, 2]), weight=w), (4,)),
    (lambda w: NF.cross_entropy(nncore.randn(3, 4, requires_grad=True), nncore.tensor([0, 1, 2]), weight=w), (4,)),
    (lambda w: NF.multi_margin_loss(nncore.randn(3, 4, requires_grad=True), nncore.tensor([0, 1, 2]), weight=w),
     (4,)),
    (lambda w: NF.binary_cross_entropy(nncore.rand(3, 4, requires_grad=True), nncore.rand(3, 4), weight=w), (3, 4)),
], ids=["nll_loss", "cross_entropy", "multi_margin_loss", "binary_cross_entropy"])
def test_gradient_not_computed_is_an_error(call, wshape):
    """A weight that requires grad would silently get none: refused, naming it (PyTorch refuses it too)."""
    with pytest.raises(ValueError, match="weight requires grad"):
        call(nncore.rand(*wshape, requires_grad=True))
    call(nncore.rand(*wshape))
    with nncore.no_grad():
        call(nncore.rand(*wshape, requires_grad=True))


def test_cross_entropy_probability_target_gets_its_gradient():
    x = nncore.randn(3, 4, requires_grad=True)
    t = nncore.tensor(np.random.default_rng(0).dirichlet(np.ones(4), 3).astype(np.float32), requires_grad=True)
    NF.cross_entropy(x, t).backward()
    assert t.grad is not None
    logp = x.data - x.data.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    np.testing.assert_allclose(t.grad.numpy(), -logp / 3, rtol=1e-5, atol=1e-6)


@K_SOFTMAX
def test_softmin_dtype_casts_first(rng):
    x = nncore.tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    y = NF.softmin(x, 1, dtype=np.float64)
    assert y.dtype == np.float64
    e = np.exp(-x.data.astype(np.float64))
    np.testing.assert_allclose(y.numpy(), e / e.sum(1, keepdims=True), rtol=1e-12)
    y[:, 0].sum().backward()
    assert x.grad.dtype == np.float32
