"""`nncore train vae`: variational autoencoders on the 8x8 digits (pixels in [0, 1]
as Bernoulli means), an MLP VAE (--arch mlp) or a convolutional one (--arch conv).
Each epoch reports the reconstruction term and the KL term of the loss
separately, on the training and the test split; the headline is the test
negative ELBO in nats per image (a loss: lower is better). With a 2-D latent the
pictures show the test set's posterior means coloured by digit and the images
decoded over a grid of latents."""

import numpy as np

import nncore
from .. import optim
from ..data import DataLoader, TensorDataset, digits_datasets
from ..models.vae import VAE, ConvVAE, elbo_terms
from . import Option, Trained, evaluator, recipe
from ._common import to_device
from ._generative import checkpoint, draw_grid, epoch_rng, image_grid, resume, seed_epoch

EVAL_SEED = 12345


def build(options, device="cpu"):
    if options["arch"] == "mlp":
        model = VAE(64, (256, 128), options["latent_dim"])
    else:
        model = ConvVAE(1, 8, 16, 128, options["latent_dim"])
    return model.to(device)


def digits(arch):
    """(x_train, y_train, x_test, y_test): (N, 64) for the MLP, (N, 1, 8, 8) for the conv VAE, in [0, 1]."""
    train_set, test_set = digits_datasets(flatten=arch == "mlp")
    x, y = train_set[np.arange(len(train_set))]
    xt, yt = test_set[np.arange(len(test_set))]
    return x, y, xt, yt


def negative_elbo(model, x, run, batch_size=512):
    """(reconstruction, KL) per image over x, each latent drawn once from a fixed seed."""
    nncore.manual_seed(EVAL_SEED)
    recon = kl = 0.0
    with nncore.no_grad():
        for i in range(0, len(x), batch_size):
            xb = to_device(x[i:i + batch_size], run)
            r, k = _terms(model, xb)
            recon += float(r.item()) * len(xb)
            kl += float(k.item()) * len(xb)
    return recon / len(x), kl / len(x)


def _terms(model, xb):
    """(reconstruction, KL) of one batch, one latent sample per image."""
    logits, mu, logvar = model(xb)
    return elbo_terms(logits, xb, mu, logvar)


@recipe("vae", "variational autoencoder (MLP or conv) on the 8x8 digits: ELBO = reconstruction + KL, latent maps",
        metric="test negative ELBO (nats per image, lower is better)", epochs=60, batch_size=32, lr=2e-3,
        higher_is_better=False,
        options={"arch": Option("mlp", "encoder/decoder", ("mlp", "conv")),
                 "latent_dim": Option(2, "latent dimensions (2 draws the latent-space pictures)"),
                 "resume": Option(None, "continue from a vae.npz written by an earlier run (--epochs is the total)")})
def train(run):
    x, y, xt, yt = digits(run.options["arch"])
    model = build(run.options, run.device)
    opt = optim.Adam(model.parameters(), lr=run.lr)
    done = 0
    if run.options["resume"]:
        done, _ = resume(run, {"model": model}, {"opt": opt}, run.options["resume"])
    dataset = TensorDataset(x)
    test_recon = test_kl = float("nan")
    for epoch in range(done + 1, run.epochs + 1):
        loader = DataLoader(dataset, batch_size=run.batch_size, shuffle=True, generator=epoch_rng(run, 1, epoch))
        seed_epoch(run, 2, epoch)
        recon_sum = kl_sum = 0.0
        model.train()
        for (xb,) in run.progress(loader, desc=f"epoch {epoch}/{run.epochs}", total=len(loader)):
            xb = to_device(xb, run)
            recon, kl = _terms(model, xb)
            loss = recon + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            recon_sum += float(recon.item()) * len(xb)
            kl_sum += float(kl.item()) * len(xb)
        model.eval()
        test_recon, test_kl = negative_elbo(model, xt, run)
        run.epoch(epoch, train_recon=recon_sum / len(x), train_kl=kl_sum / len(x),
                  train_nelbo=(recon_sum + kl_sum) / len(x), test_recon=test_recon, test_kl=test_kl,
                  test_nelbo=test_recon + test_kl)
    value = test_recon + test_kl
    run.log(f"test -ELBO {value:.2f} nats per image = reconstruction {test_recon:.2f} + KL {test_kl:.2f}")
    arch = run.options["arch"]
    run.picture(f"vae_{arch}_curves", _draw_curves, run.history, arch)
    run.picture(f"vae_{arch}_reconstructions", _draw_reconstructions, model, xt, run)
    if run.options["latent_dim"] == 2:
        run.picture(f"vae_{arch}_latent", _draw_latent, model, xt, yt, run)
    return Trained(value, checkpoint(run, run.epochs, {"model": model}, {"opt": opt}),
                   {"test_reconstruction": test_recon, "test_kl": test_kl})


@evaluator("vae")
def evaluate(run, state):
    model = build(run.options, run.device)
    model.load_state_dict(state["model"])
    model.eval()
    _, _, xt, _ = digits(run.options["arch"])
    return sum(negative_elbo(model, xt, run))


def _images(x):
    return np.asarray(x).reshape(-1, 1, 8, 8)


def _decode(model, z, run):
    with nncore.no_grad():
        logits = model.decode(to_device(np.asarray(z, np.float32), run)).cpu().numpy()
    return _images(1 / (1 + np.exp(-logits)))


def _draw_curves(fig, history, arch):
    fig.set_size_inches(12, 3.6)
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(axes, ("nelbo", "recon", "kl"),
                              ("-ELBO (nats / image)", "reconstruction: -E log p(x|z)", "KL(q(z|x) || p(z))")):
        ax.plot(history["epoch"], history[f"train_{key}"], label="train")
        ax.plot(history["epoch"], history[f"test_{key}"], "--", label="test")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{arch} VAE on the 8x8 digits", y=1.03)


def _draw_reconstructions(fig, model, xt, run, n=16):
    with nncore.no_grad():
        logits = model(to_device(xt[:n], run), sample=False)[0].cpu().numpy()
    pairs = np.concatenate([_images(xt[:n]), _images(1 / (1 + np.exp(-logits)))])   # inputs row, then outputs
    draw_grid(fig, pairs, 2, n, "test digits (top) and their reconstructions from the posterior mean (bottom)",
              size=10.0)


def _draw_latent(fig, model, xt, yt, run, steps=15):
    fig.set_size_inches(12, 5.6)
    ax_map, ax_grid = fig.subplots(1, 2)
    with nncore.no_grad():
        mu = model.encode(to_device(xt, run))[0].cpu().numpy()
    points = ax_map.scatter(mu[:, 0], mu[:, 1], c=yt, cmap="tab10", s=10, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax_map, ticks=range(10), label="digit")
    ax_map.set_title("test digits' posterior means")
    ax_map.set_xlabel("z1")
    ax_map.set_ylabel("z2")
    ax_map.grid(alpha=0.3)
    g = np.linspace(-2.5, 2.5, steps)
    z = np.stack(np.meshgrid(g, g[::-1]), -1).reshape(-1, 2)     # row 0 at the top: z2 high
    ax_grid.imshow(image_grid(_decode(model, z, run), steps, steps), cmap="gray", vmin=0, vmax=1,
                   extent=(-2.5, 2.5, -2.5, 2.5))
    ax_grid.set_title("decoded over z in [-2.5, 2.5]^2 (the prior's bulk)")
    ax_grid.set_xlabel("z1")
    ax_grid.set_ylabel("z2")
