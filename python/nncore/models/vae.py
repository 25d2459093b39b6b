"""Variational autoencoders (Kingma & Welling, 2014). An encoder gives the
Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))), a latent is drawn with the
reparameterisation trick z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (so the
sample is differentiable in mu and logvar), and a decoder gives Bernoulli logits
of p(x|z) per pixel. The loss is the negative evidence lower bound per image,

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
             = sum_pixels BCE(logits, x) + -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)),

the reconstruction term estimated with one sample of z. Two models: VAE (MLP
encoder and decoder on flattened images) and ConvVAE (strided convolutions down
to 4x4 and transposed convolutions back up)."""

from .. import functional as F
from .. import nn
from ..tensor import exp, randn_like


def _check(name, **sizes):
    for arg, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")


class _VAEBase(nn.Module):
    """encode / reparameterize / decode / forward shared by both models."""

    def encode(self, x):
        """x -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    @staticmethod
    def reparameterize(mu, logvar):
        """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from nncore's generator."""
        return mu + exp(logvar * 0.5) * randn_like(mu)

    def decode(self, z):
        """z (N, latent_dim) -> Bernoulli logits shaped like the input."""
        return self.decoder(z)

    def forward(self, x, sample=True):
        """(logits, mu, logvar); with sample=False decodes the posterior mean mu."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if sample else mu
        return self.decode(z), mu, logvar


class VAE(_VAEBase):
    """MLP VAE: x (N, in_features) -> hidden ReLU layers -> mu, logvar (N, latent_dim);
    z -> the hidden layers reversed -> logits (N, in_features)."""

    def __init__(self, in_features=64, hidden=(256, 128), latent_dim=2):
        super().__init__()
        hidden = list(hidden)
        _check("VAE", in_features=in_features, latent_dim=latent_dim,
               **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
        if not hidden:
            raise ValueError("VAE: hidden must name at least one layer width")
        self.latent_dim = latent_dim
        enc, width = [], in_features
        for h in hidden:
            enc += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.encoder = nn.Sequential(*enc)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)
        dec, width = [], latent_dim
        for h in reversed(hidden):
            dec += [nn.Linear(width, h), nn.ReLU()]
            width = h
        dec.append(nn.Linear(width, in_features))
        self.decoder = nn.Sequential(*dec)


class ConvVAE(_VAEBase):
    """Convolutional VAE for (N, in_channels, image_size, image_size) images:
    Conv(3x3) then Conv(4, stride 2, pad 1) stages doubling the channels down to
    4x4, a Linear to `hidden` units and the mu / logvar heads; the decoder mirrors
    it with ConvTranspose(4, stride 2, pad 1) stages and a 3x3 convolution to logits."""

    def __init__(self, in_channels=1, image_size=8, channels=32, hidden=256, latent_dim=2):
        super().__init__()
        _check("ConvVAE", in_channels=in_channels, channels=channels, hidden=hidden, latent_dim=latent_dim)
        if not isinstance(image_size, int) or image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"ConvVAE: image_size must be a power of two >= 8, got {image_size!r}")
        self.latent_dim = latent_dim
        stages = image_size.bit_length() - 3                    # 8 -> 1 stage, 32 -> 3 stages
        enc, width = [nn.Conv2d(in_channels, channels, 3, 1, 1), nn.ReLU()], channels
        for _ in range(stages):
            enc += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.ReLU()]
            width *= 2
        flat = width * 4 * 4
        enc += [nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        dec = [nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, flat), nn.ReLU(),
               nn.Unflatten(1, (width, 4, 4))]
        for _ in range(stages):
            dec += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.ReLU()]
            width //= 2
        dec.append(nn.Conv2d(width, in_channels, 3, 1, 1))
        self.decoder = nn.Sequential(*dec)


def elbo_terms(logits, x, mu, logvar):
    """(reconstruction, kl), each a scalar Tensor averaged over the batch and
    summed over pixels / latent dimensions: the negative ELBO is their sum
    (in nats per image; lower is better)."""
    if tuple(logits.shape) != tuple(x.shape):
        raise ValueError(f"elbo_terms: logits {tuple(logits.shape)} and x {tuple(x.shape)} must have the same shape")
    if tuple(mu.shape) != tuple(logvar.shape) or mu.ndim != 2:
        raise ValueError(f"elbo_terms: mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both be "
                         f"(N, latent_dim)")
    n = x.shape[0]
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = (mu * mu + exp(logvar) - logvar - 1.0).sum() * (0.5 / n)
    return reconstruction, kl
