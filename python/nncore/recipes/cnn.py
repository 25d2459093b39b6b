"""`nncore train cnn` and `nncore train allconv`: LeNet-5 on the real digits
upsampled to 32x32 and the All-Convolutional net (a quarter of All-CNN-C's
widths) on them upsampled to 16x16 (pixels in [0, 1]), trained with Adam, a
cosine schedule, label smoothing and random shifts of half an original pixel.
Pictures: learning curves, the first layer's filters, feature maps of one test
digit, and deconvnet reconstructions (Zeiler & Fergus) of what units of a deep
layer respond to in the test images exciting them most.

`digits_classifier()` gives the trained LeNet to other recipes (the DCGAN's
samples are labelled with it)."""

import numpy as np

import nncore
from .. import nn, optim
from ..data import digits_datasets, transforms
from ..models.cnn import LeNet, all_cnn_c, deconvnet
from . import Option, Trained, evaluator, load_weights, recipe
from ._common import draw_learning_curves, evaluate_classifier, fit_classifier
from ._run import Run

CNN_EPOCHS, CNN_BATCH, CNN_LR = 30, 32, 2e-3


def fit_digits(run, model, size=32, shift=2, label_smoothing=0.1):
    """Trains `model` on the digits upsampled to size x size with Adam (run.lr)
    and a cosine schedule over run.epochs, label smoothing and random shifts of
    up to `shift` pixels (data parallel under `--distributed`); returns (test
    accuracy, test set)."""
    train_set, test_set = digits_datasets(size=size)
    opt = optim.Adam(model.parameters(), lr=run.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
    augment = transforms.RandomAffineShift(shift, generator=run.rng(2)) if shift else None
    accuracy = fit_classifier(run, run.parallel(model), train_set, test_set, opt, scheduler=sched, augment=augment,
                              label_smoothing=label_smoothing)
    return accuracy, test_set


def train_lenet(run):
    """The cnn recipe's training: LeNet-5 from the run's seed; returns (model, test accuracy, test set)."""
    model = LeNet().to(run.device)
    accuracy, test_set = fit_digits(run, model, shift=run.options.get("shift", 2))
    return model, accuracy, test_set


@recipe("cnn", "LeNet-5 on the digits at 32x32: filters, feature maps and deconvnet reconstructions",
        metric="digits test accuracy", epochs=CNN_EPOCHS, batch_size=CNN_BATCH, lr=CNN_LR,
        options={"shift": Option(2, "random shift of training images, in pixels (0 turns it off)")},
        distributed=True)
def train_cnn(run):
    model, accuracy, test_set = train_lenet(run)
    _pictures(run, model, test_set, "cnn", "LeNet-5", deep_layer=5)
    return Trained(accuracy, {"model": model.state_dict()})


@evaluator("cnn")
def evaluate_cnn(run, state):
    model = LeNet()
    model.load_state_dict(state["model"])
    return evaluate_classifier(model.to(run.device), digits_datasets(size=32)[1], run)[1]


def digits_classifier(seed=0, epochs=None, weights=None):
    """A trained LeNet-5 in eval mode: (N, 1, 32, 32) float32 images with pixels in
    [0, 1] (digits_datasets(size=32)) -> (N, 10) logits. Trained here by the cnn
    recipe's own code (seed, epochs: its defaults when None), or loaded from a
    cnn.npz that `nncore train cnn` wrote, when `weights` is given."""
    model = LeNet()
    if weights is not None:
        model.load_state_dict(load_weights("cnn", weights)["state"]["model"])
        return model.eval()
    key = (seed, epochs)
    if key not in _TRAINED:
        run = Run("cnn", epochs or CNN_EPOCHS, CNN_BATCH, CNN_LR, seed, options={"shift": 2})
        nncore.manual_seed(seed)
        _TRAINED[key] = train_lenet(run)[0].state_dict()
    model.load_state_dict(_TRAINED[key])
    return model.eval()


_TRAINED = {}  # (seed, epochs) -> state_dict of the LeNets digits_classifier trained in this process


ALLCONV_SIZE = 16


def allconv_model(options):
    return all_cnn_c(num_classes=10, in_channels=1, width_mult=options["width_mult"], dropout=options["dropout"])


@recipe("allconv", "the All-Convolutional net (strided convs, 1x1 convs, global average pooling) on the digits",
        metric="digits test accuracy", epochs=20, batch_size=32, lr=2e-3,
        options={"width_mult": Option(0.25, "channel widths as a fraction of All-CNN-C's 96 and 192"),
                 "dropout": Option(False, "the paper's dropout (0.2 on the input, 0.5 after each stride-2 conv)")},
        distributed=True)
def train_allconv(run):
    model = allconv_model(run.options).to(run.device)
    accuracy, test_set = fit_digits(run, model, size=ALLCONV_SIZE, shift=1)
    last_3x3 = max(i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    _pictures(run, model, test_set, "allconv", f"All-CNN-C (width x{run.options['width_mult']})",
              deep_layer=last_3x3 + 1)
    return Trained(accuracy, {"model": model.state_dict()})


@evaluator("allconv")
def evaluate_allconv(run, state):
    model = allconv_model(run.options)
    model.load_state_dict(state["model"])
    return evaluate_classifier(model.to(run.device), digits_datasets(size=ALLCONV_SIZE)[1], run)[1]


# ---------------------------------------------------------------- pictures
def _pictures(run, model, test_set, name, title, deep_layer):
    """Learning curves, first-layer filters, feature maps and deconvnet
    reconstructions for unit(s) of features[deep_layer]."""
    if run.out is None:
        return
    model = model.cpu().eval()
    x, y = test_set[np.arange(len(test_set))]
    run.picture(f"{name}_learning_curves", draw_learning_curves, run.history,
                f"{title} on the digits ({x.shape[2]}x{x.shape[3]})")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    run.picture(f"{name}_filters", _draw_filters, convs[0].weight.detach().numpy(), title)
    run.picture(f"{name}_feature_maps", _draw_feature_maps, model.features, x[:1], title)
    run.picture(f"{name}_deconvnet", _draw_deconvnet, model.features, x, deep_layer, title)


def _draw_filters(fig, weight, title):
    """weight (K, 1, kh, kw): each filter as an image (its own colour scale)."""
    k = len(weight)
    cols = min(k, 8)
    rows = -(-k // cols)
    fig.set_size_inches(1.2 * cols, 1.3 * rows + 0.4)
    for i in range(k):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(weight[i, 0], cmap="gray")
        ax.set_axis_off()
    fig.suptitle(f"{title}: first-layer filters ({weight.shape[2]}x{weight.shape[3]})")


def _draw_feature_maps(fig, features, image, title, per_layer=8):
    """The input digit (1, 1, H, W) and up to per_layer maps after each ReLU."""
    maps = []
    with nncore.no_grad():
        h = nncore.tensor(image)
        for i, module in enumerate(features):
            h = module(h)
            if isinstance(module, nn.ReLU):
                maps.append((i, h.numpy()[0]))
    fig.set_size_inches(1.2 * (per_layer + 1), 1.3 * len(maps))
    grid = fig.add_gridspec(len(maps), per_layer + 1)
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(image[0, 0], cmap="gray")
    ax.set_title("input")
    ax.set_axis_off()
    for r, (i, m) in enumerate(maps):
        for c in range(min(per_layer, len(m))):
            ax = fig.add_subplot(grid[r, c + 1])
            ax.imshow(m[c], cmap="viridis")
            ax.set_axis_off()
            if c == 0:
                ax.set_title(f"layer {i}: {m.shape[1]}x{m.shape[2]}", fontsize=7, loc="left")
    fig.suptitle(f"{title}: feature maps of a test digit (first {per_layer} channels after each ReLU)")


def _draw_deconvnet(fig, features, images, layer, title, units=4, top=4):
    """For the `units` most active channels of features[layer], the `top` test
    images that excite each most, beside the deconvnet reconstruction of that
    unit's strongest activation."""
    with nncore.no_grad():
        h = nncore.tensor(images)
        for module in list(features)[:layer + 1]:
            h = module(h)
    peak = h.numpy().max(axis=(2, 3))  # (N, K): each image's strongest activation of each unit
    chosen = np.argsort(-peak.max(0))[:units]
    fig.set_size_inches(1.1 * 2 * top, 1.25 * units + 0.5)
    for r, unit in enumerate(chosen):
        best = np.argsort(-peak[:, unit])[:top]
        recon = deconvnet(features, images[best], layer, int(unit))
        for c, i in enumerate(best):
            ax = fig.add_subplot(units, 2 * top, r * 2 * top + 2 * c + 1)
            ax.imshow(images[i, 0], cmap="gray")
            ax.set_axis_off()
            ax = fig.add_subplot(units, 2 * top, r * 2 * top + 2 * c + 2)
            lim = np.abs(recon[c, 0]).max() + 1e-12
            ax.imshow(recon[c, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_axis_off()
            if c == 0:
                ax.set_title(f"unit {unit}", fontsize=7, loc="left")
    fig.suptitle(f"{title}: deconvnet projections of units of layer {layer} ({type(features[layer]).__name__}) "
                 f"beside the test digits exciting them most")
