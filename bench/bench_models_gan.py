"""DCGAN: one training iteration at 32x32 (G forward, D step on a real and a generated batch,
G step through a frozen D, Adam on both), nncore against the same nets with the same weights
in PyTorch (bench/twins_gan.py), 1 and 2 threads. Two sizes: the `dcgan` recipe's nets
(ngf = ndf = 32, one channel, batch 32) and the full-width 32x32 DCGAN (ngf = ndf = 64, three
channels, batch 64). Allocator mode: nncore's outputs come from its host cache; PyTorch
allocates as usual."""

import numpy as np
import pytest

import nncore
from nncore.models import dcgan_discriminator, dcgan_generator
from nncore.recipes._generative import adversarial_step

from benchutil import need_peer, run
from twins_gan import torch_adversarial_step, torch_dcgan

NZ = 100
SIZES = {"recipe": (32, 1, 32), "ngf64": (64, 3, 64)}  # name: (ngf = ndf, channels, batch)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("size", list(SIZES))
def test_dcgan_train_step(benchmark, threads, size, impl):
    width, nc, batch = SIZES[size]
    benchmark.group = f"dcgan 32x32 train step ngf=ndf={width} nc={nc} batch {batch} threads={threads}"
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch, nc, 32, 32)).astype(np.float32)
    z = rng.standard_normal((batch, NZ, 1, 1)).astype(np.float32)
    nncore.manual_seed(0)
    G, D = dcgan_generator(NZ, width, nc, 32), dcgan_discriminator(width, nc, 32)
    if impl == "nncore":
        opt_g = nncore.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = nncore.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        x, noise = nncore.tensor(real), nncore.tensor(z)

        def step():
            out = adversarial_step(G, D, opt_g, opt_d, x, noise)
            return out["d_loss"], out["g_loss"]
    else:
        torch = need_peer("torch")
        tG, tD = torch_dcgan(torch, G, D)
        opt_g = torch.optim.Adam(tG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(tD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        x, noise = torch.from_numpy(real), torch.from_numpy(z)

        def step():
            return torch_adversarial_step(torch, tG, tD, opt_g, opt_d, x, noise)
    d_loss, g_loss = run(benchmark, step)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
