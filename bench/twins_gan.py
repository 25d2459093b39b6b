"""PyTorch twins of the gan, dcgan and vae recipes for bench/compare_models.py: the same
networks (nncore's initial weights copied in), the same data, batch order and noise (the
recipes' per-epoch generators replayed with NumPy), the same optimisers, schedule and
epochs, and the same headline metric measured by the recipe's own function. They also
build the DCGAN nets that bench_models_gan.py times."""

import time

import numpy as np

import nncore
from nncore import nn


def torch_sequential(torch, layers):
    """A torch.nn.Sequential with the layers of an nncore Sequential (weights not copied)."""
    tnn = torch.nn
    out = []
    for m in layers:
        if isinstance(m, nn.ConvTranspose2d):
            out.append(tnn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                           bias=m.bias is not None))
        elif isinstance(m, nn.Conv2d):
            out.append(tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                  bias=m.bias is not None))
        elif isinstance(m, nn.Linear):
            out.append(tnn.Linear(m.in_features, m.out_features))
        elif isinstance(m, nn.BatchNorm2d):
            out.append(tnn.BatchNorm2d(m.num_features))
        elif isinstance(m, nn.LeakyReLU):
            out.append(tnn.LeakyReLU(m.negative_slope))
        elif isinstance(m, nn.ReLU):
            out.append(tnn.ReLU())
        elif isinstance(m, nn.Tanh):
            out.append(tnn.Tanh())
        elif isinstance(m, nn.Flatten):
            out.append(tnn.Flatten())
        elif isinstance(m, nn.Unflatten):
            out.append(tnn.Unflatten(m.dim, m.unflattened_size))
        else:
            raise TypeError(f"no PyTorch twin for {type(m).__name__}")
    return tnn.Sequential(*out)


def copy_weights(torch, module, reference):
    """Loads nncore module `reference`'s state_dict into the PyTorch module (same keys)."""
    module.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in reference.state_dict().items()})
    return module


def torch_dcgan(torch, generator, discriminator):
    """(G, D) in PyTorch with nncore's DCGAN layers and weights; G takes (N, nz, 1, 1), D returns (N,) logits."""
    tnn = torch.nn

    class Net(tnn.Module):
        def __init__(self, reference, flatten):
            super().__init__()
            self.main = torch_sequential(torch, reference.main)
            self.flatten = flatten
            copy_weights(torch, self, reference)

        def forward(self, x):
            out = self.main(x)
            return out.reshape(-1) if self.flatten else out

    return Net(generator, False), Net(discriminator, True)


