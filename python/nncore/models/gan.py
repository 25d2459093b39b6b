"""Generative adversarial networks (Goodfellow et al., 2014): a generator G maps
noise z to samples, a discriminator D scores samples with a logit (real vs
generated). The game's losses, written on D's logits l (D(x) = sigmoid(l)):

    discriminator:               -log D(x) - log(1 - D(G(z)))  = softplus(-l_real) + softplus(l_fake)
    generator, minimax:           log(1 - D(G(z)))             = -softplus(l_fake)   (saturates when D wins)
    generator, non-saturating:   -log D(G(z))                  = softplus(-l_fake)

Models: MLP generator and discriminator for points in the plane (the
discriminator optionally judging packs of samples, PacGAN), and DCGAN
(Radford et al., 2015): strided convolutions in D and transposed convolutions in
G instead of pooling, BatchNorm in both nets except G's output and D's input,
ReLU in G with a tanh output, LeakyReLU(0.2) in D, N(0, 0.02) weights. The DCGAN
nets keep the PyTorch examples' state_dict layout (main.0.weight, main.1.weight,
...) so weights trained there load by name; D returns logits (the example's
final Sigmoid is folded into the loss, which is numerically safer and has no
parameters)."""

import math

from .. import functional as F
from .. import nn
from ..tensor import full_like

GENERATOR_LOSSES = ("non-saturating", "minimax")


def mlp_generator(nz=2, hidden=128, out_features=2, depth=3):
    """z (N, nz) -> samples (N, out_features): `depth` hidden Linear + ReLU layers of width `hidden`."""
    _check_sizes("mlp_generator", nz=nz, hidden=hidden, out_features=out_features, depth=depth)
    layers, width = [], nz
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class MLPDiscriminator(nn.Module):
    """x (N, in_features) -> logits (N // pack,): `depth` hidden Linear + LeakyReLU(0.2)
    layers of width `hidden` (DCGAN's discriminator nonlinearity). With pack > 1 the
    discriminator judges `pack` samples at once (PacGAN, Lin et al. 2018): rows
    k*pack ... k*pack + pack - 1 are concatenated into one input of pack * in_features,
    so a generator that repeats itself is easier to tell from the data; the loss
    is unchanged, on N // pack logits."""

    def __init__(self, in_features=2, hidden=128, depth=3, pack=1):
        super().__init__()
        _check_sizes("mlp_discriminator", in_features=in_features, hidden=hidden, depth=depth, pack=pack)
        self.in_features, self.pack = in_features, pack
        layers, width = [], in_features * pack
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features or x.shape[0] % self.pack:
            raise ValueError(f"MLPDiscriminator: input must be (N, {self.in_features}) with N a multiple of "
                             f"pack={self.pack}, got {tuple(x.shape)}")
        return self.main(x.reshape(x.shape[0] // self.pack, self.pack * self.in_features)).reshape(-1)


def mlp_discriminator(in_features=2, hidden=128, depth=3, pack=1):
    """The MLP discriminator (see MLPDiscriminator)."""
    return MLPDiscriminator(in_features, hidden, depth, pack)


def _blocks(image_size, name):
    """Number of stride-2 stages between 4x4 and image_size (3 at 32x32, 4 at 64x64)."""
    if not isinstance(image_size, int) or image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"{name}: image_size must be a power of two >= 8, got {image_size!r}")
    return int(math.log2(image_size)) - 2


def _check_sizes(name, **sizes):
    for arg, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")


class DCGANGenerator(nn.Module):
    """z (N, nz, 1, 1) or (N, nz) -> images (N, nc, image_size, image_size) in [-1, 1].
    64x64: ConvT(nz, 8ngf, 4, 1, 0) -> 4x4, then ConvT(4, 2, 1) stages halving the
    channels 8ngf -> 4ngf -> 2ngf -> ngf -> nc, BatchNorm + ReLU between, tanh at
    the end; 32x32 starts at 4ngf."""

    def __init__(self, nz=100, ngf=64, nc=3, image_size=64):
        super().__init__()
        _check_sizes("dcgan_generator", nz=nz, ngf=ngf, nc=nc)
        stages = _blocks(image_size, "dcgan_generator")
        self.nz, self.image_size = nz, image_size
        width = ngf * 2 ** (stages - 1)
        layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z):
        if z.ndim == 2:
            z = z.reshape(z.shape[0], z.shape[1], 1, 1)
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """images (N, nc, image_size, image_size) -> logits (N,). 64x64: Conv(nc, ndf,
    4, 2, 1) + LeakyReLU(0.2), then Conv(4, 2, 1) stages doubling the channels
    with BatchNorm + LeakyReLU, and a 4x4 valid convolution to one logit."""

    def __init__(self, ndf=64, nc=3, image_size=64):
        super().__init__()
        _check_sizes("dcgan_discriminator", ndf=ndf, nc=nc)
        stages = _blocks(image_size, "dcgan_discriminator")
        self.image_size = image_size
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x):
        if x.ndim != 4 or x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"DCGANDiscriminator: input must be (N, C, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        return self.main(x).reshape(-1)


def dcgan_generator(nz=100, ngf=64, nc=3, image_size=64):
    """The DCGAN generator (3,576,704 parameters at the defaults)."""
    return DCGANGenerator(nz, ngf, nc, image_size)


def dcgan_discriminator(ndf=64, nc=3, image_size=64):
    """The DCGAN discriminator (2,765,568 parameters at the defaults)."""
    return DCGANDiscriminator(ndf, nc, image_size)


def dcgan_init_(module):
    """Radford et al.'s initialisation: convolution weights N(0, 0.02), BatchNorm
    weights N(1, 0.02) and biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def discriminator_loss(real_logits, fake_logits):
    """-mean log D(x) - mean log(1 - D(G(z))): binary cross-entropy with real = 1, fake = 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, _full_like(real_logits, 1.0))
    fake = F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 0.0))
    return real + fake


def generator_loss(fake_logits, loss="non-saturating"):
    """The generator's loss on D's logits of generated samples: 'non-saturating'
    -mean log D(G(z)), or 'minimax' mean log(1 - D(G(z))) (Goodfellow et al.'s
    original game, whose gradient vanishes when D confidently rejects G(z))."""
    if loss == "non-saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 1.0))
    if loss == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 0.0))
    raise ValueError(f"generator_loss: loss must be one of {GENERATOR_LOSSES}, got {loss!r}")


def _full_like(t, value):
    return full_like(t.detach(), value)
