"""VGG-11/13/16/19 and their BatchNorm variants (models/vgg.py): torchvision's
parameter counts and state_dict keys, logits against a PyTorch forward with the
same weights, and `nncore train vgg`."""

import numpy as np
import pytest

import nncore
from nncore import nn, recipes
from nncore.models import vgg

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, count", [("vgg16", 138_357_544), ("vgg19", 143_667_240)])
def test_parameter_counts_are_torchvisions(name, count):
    assert n_params(getattr(vgg, name)(init_weights=False)) == count


@pytest.mark.slow
@pytest.mark.parametrize("name, count", [("vgg11", 132_863_336), ("vgg11_bn", 132_868_840),
                                         ("vgg13", 133_047_848), ("vgg13_bn", 133_053_736),
                                         ("vgg16_bn", 138_365_992), ("vgg19_bn", 143_678_248)])
def test_parameter_counts_of_the_other_configurations(name, count):
    assert n_params(getattr(vgg, name)(init_weights=False)) == count


def test_structure_and_keys_follow_torchvision():
    model = vgg.vgg11_bn(num_classes=10, width_mult=0.125, hidden=32)
    keys = list(model.state_dict())
    assert keys[:6] == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                        "features.1.running_mean", "features.1.running_var"]
    assert keys[-6:] == ["classifier.0.weight", "classifier.0.bias", "classifier.3.weight", "classifier.3.bias",
                         "classifier.6.weight", "classifier.6.bias"]
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 32, 64, 64, 64, 64]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 5
    assert model.classifier[0].in_features == 64 * 7 * 7
    plain = vgg.vgg16(num_classes=10, width_mult=0.125, hidden=32)
    assert len(plain.features) == 13 * 2 + 5 and "features.28.weight" in plain.state_dict()
    # torchvision's initialisation: He normal (fan_out) convolutions, N(0, 0.01) dense layers, zero biases
    w = plain.classifier[0].weight.numpy()
    assert abs(w.std() - 0.01) < 0.001 and not plain.classifier[0].bias.numpy().any()
    conv = plain.features[5].weight.numpy()  # (16, 8, 3, 3)
    he_std = np.sqrt(2 / (conv.shape[0] * 9))
    assert abs(conv.std() - he_std) < 0.15 * he_std and not plain.features[5].bias.numpy().any()
    with pytest.raises(ValueError, match="width_mult"):
        vgg.vgg11(width_mult=-1)
    with pytest.raises(ValueError, match="pool_size"):
        vgg.vgg11(pool_size=0)


def torch_vgg_forward(torch, model, x):
    """Our model's layers, in order, computed by torch.nn.functional from its weights (eval mode)."""
    F = torch.nn.functional

    def t(p):
        return torch.from_numpy(p.numpy().copy())

    h = x
    for m in list(model.features) + [model.avgpool, nn.Flatten()] + list(model.classifier):
        if isinstance(m, nn.Conv2d):
            h = F.conv2d(h, t(m.weight), t(m.bias), padding=1)
        elif isinstance(m, nn.BatchNorm2d):
            h = F.batch_norm(h, t(m.running_mean), t(m.running_var), t(m.weight), t(m.bias), training=False)
        elif isinstance(m, nn.ReLU):
            h = F.relu(h)
        elif isinstance(m, nn.MaxPool2d):
            h = F.max_pool2d(h, 2, 2)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            h = F.adaptive_avg_pool2d(h, m.output_size)
        elif isinstance(m, nn.Flatten):
            h = h.flatten(1)
        elif isinstance(m, nn.Linear):
            h = F.linear(h, t(m.weight), t(m.bias))
        else:
            assert isinstance(m, nn.Dropout)
    return h.numpy()


@pytest.mark.parametrize("name, pool_size, size", [("vgg11_bn", 7, 32), ("vgg13", 2, 64), ("vgg19_bn", 1, 32)])
def test_logits_equal_pytorch_with_the_same_weights(name, pool_size, size, rng):
    torch = pytest.importorskip("torch")
    nncore.manual_seed(2)
    model = getattr(vgg, name)(num_classes=10, in_channels=1, width_mult=0.125, hidden=64, pool_size=pool_size,
                               init_weights=False)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.data[...] = rng.normal(0, 0.2, bn.num_features)
        bn.running_var.data[...] = rng.uniform(0.5, 2.0, bn.num_features)
    x = rng.standard_normal((3, 1, size, size)).astype(np.float32)
    model.eval()
    with nncore.no_grad():
        ours = model(nncore.tensor(x)).numpy()
    ref = torch_vgg_forward(torch, model, torch.from_numpy(x))
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_torchvision_weights_load_by_name_and_give_its_logits():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    ref_model = torchvision.models.vgg11_bn(num_classes=10).eval()
    with torch.no_grad():
        for m in ref_model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    reference = {k: v.numpy() for k, v in ref_model.state_dict().items()}
    model = vgg.vgg11_bn(num_classes=10, init_weights=False)
    ours = model.state_dict()
    assert list(ours) == list(reference)
    assert all(tuple(ours[k].shape) == reference[k].shape for k in reference)
    model.load_state_dict(reference)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ref = ref_model(x).numpy()
    with nncore.no_grad():
        got = model.eval()(nncore.tensor(x.numpy())).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_vgg_recipe_learns():
    result = recipes.train("vgg", epochs=2)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.value > 0.5


@pytest.mark.slow
def test_vgg_recipe_learns_the_digits(tmp_path):
    result = recipes.train("vgg", out=tmp_path)
    assert result.value >= 0.95
    assert recipes.evaluate("vgg", result.weights).value == pytest.approx(result.value)
