"""ResNet-18/34/50 (models/resnet.py): torchvision's parameter counts and
state_dict keys, the paper's shortcut options A/B/C, logits against a PyTorch
forward with the same weights, and `nncore train resnet`."""

import numpy as np
import pytest

import nncore
from nncore import recipes
from nncore.models import resnet
from nncore.models.resnet import ZeroPadShortcut

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, count", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                         ("resnet50", 25_557_032)])
def test_parameter_counts_are_torchvisions(name, count):
    assert n_params(getattr(resnet, name)()) == count


def test_state_dict_keys_follow_torchvision():
    keys = list(resnet.resnet18().state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert "layer1.0.conv1.weight" in keys and "layer4.1.bn2.running_var" in keys
    # option B: projections only where the shape changes (first block of layer2..4)
    projections = sorted({k.split(".downsample")[0] for k in keys if ".downsample." in k})
    assert projections == ["layer2.0", "layer3.0", "layer4.0"]
    assert [k for k in keys if k.startswith("layer2.0.downsample")] == [
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias",
        "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
        "layer2.0.downsample.1.num_batches_tracked"]
    assert "layer1.0.downsample.0.weight" in resnet.resnet50().state_dict()  # 64 -> 256 channels


def test_shortcut_options():
    b = resnet.resnet18(num_classes=10)
    a = resnet.resnet18(num_classes=10, shortcut="A")
    c = resnet.resnet18(num_classes=10, shortcut="C")
    projection = {64 * 2 ** i: 64 * 2 ** (i - 1) * 64 * 2 ** i + 2 * 64 * 2 ** i for i in (1, 2, 3)}
    assert n_params(b) - n_params(a) == sum(projection.values())  # A has no parameters on its shortcuts
    assert not any(".downsample." in k for k in a.state_dict())
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    assert all(f"{blk}.downsample.0.weight" in c.state_dict() for blk in blocks)
    # C adds a 1x1 projection + BatchNorm to each of the five blocks B leaves as identity
    same = [64, 64, 128, 256, 512]
    assert n_params(c) - n_params(b) == sum(w * w + 2 * w for w in same)
    with pytest.raises(ValueError, match="shortcut"):
        resnet.resnet18(shortcut="D")
    with pytest.raises(ValueError, match="width"):
        resnet.resnet18(width=0)


def test_zero_pad_shortcut_by_hand():
    x = nncore.tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4), requires_grad=True)
    y = ZeroPadShortcut(2, 4, 2)(x)
    assert y.shape == (1, 4, 2, 2)
    np.testing.assert_array_equal(y.numpy()[0, :2], x.numpy()[0, :, ::2, ::2])
    np.testing.assert_array_equal(y.numpy()[0, 2:], 0)
    y.sum().backward()
    expected = np.zeros((1, 2, 4, 4), np.float32)
    expected[:, :, ::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def torch_resnet_forward(torch, state, x, blocks, shortcut, training):
    """ResNet with BasicBlocks written with torch.nn.functional over our state_dict's arrays."""
    F = torch.nn.functional
    sd = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}

    def bn(h, p):
        return F.batch_norm(h, sd[p + ".running_mean"].clone(), sd[p + ".running_var"].clone(), sd[p + ".weight"],
                            sd[p + ".bias"], training=training)

    h = F.max_pool2d(F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1")), 3, 2, 1)
    for stage, count in enumerate(blocks, 1):
        for i in range(count):
            p = f"layer{stage}.{i}"
            stride = 2 if stage > 1 and i == 0 else 1
            out = F.relu(bn(F.conv2d(h, sd[p + ".conv1.weight"], stride=stride, padding=1), p + ".bn1"))
            out = bn(F.conv2d(out, sd[p + ".conv2.weight"], padding=1), p + ".bn2")
            if p + ".downsample.0.weight" in sd:
                identity = bn(F.conv2d(h, sd[p + ".downsample.0.weight"], stride=stride), p + ".downsample.1")
            else:
                identity = h[:, :, ::stride, ::stride]
                identity = F.pad(identity, (0, 0, 0, 0, 0, out.shape[1] - identity.shape[1]))
            h = F.relu(out + identity)
    return F.linear(F.adaptive_avg_pool2d(h, 1).flatten(1), sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
@pytest.mark.parametrize("training", [False, True])
def test_logits_equal_pytorch_with_the_same_weights(shortcut, training, rng):
    torch = pytest.importorskip("torch")
    nncore.manual_seed(1)
    model = resnet.resnet18(num_classes=10, shortcut=shortcut, in_channels=1, width=8)
    for name, buf in model.named_buffers():  # BatchNorm statistics away from (0, 1), so eval mode tests them
        if name.endswith("running_mean"):
            buf.data[...] = rng.normal(0, 0.2, buf.shape)
        elif name.endswith("running_var"):
            buf.data[...] = rng.uniform(0.5, 2.0, buf.shape)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
    model.train(training)
    ours = model(nncore.tensor(x)).detach().numpy()
    ref = torch_resnet_forward(torch, state, torch.from_numpy(x), [2, 2, 2, 2], shortcut, training).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchvision_weights_load_by_name_and_give_its_logits(name):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    ref_model = getattr(torchvision.models, name)(num_classes=10).eval()
    with torch.no_grad():
        for m in ref_model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    reference = {k: v.numpy() for k, v in ref_model.state_dict().items()}
    model = getattr(resnet, name)(num_classes=10)
    ours = model.state_dict()
    assert list(ours) == list(reference)
    assert all(tuple(ours[k].shape) == reference[k].shape for k in reference)
    model.load_state_dict(reference)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = ref_model(x).numpy()
    with nncore.no_grad():
        got = model.eval()(nncore.tensor(x.numpy())).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_resnet_recipe_learns():
    result = recipes.train("resnet", epochs=1, shortcut="A")
    assert result.history["train_loss"][-1] < 2.0  # ln 10 = 2.30 at chance
    assert result.value > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_resnet_recipe_learns_the_digits(shortcut, tmp_path):
    result = recipes.train("resnet", shortcut=shortcut, out=tmp_path)
    assert result.value >= 0.95
    assert recipes.evaluate("resnet", result.weights).value == pytest.approx(result.value)
