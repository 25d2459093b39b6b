"""LeNet-5, All-CNN-C and the deconvnet (models/cnn.py), and the cnn / allconv
recipes on the real digits (recipes/cnn.py)."""

import numpy as np
import pytest

import nncore
from nncore import nn, recipes
from nncore.data import digits_datasets
from nncore.models import AllConvNet, LeNet, all_cnn_c
from nncore.models.cnn import deconvnet, max_unpool
from nncore.recipes.cnn import digits_classifier

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_lenet_shapes_and_parameter_count():
    model = LeNet()
    # conv 1->6 5x5, conv 6->16 5x5, 400->120, 120->84, 84->10 (weights + biases)
    assert n_params(model) == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert model(nncore.randn(3, 1, 32, 32)).shape == (3, 10)
    assert LeNet(num_classes=5, in_channels=3)(nncore.randn(2, 3, 32, 32)).shape == (2, 5)
    assert sum(isinstance(m, nn.Dropout) for m in LeNet(dropout=0.3).modules()) == 2
    with pytest.raises(ValueError, match="input must be"):
        model(nncore.randn(2, 1, 28, 28))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        model(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="num_classes"):
        LeNet(num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        LeNet(dropout=1.0)


def test_all_cnn_c_is_the_papers_network():
    model = all_cnn_c()
    assert n_params(model) == 1_369_738
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (96, (3, 3), (1, 1), (1, 1)), (96, (3, 3), (1, 1), (1, 1)), (96, (3, 3), (2, 2), (1, 1)),
        (192, (3, 3), (1, 1), (1, 1)), (192, (3, 3), (1, 1), (1, 1)), (192, (3, 3), (2, 2), (1, 1)),
        (192, (3, 3), (1, 1), (0, 0)), (192, (1, 1), (1, 1), (0, 0)), (10, (1, 1), (1, 1), (0, 0))]
    assert [m.p for m in model.features if isinstance(m, nn.Dropout)] == [0.2, 0.5, 0.5]
    assert not any(isinstance(m, (nn.Linear, nn.MaxPool2d)) for m in model.modules())
    small = all_cnn_c(in_channels=1, width_mult=0.25)
    assert small.widths == (24, 48)
    assert not any(isinstance(m, nn.Dropout) for m in all_cnn_c(dropout=False).modules())
    small.eval()
    with nncore.no_grad():
        assert small(nncore.randn(2, 1, 32, 32)).shape == (2, 10)
        assert small(nncore.randn(1, 1, 9, 9)).shape == (1, 10)
        # the logits are the spatial means of the class maps
        x = nncore.randn(2, 1, 16, 16)
        np.testing.assert_allclose(small(x).numpy(), small.features(x).numpy().mean(axis=(2, 3)), rtol=1e-5,
                                   atol=1e-6)
    with pytest.raises(ValueError, match="at least 9"):
        small(nncore.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="width_mult"):
        all_cnn_c(width_mult=0)
    assert isinstance(small, AllConvNet)


