"""Convolutional classifiers of the notebook: LeNet-5 (LeCun et al., 1998) for
(N, 1, 32, 32) images, and the All-Convolutional net of Springenberg et al.
(2015, "Striving for Simplicity"): strided 3x3 convolutions instead of pooling,
1x1 convolutions and global average pooling instead of dense layers.

`deconvnet` reconstructs, in the manner of Zeiler & Fergus (2014), the input
pattern one unit of a deep layer responds to: the unit's activation is sent back
through the layers, max-pooling undone with the switches recorded on the way up,
rectified, and each convolution undone by its transposed filters
(conv_transpose2d)."""

import numbers

import numpy as np

import nncore
from .. import functional as F
from .. import nn


class LeNet(nn.Module):
    """LeNet-5 for (N, in_channels, 32, 32) inputs -> (N, num_classes) logits.

    features: conv 5x5 (6) -> ReLU -> max-pool 2 -> conv 5x5 (16) -> ReLU -> max-pool 2
    classifier: 16*5*5 -> 120 -> 84 -> num_classes (ReLU between; dropout before
    each hidden Linear when dropout > 0). ReLU and max-pooling replace the 1998
    paper's scaled tanh and trainable subsampling."""

    def __init__(self, num_classes=10, in_channels=1, dropout=0.0):
        super().__init__()
        _check_positive(num_classes=num_classes, in_channels=in_channels)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LeNet: dropout must be in [0, 1), got {dropout!r}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 5, 5)
        )
        hidden = []
        for a, b in ((16 * 5 * 5, 120), (120, 84)):
            if dropout > 0:
                hidden.append(nn.Dropout(dropout))
            hidden += [nn.Linear(a, b), nn.ReLU()]
        self.classifier = nn.Sequential(*hidden, nn.Linear(84, num_classes))

    def forward(self, x):
        x = _check_input(x, "LeNet", self.features[0].in_channels, (32, 32))
        return self.classifier(self.features(x).flatten(1))


class AllConvNet(nn.Module):
    """All-CNN-C (Springenberg et al., table 2) with `widths` = (96, 192) at full
    size, for (N, in_channels, H, W) inputs (H, W >= 9; 32 in the paper):

        dropout 0.2 (input)
        3x3 conv w1 ReLU, 3x3 conv w1 ReLU, 3x3 conv w1 ReLU stride 2     (H/2)
        dropout 0.5
        3x3 conv w2 ReLU, 3x3 conv w2 ReLU, 3x3 conv w2 ReLU stride 2     (H/4)
        dropout 0.5
        3x3 conv w2 ReLU (no padding)                                     (H/4 - 2)
        1x1 conv w2 ReLU, 1x1 conv num_classes
        global average pooling -> (N, num_classes) logits

    `features` holds every layer up to the class maps. The paper's table also
    rectifies the class maps; without batch normalisation that lets a class's
    map die for every input early in training (its logit then stays 0 and gets
    no gradient), so the class maps here are linear, as in most
    reimplementations. Convolutions start from He (kaiming) normal weights and
    zero biases, which this 9-layer net without normalisation needs to start
    learning promptly."""

    def __init__(self, num_classes=10, in_channels=3, widths=(96, 192), dropout=True):
        super().__init__()
        _check_positive(num_classes=num_classes, in_channels=in_channels)
        w1, w2 = widths
        _check_positive(widths=w1, **{"widths[1]": w2})

        def conv(a, b, k=3, stride=1, padding=1):
            return [nn.Conv2d(a, b, k, stride=stride, padding=padding), nn.ReLU()]

        def drop(p):
            return [nn.Dropout(p)] if dropout else []

        self.features = nn.Sequential(
            *drop(0.2),
            *conv(in_channels, w1), *conv(w1, w1), *conv(w1, w1, stride=2),  # (N, w1, H/2, W/2)
            *drop(0.5),
            *conv(w1, w2), *conv(w2, w2), *conv(w2, w2, stride=2),  # (N, w2, H/4, W/4)
            *drop(0.5),
            *conv(w2, w2, padding=0),  # (N, w2, H/4 - 2, W/4 - 2)
            *conv(w2, w2, k=1, padding=0),
            nn.Conv2d(w2, num_classes, 1),  # (N, num_classes, H/4 - 2, W/4 - 2)
        )
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.in_channels = in_channels
        self.widths = (w1, w2)

    def forward(self, x):
        x = _check_input(x, "AllConvNet", self.in_channels, None)
        if min(x.shape[2:]) < 9:
            raise ValueError(f"AllConvNet: input height and width must be at least 9, got {tuple(x.shape[2:])}")
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