def torch_packed_discriminator(torch, reference):
    """nncore's MLPDiscriminator in PyTorch (pack rows concatenated, logits (N // pack,)), weights copied."""

    class Packed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.main = torch_sequential(torch, reference.main)
            copy_weights(torch, self, reference)

        def forward(self, x):
            return self.main(x.reshape(x.shape[0] // reference.pack, -1)).reshape(-1)

    return Packed()


def torch_adversarial_step(torch, G, D, opt_g, opt_d, real, z, loss="non-saturating"):
    """The recipes' step in PyTorch: D on real and detached G(z), then G through a frozen D."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach())
    d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    logits = D(fake)
    if loss == "non-saturating":
        g_loss = bce(logits, torch.ones_like(logits))
    else:
        g_loss = -bce(logits, torch.zeros_like(logits))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad_(True)
    return d_loss.item(), g_loss.item()


class _Replay:
    """The numbers the recipes draw: run.rng-style per-epoch generators and the
    re-seeded nncore generator (recipes._generative.epoch_rng / seed_epoch)."""

    def __init__(self, seed):
        self.seed = seed

    def epoch_rng(self, salt, epoch):
        return np.random.default_rng([self.seed, salt, epoch])

    def nncore_rng(self, salt, epoch):
        return np.random.default_rng(int(np.random.SeedSequence([self.seed, salt, epoch]).generate_state(1)[0]))


def gan(seed, threads, loss="non-saturating"):
    import torch

    from nncore.recipes import gan as recipe

    torch.set_num_threads(threads)
    rec = nncore.recipes.get("gan")
    options = {k: o.default for k, o in rec.options.items()}
    epochs, batch, lr, steps = rec.epochs, rec.batch_size, rec.lr, options["steps_per_epoch"]
    nncore.manual_seed(seed)
    reference_g = nncore.models.mlp_generator(recipe.NZ, recipe.HIDDEN, 2, recipe.DEPTH)
    reference_d = nncore.models.mlp_discriminator(2, recipe.HIDDEN, recipe.DEPTH, options["pack"])
    start = time.perf_counter()
    G = copy_weights(torch, torch_sequential(torch, reference_g), reference_g)
    D = torch_packed_discriminator(torch, reference_d)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    replay = _Replay(seed)
    for epoch in range(1, epochs + 1):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr * (0.1 if epoch >= options["decay_epoch"] else 1.0)
        rng, z_rng = replay.epoch_rng(1, epoch), replay.nncore_rng(2, epoch)
        for _ in range(steps):
            real = torch.from_numpy(recipe.sample_ring(batch, rng))
            z = torch.from_numpy(z_rng.standard_normal((batch, recipe.NZ)).astype(np.float32))
            torch_adversarial_step(torch, G, D, opt_g, opt_d, real, z, loss)
    z = replay.epoch_rng(99, 0).standard_normal((recipe.EVAL_SAMPLES, recipe.NZ)).astype(np.float32)
    with torch.no_grad():
        samples = G(torch.from_numpy(z)).numpy()
    covered, near, _ = recipe.mode_coverage(samples)
    return {"value": covered, "near_mode": near, "epochs": epochs, "seconds": time.perf_counter() - start}


def dcgan(seed, threads):
    import torch

    from nncore.recipes import dcgan as recipe

    torch.set_num_threads(threads)
    rec = nncore.recipes.get("dcgan")
    options = {k: o.default for k, o in rec.options.items()}
    epochs, batch, lr = rec.epochs, rec.batch_size, rec.lr
    run = nncore.recipes.Run("dcgan", epochs, batch, lr, seed, options=options)
    images = recipe.training_images(run)
    nncore.manual_seed(seed)
    reference_g, reference_d = recipe.build(options)
    start = time.perf_counter()
    G, D = torch_dcgan(torch, reference_g, reference_d)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    replay = _Replay(seed)
    for epoch in range(1, epochs + 1):
        order = replay.epoch_rng(1, epoch).permutation(len(images))
        z_rng = replay.nncore_rng(2, epoch)
        for i in range(0, len(order) - batch + 1, batch):
            real = torch.from_numpy(images[order[i:i + batch]])
            z = torch.from_numpy(z_rng.standard_normal((batch, recipe.NZ, 1, 1)).astype(np.float32))
            torch_adversarial_step(torch, G, D, opt_g, opt_d, real, z, options["loss"])
    seconds = time.perf_counter() - start
    G.eval()
    with torch.no_grad():
        samples = (G(torch.from_numpy(recipe.fixed_noise(run, recipe.QUALITY_SAMPLES, 4)[:, :, None, None])).numpy()
                   + 1) / 2
    present, histogram, confidence = recipe.judge(samples, run, recipe.judge_classifier(run))
    return {"value": present, "confidence": confidence, "histogram": histogram.tolist(), "epochs": epochs,
            "seconds": seconds}


def vae(seed, threads, arch="mlp"):
    import torch

    from nncore.recipes import vae as recipe

    torch.set_num_threads(threads)
    rec = nncore.recipes.get("vae")
    options = {k: o.default for k, o in rec.options.items()}
    options["arch"] = arch
    epochs, batch, lr = rec.epochs, rec.batch_size, rec.lr
    x, _, xt, _ = recipe.digits(arch)
    nncore.manual_seed(seed)
    reference = recipe.build(options)
    start = time.perf_counter()
    tnn = torch.nn

    class TorchVAE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch_sequential(torch, reference.encoder)
            self.mu = torch_sequential(torch, [reference.mu])[0]
            self.logvar = torch_sequential(torch, [reference.logvar])[0]
            self.decoder = torch_sequential(torch, reference.decoder)
            copy_weights(torch, self, reference)

        def terms(self, xb, eps):
            h = self.encoder(xb)
            mu, logvar = self.mu(h), self.logvar(h)
            logits = self.decoder(mu + torch.exp(0.5 * logvar) * eps)
            n = xb.shape[0]
            recon = tnn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / n
            kl = 0.5 * (mu * mu + torch.exp(logvar) - logvar - 1).sum() / n
            return recon, kl

    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    replay = _Replay(seed)
    latent = options["latent_dim"]
    for epoch in range(1, epochs + 1):
        order = replay.epoch_rng(1, epoch).permutation(len(x))
        eps_rng = replay.nncore_rng(2, epoch)
        for i in range(0, len(order), batch):
            xb = torch.from_numpy(x[order[i:i + batch]])
            eps = torch.from_numpy(eps_rng.standard_normal((len(xb), latent)).astype(np.float32))
            recon, kl = model.terms(xb, eps)
            opt.zero_grad()
            (recon + kl).backward()
            opt.step()
    seconds = time.perf_counter() - start
    eps_rng = np.random.default_rng(recipe.EVAL_SEED)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(xt), 512):
            xb = torch.from_numpy(xt[i:i + 512])
            eps = torch.from_numpy(eps_rng.standard_normal((len(xb), latent)).astype(np.float32))
            recon, kl = model.terms(xb, eps)
            total += float(recon + kl) * len(xb)
    return {"value": total / len(xt), "epochs": epochs, "seconds": seconds}


TWINS = {"gan": gan, "dcgan": dcgan, "vae": vae}
