"""nn.utils.fuse_conv_bn / fuse_linear_bn / fuse_conv_bn_eval: the folded layer
or model gives the eval-mode outputs of the unfolded one (float32 tolerance),
leaves the original untouched, and refuses training mode."""

import numpy as np
import pytest

import nncore
from nncore import nn
from nncore.models import resnet, vgg

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def randomise_norms(model, rng):
    """Running statistics and affine parameters far from the defaults, so a missed fold shows."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            if m.running_mean is not None:
                m.running_mean.data[...] = rng.standard_normal(c) * 0.5
                m.running_var.data[...] = rng.uniform(0.3, 3, c)
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c)
            if m.bias is not None:
                m.bias.data[...] = rng.standard_normal(c) * 0.3
    return model


def outputs(model, x):
    with nncore.no_grad():
        return model(nncore.tensor(x)).numpy()


def assert_same_outputs(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("conv_args", [dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, bias=False),
                                       dict(kernel_size=1, groups=2), dict(kernel_size=3, padding=1,
                                                                           padding_mode="reflect")])
def test_fuse_conv_bn_matches_conv_then_bn(rng, conv_args):
    conv, bn = nn.Conv2d(4, 6, **conv_args), nn.BatchNorm2d(6)
    pair = randomise_norms(nn.Sequential(conv, bn), rng).eval()
    fused = nn.utils.fuse_conv_bn(conv, bn)
    assert isinstance(fused, nn.Conv2d) and fused is not conv and fused.bias is not None
    assert fused.weight.dtype == conv.weight.dtype
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    assert_same_outputs(outputs(fused, x), outputs(pair, x))


@pytest.mark.parametrize("groups", [1, 2])
def test_fuse_conv_transpose_bn(rng, groups):
    conv, bn = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=groups), nn.BatchNorm2d(6)
    pair = randomise_norms(nn.Sequential(conv, bn), rng).eval()
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    assert_same_outputs(outputs(nn.utils.fuse_conv_bn(conv, bn), x), outputs(pair, x))


def test_fuse_linear_bn(rng):
    lin, bn = nn.Linear(5, 7), nn.BatchNorm1d(7)
    pair = randomise_norms(nn.Sequential(lin, bn), rng).eval()
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert_same_outputs(outputs(nn.utils.fuse_linear_bn(lin, bn), x), outputs(pair, x))


def test_fuse_matches_torch_fusion(rng):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.fusion import fuse_conv_bn_eval as torch_fuse

    conv, bn = nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5)
    randomise_norms(nn.Sequential(conv, bn), rng).eval()
    tconv, tbn = torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5)
    tconv.load_state_dict({k: torch.tensor(v.numpy()) for k, v in conv.state_dict().items()})
    tbn.load_state_dict({k: torch.tensor(v.numpy()) for k, v in bn.state_dict().items()})
    theirs = torch_fuse(tconv.eval(), tbn.eval())
    ours = nn.utils.fuse_conv_bn(conv, bn)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [
    lambda: resnet.resnet18(num_classes=10, width=8),
    lambda: resnet.resnet18(num_classes=10, width=8, shortcut="C"),
    lambda: resnet.resnet50(num_classes=10, width=4),
    lambda: vgg.vgg11_bn(num_classes=10, width_mult=0.125),
    lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)),
], ids=["resnet18", "resnet18_C", "resnet50", "vgg11_bn", "mlp_bn1d"])
def test_fuse_conv_bn_eval_folds_every_norm(rng, build):
    model = randomise_norms(build(), rng).eval()
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    before = outputs(model, x)
    fused = nn.utils.fuse_conv_bn_eval(model)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in fused.modules())
    assert any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules())  # the original keeps its
    assert_same_outputs(outputs(fused, x), before)
    np.testing.assert_array_equal(outputs(model, x), before)
    assert len(fused.state_dict()) < len(model.state_dict())


def test_fuse_conv_bn_eval_keeps_order_and_unfoldable_norms(rng):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4),
                          nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    model = randomise_norms(model, rng).eval()
    fused = nn.utils.fuse_conv_bn_eval(model)
    kinds = [type(m).__name__ for m in fused]
    assert kinds == ["Conv2d", "Identity", "ReLU", "BatchNorm2d", "Conv2d", "BatchNorm2d"]
    x = rng.standard_normal((3, 3, 6, 6)).astype(np.float32)
    assert_same_outputs(outputs(fused, x), outputs(model, x))


def test_fuse_refuses_training_mode_and_wrong_layers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(RuntimeError, match="eval"):
        nn.utils.fuse_conv_bn_eval(model)
    with pytest.raises(RuntimeError, match="training"):
        nn.utils.fuse_conv_bn(model[0].eval(), model[1])
    model.eval()
    with pytest.raises(TypeError, match="conv"):
        nn.utils.fuse_conv_bn(nn.Linear(3, 4), model[1])
    with pytest.raises(ValueError, match="channels"):
        nn.utils.fuse_conv_bn(model[0], nn.BatchNorm2d(5).eval())
    with pytest.raises(ValueError, match="running statistics"):
        nn.utils.fuse_conv_bn(model[0], nn.BatchNorm2d(4, track_running_stats=False).eval())
    with pytest.raises(TypeError, match="module"):
        nn.utils.fuse_conv_bn_eval(model[0].weight)
