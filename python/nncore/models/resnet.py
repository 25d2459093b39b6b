"""Residual networks (He et al., 2016): blocks that learn F(x) and output
relu(F(x) + shortcut(x)). BasicBlock (two 3x3 convolutions) builds ResNet-18 and
-34, Bottleneck (1x1, 3x3, 1x1 with 4x expansion, stride on the 3x3) ResNet-50.
Module names, state_dict keys (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0,
fc, ...), initialisation and parameter counts are torchvision's (resnet18()
11,689,512, resnet34() 21,797,672, resnet50() 25,557,032).

`shortcut` picks the paper's option for the identity path (section 3.3):
  "A": identity, and where the shape changes the input subsampled by the stride
       with zero channels appended (no parameters);
  "B": a 1x1 convolution + BatchNorm projection where the shape changes, identity
       elsewhere (torchvision's and the default);
  "C": a projection on every block.

Keyword arguments beyond torchvision's: in_channels (3) and width (64, the
channels of conv1 and layer1; the later stages double it)."""

import numbers

from .. import functional as F
from .. import nn

SHORTCUTS = ("A", "B", "C")


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: x (N, C, H, W) -> x[:, :, ::stride, ::stride] with planes - C
    zero channels appended: (N, planes, H / stride, W / stride)."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.in_planes, self.planes, self.stride = in_planes, planes, stride

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.planes != self.in_planes:
            x = F.pad(x, (0, 0, 0, 0, 0, self.planes - self.in_planes))
        return x

    def extra_repr(self):
        return f"{self.in_planes}, {self.planes}, stride={self.stride}"


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """conv1 7x7/2 -> bn1 -> relu -> maxpool 3x3/2 -> layer1..layer4 (strides 1, 2,
    2, 2) -> avgpool to 1x1 -> fc. Input (N, in_channels, H, W), output
    (N, num_classes) logits; 32x32 inputs reach layer4 at 1x1."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, shortcut="B", in_channels=3,
                 width=64):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"ResNet: shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        for name, v in (("num_classes", num_classes), ("in_channels", in_channels), ("width", width)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"ResNet: {name} must be a positive int, got {v!r}")
        if len(layers) != 4 or any(not isinstance(n, numbers.Integral) or n < 1 for n in layers):
            raise ValueError(f"ResNet: layers must be four positive block counts, got {layers!r}")
        self.shortcut = shortcut
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _downsample(self, planes, stride):
        """The shortcut of a block taking self.inplanes channels to `planes`."""
        changes = stride != 1 or self.inplanes != planes
        if self.shortcut == "C" or (self.shortcut == "B" and changes):
            return nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        if self.shortcut == "A" and changes:
            return ZeroPadShortcut(self.inplanes, planes, stride)
        return None

    def _make_layer(self, block, planes, blocks, stride=1):
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            layers.append(block(self.inplanes, planes, s, self._downsample(planes * block.expansion, s)))
            self.inplanes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, width, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 8 width expansion, H/32, W/32)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, shortcut="B", **kwargs):
    """ResNet-18: BasicBlock x (2, 2, 2, 2); 11,689,512 parameters at the defaults."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, shortcut=shortcut, **kwargs)


def resnet34(num_classes=1000, shortcut="B", **kwargs):
    """ResNet-34: BasicBlock x (3, 4, 6, 3); 21,797,672 parameters at the defaults."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, shortcut=shortcut, **kwargs)


def resnet50(num_classes=1000, shortcut="B", **kwargs):
    """ResNet-50: Bottleneck x (3, 4, 6, 3); 25,557,032 parameters at the defaults."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, shortcut=shortcut, **kwargs)