# ---------------------------------------------------------------- deconvnet against float64 NumPy
def conv_np(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    k, _, r, s = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    oh, ow = (h + 2 * pad - r) // stride + 1, (wd + 2 * pad - s) // stride + 1
    out = np.zeros((n, k, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + r, j * stride:j * stride + s]
            out[:, :, i, j] = np.einsum("ncrs,kcrs->nk", patch, w) + b
    return out


def conv_transpose_np(g, w, stride, pad, in_hw):
    """The adjoint of conv_np: each output position spreads g * w back over its window."""
    n, k, oh, ow = g.shape
    _, c, r, s = w.shape
    h, wd = in_hw
    out = np.zeros((n, c, h + 2 * pad + r, wd + 2 * pad + s))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i * stride:i * stride + r, j * stride:j * stride + s] += np.einsum("nk,kcrs->ncrs",
                                                                                         g[:, :, i, j], w)
    return out[:, :, pad:pad + h, pad:pad + wd]


def pool_np(x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = windows.argmax(-1)
    rows = np.arange(h // 2)[:, None] * 2 + arg // 2
    cols = np.arange(w // 2)[None, :] * 2 + arg % 2
    return windows.max(-1), rows * w + cols


def test_max_unpool_places_values_at_the_switches():
    values = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32)
    switches = np.array([[[[0, 3], [13, 10]]]])
    out = max_unpool(values, switches, (1, 1, 4, 4))
    expected = np.zeros(16, np.float32)
    expected[[0, 3, 13, 10]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(out.reshape(-1), expected)
    # positions shared by overlapping windows add up
    np.testing.assert_array_equal(max_unpool(values, np.zeros((1, 1, 2, 2), np.int64), (1, 1, 2, 2)),
                                  [[[[10, 0], [0, 0]]]])


def test_deconvnet_matches_numpy(rng):
    nncore.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU())
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    w1, b1 = (features[0].weight.detach().numpy().astype(np.float64), features[0].bias.detach().numpy())
    w2, b2 = (features[3].weight.detach().numpy().astype(np.float64), features[3].bias.detach().numpy())
    # up: conv, relu, pool (switches), strided conv, relu
    a1 = np.maximum(conv_np(x.astype(np.float64), w1, b1, 1, 1), 0)
    p1, switches = pool_np(a1)
    a2 = np.maximum(conv_np(p1, w2, b2, 2, 1), 0)  # (2, 4, 2, 2)
    unit = 2
    # down: keep the unit's strongest activation, rectify, transposed filters, unpool, rectify, transposed filters
    top = np.zeros_like(a2)
    for n in range(2):
        i = a2[n, unit].argmax()
        top[n, unit].flat[i] = a2[n, unit].flat[i]
    g = conv_transpose_np(np.maximum(top, 0), w2, 2, 1, (4, 4))
    g = np.maximum(max_unpool(g, switches, (2, 3, 8, 8)), 0)
    expected = conv_transpose_np(g, w1, 1, 1, (8, 8))

    got = deconvnet(features, x, layer=4, unit=unit)
    assert got.shape == (2, 1, 8, 8)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_deconvnet_bad_arguments():
    features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2))
    x = np.zeros((1, 1, 6, 6), np.float32)
    with pytest.raises(ValueError, match="layer"):
        deconvnet(features, x, layer=3, unit=0)
    with pytest.raises(ValueError, match="unit"):
        deconvnet(features, x, layer=1, unit=2)
    with pytest.raises(TypeError, match="BatchNorm2d"):
        deconvnet(features, x, layer=2, unit=0)


# ---------------------------------------------------------------- recipes
def test_cnn_recipe_learns_and_its_weights_reload(tmp_path):
    result = recipes.train("cnn", epochs=3, out=tmp_path)
    history = result.history
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert result.value > 0.8  # chance is 0.1
    for name in ("learning_curves", "filters", "feature_maps", "deconvnet"):
        assert (tmp_path / f"cnn_{name}.png").stat().st_size > 5_000
    assert recipes.evaluate("cnn", result.weights).value == pytest.approx(result.value)

    model = digits_classifier(weights=result.weights)
    assert not model.training
    _, test_set = digits_datasets(size=32)
    x, y = test_set[np.arange(len(test_set))]
    with nncore.no_grad():
        logits = model(nncore.tensor(x)).numpy()
    assert logits.shape == (len(y), 10)
    assert (logits.argmax(1) == y).mean() == pytest.approx(result.value)
    with pytest.raises(recipes.RecipeError, match="not 'cnn'"):
        digits_classifier(weights=recipes.train("perceptron", out=tmp_path / "p").weights)


def test_digits_classifier_is_what_the_cnn_recipe_trains(tmp_path):
    model = digits_classifier(seed=1, epochs=1)
    saved = nncore.load(recipes.train("cnn", seed=1, epochs=1, out=tmp_path).weights, as_tensors=False)
    state = model.state_dict()
    for key, value in saved["state"]["model"].items():
        np.testing.assert_array_equal(state[key].numpy(), value, err_msg=key)


def test_allconv_recipe_learns():
    result = recipes.train("allconv", epochs=2)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.value > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn", "allconv"])
def test_recipe_reaches_the_target(name, tmp_path):
    result = recipes.train(name, out=tmp_path)
    assert result.value >= 0.985
    assert recipes.evaluate(name, result.weights).value == pytest.approx(result.value)