def all_cnn_c(num_classes=10, in_channels=3, width_mult=1.0, dropout=True):
    """All-CNN-C; at the defaults the CIFAR-10 network of the paper (1,369,738
    parameters). width_mult scales both widths (0.25 gives 24 and 48 channels,
    enough for the digits)."""
    if not isinstance(width_mult, numbers.Real) or not width_mult > 0:
        raise ValueError(f"all_cnn_c: width_mult must be positive, got {width_mult!r}")
    widths = tuple(max(1, int(round(w * width_mult))) for w in (96, 192))
    return AllConvNet(num_classes, in_channels, widths, dropout)


# ---------------------------------------------------------------- deconvnet
def deconvnet(features, x, layer, unit, position=None):
    """Zeiler & Fergus' deconvnet on a Sequential of Conv2d / ReLU / MaxPool2d
    (Dropout and Identity pass through): runs x (N, C, H, W) up to and including
    features[layer], keeps only channel `unit` at its strongest position in each
    image (or at `position` (row, col)), and projects that activation back to
    pixel space: max-unpooling with the recorded switches, ReLU, then
    conv_transpose2d with the layer's own filters (no bias). Put the model in
    eval mode first (Dropout then passes through). Returns the reconstructions
    (N, C, H, W) as a NumPy array."""
    layers = list(features)
    if not 0 <= layer < len(layers):
        raise ValueError(f"deconvnet: layer must index features (0..{len(layers) - 1}), got {layer!r}")
    trace = []  # (module, input shape, max-pool switches or None) for the layers run
    with nncore.no_grad():
        h = x if isinstance(x, nncore.Tensor) else nncore.tensor(np.ascontiguousarray(x, np.float32))
        for module in layers[:layer + 1]:
            switches = None
            if isinstance(module, nn.MaxPool2d):
                out, switches = F.max_pool2d(h, module.kernel_size, module.stride, module.padding, module.dilation,
                                             module.ceil_mode, return_indices=True)
            elif isinstance(module, (nn.Conv2d, nn.ReLU, nn.Dropout, nn.Identity)):
                out = module(h)
            else:
                raise TypeError(f"deconvnet: cannot invert {type(module).__name__}")
            trace.append((module, tuple(h.shape), switches))
            h = out
        top = h.cpu().numpy()  # (N, K, h, w)
        if not 0 <= unit < top.shape[1]:
            raise ValueError(f"deconvnet: unit must be a channel of layer {layer} (0..{top.shape[1] - 1}), got {unit}")
        signal = np.zeros_like(top)
        n = np.arange(len(top))
        plane = top[:, unit].reshape(len(top), -1)
        where = plane.argmax(1) if position is None else np.full(len(top), position[0] * top.shape[3] + position[1])
        signal[:, unit].reshape(len(top), -1)[n, where] = plane[n, where]
        g = nncore.tensor(signal)
        for module, shape, switches in reversed(trace):
            if isinstance(module, nn.MaxPool2d):
                g = nncore.tensor(max_unpool(g.numpy(), switches.numpy(), shape))
            elif isinstance(module, nn.ReLU):
                g = F.relu(g)
            elif isinstance(module, nn.Conv2d):
                g = F.conv_transpose2d(g, module.weight, None, module.stride, module.padding,
                                       _output_padding(g.shape, shape, module), module.groups, module.dilation)
        return g.numpy()


def max_unpool(values, switches, shape):
    """Places values (N, C, h, w) at the positions switches (N, C, h, w) hold
    (index h * W + w into each (H, W) plane of `shape`), zeros elsewhere;
    values sharing a position add up."""
    n, c, hh, ww = shape
    out = np.zeros((n * c, hh * ww), values.dtype)
    rows = np.repeat(np.arange(n * c), values.shape[2] * values.shape[3])
    np.add.at(out, (rows, switches.reshape(-1)), values.reshape(-1))
    return out.reshape(shape)


def _output_padding(out_shape, in_shape, conv):
    """The output_padding that makes conv_transpose2d give back in_shape."""
    pad = []
    for d in range(2):
        least = ((out_shape[2 + d] - 1) * conv.stride[d] - 2 * conv.padding[d]
                 + conv.dilation[d] * (conv.kernel_size[d] - 1) + 1)
        pad.append(in_shape[2 + d] - least)
    return tuple(pad)


def _check_positive(**values):
    for name, v in values.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _check_input(x, model, channels, size):
    if not isinstance(x, nncore.Tensor):
        raise TypeError(f"{model}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels or (size is not None and tuple(x.shape[2:]) != size):
        want = f"(N, {channels}, {size[0]}, {size[1]})" if size else f"(N, {channels}, H, W)"
        raise ValueError(f"{model}: input must be {want}, got {tuple(x.shape)}")
    return x
