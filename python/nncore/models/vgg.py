"""VGG (Simonyan & Zisserman, 2015): stacks of 3x3 convolutions (padding 1) and
2x2 max-pooling, then three fully connected layers. Configurations A, B, D, E
are VGG-11, -13, -16, -19; the `_bn` variants put BatchNorm after each
convolution. Layer indices, state_dict keys (features.N, classifier.N),
initialisation and parameter counts are torchvision's (vgg16() 138,357,544,
vgg19() 143,667,240), so its checkpoints load by name.

Keyword arguments beyond torchvision's shrink the net for small inputs:
in_channels, width_mult (scales every convolution's channels), hidden (the
classifier's width, 4096) and pool_size (avgpool's output, 7x7; 1 for 32x32
inputs, which the five poolings bring to 1x1)."""

import numbers

from .. import nn

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """features (N, C, H, W) -> avgpool (N, C', pool_size, pool_size) -> flatten
    -> Linear hidden -> ReLU -> Dropout -> Linear hidden -> ReLU -> Dropout ->
    Linear num_classes."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5, hidden=4096, pool_size=7):
        super().__init__()
        for name, v in (("num_classes", num_classes), ("hidden", hidden), ("pool_size", pool_size)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"VGG: {name} must be a positive int, got {v!r}")
        channels = [m.out_channels for m in features if isinstance(m, nn.Conv2d)]
        if not channels:
            raise ValueError("VGG: features must hold at least one Conv2d")
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels[-1] * pool_size * pool_size, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))  # (N, C, pool_size, pool_size)
        return self.classifier(x.flatten(1))


def make_layers(cfg, batch_norm=False, in_channels=3, width_mult=1.0):
    """The feature extractor of one configuration: each number a 3x3 convolution
    with that many channels (times width_mult) and ReLU, each "M" a 2x2 max-pool."""
    if not isinstance(width_mult, numbers.Real) or not width_mult > 0:
        raise ValueError(f"VGG: width_mult must be positive, got {width_mult!r}")
    if not isinstance(in_channels, numbers.Integral) or in_channels < 1:
        raise ValueError(f"VGG: in_channels must be a positive int, got {in_channels!r}")
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out = max(1, int(round(v * width_mult)))
        layers.append(nn.Conv2d(in_channels, out, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU())
        in_channels = out
    return nn.Sequential(*layers)


def _vgg(cfg, batch_norm, num_classes, in_channels, width_mult, **kwargs):
    return VGG(make_layers(CFGS[cfg], batch_norm, in_channels, width_mult), num_classes, **kwargs)


def vgg11(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-11 (configuration A): 132,863,336 parameters at the defaults."""
    return _vgg("A", False, num_classes, in_channels, width_mult, **kwargs)


def vgg11_bn(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    return _vgg("A", True, num_classes, in_channels, width_mult, **kwargs)


def vgg13(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-13 (configuration B): 133,047,848 parameters at the defaults."""
    return _vgg("B", False, num_classes, in_channels, width_mult, **kwargs)


def vgg13_bn(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    return _vgg("B", True, num_classes, in_channels, width_mult, **kwargs)


def vgg16(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-16 (configuration D): 138,357,544 parameters at the defaults."""
    return _vgg("D", False, num_classes, in_channels, width_mult, **kwargs)


def vgg16_bn(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-16 with BatchNorm: 138,365,992 parameters at the defaults."""
    return _vgg("D", True, num_classes, in_channels, width_mult, **kwargs)


def vgg19(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-19 (configuration E): 143,667,240 parameters at the defaults."""
    return _vgg("E", False, num_classes, in_channels, width_mult, **kwargs)


def vgg19_bn(num_classes=1000, in_channels=3, width_mult=1.0, **kwargs):
    """VGG-19 with BatchNorm: 143,678,248 parameters at the defaults."""
    return _vgg("E", True, num_classes, in_channels, width_mult, **kwargs)
