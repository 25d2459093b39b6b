"""`nncore train gan`: the GAN game on a known answer. Real data are a mixture of
8 Gaussians (sigma 0.02) on a circle of radius 2; an MLP generator and an MLP
discriminator alternate one step each, the discriminator judging pairs of
samples by default (PacGAN's remedy for dropped modes; --pack 1 is the plain
GAN). Measured on 5,000 samples: modes covered (a mode counts when at least 1 %
of samples lie within 3 sigma of its centre) and the fraction of samples within
3 sigma of some centre."""

import numpy as np

import nncore
from .. import optim
from ..models.gan import GENERATOR_LOSSES, mlp_discriminator, mlp_generator
from . import Option, RecipeError, Trained, evaluator, recipe
from ._common import to_device
from ._generative import adversarial_step, checkpoint, epoch_rng, resume, seed_epoch

MODES, RADIUS, SIGMA = 8, 2.0, 0.02
NZ, HIDDEN, DEPTH = 16, 128, 2
EVAL_SAMPLES = 5000
SNAPSHOT_SAMPLES = 1000


def ring_centres(modes=MODES, radius=RADIUS):
    """(modes, 2) centres evenly spaced on a circle, the first on the positive x axis."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], 1)).astype(np.float32)


def sample_ring(n, rng, modes=MODES, radius=RADIUS, sigma=SIGMA):
    """n points (n, 2): a uniformly chosen centre plus N(0, sigma^2 I) noise."""
    centres = ring_centres(modes, radius)
    pick = rng.integers(0, modes, n)
    return (centres[pick] + sigma * rng.standard_normal((n, 2))).astype(np.float32)


def mode_coverage(samples, centres=None, sigma=SIGMA, min_fraction=0.01):
    """(modes covered, fraction of samples near a mode, samples per mode (modes,)):
    a sample is near the closest centre when within 3 sigma of it; a mode is
    covered when at least min_fraction of all samples are near it."""
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"mode_coverage: samples must be (N, 2) with N > 0, got {samples.shape}")
    centres = ring_centres() if centres is None else np.asarray(centres, np.float64)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)   # (N, modes)
    nearest, near = dist.argmin(1), dist.min(1) <= 3 * sigma
    counts = np.bincount(nearest[near], minlength=len(centres))
    return int((counts >= min_fraction * len(samples)).sum()), float(near.mean()), counts


def generate(generator, n, run, salt=99):
    """n samples (n, 2) as a NumPy array from seeded noise (the same noise for every call with this salt)."""
    z = epoch_rng(run, salt, 0).standard_normal((n, NZ)).astype(np.float32)
    with nncore.no_grad():
        return generator(to_device(z, run)).cpu().numpy()


def lr_at(run, epoch):
    """Adam's learning rate in `epoch` (1-based): run.lr, divided by 10 from
    epoch `decay_epoch` on. The schedule depends on the epoch alone, not on the
    total, so a resumed run follows the same one."""
    return run.lr * (0.1 if epoch >= run.options["decay_epoch"] else 1.0)


@recipe("gan", "GAN on a ring of 8 Gaussians: MLP G and D (PacGAN pairs), non-saturating or minimax G loss",
        metric="modes covered (of 8)", epochs=10, batch_size=512, lr=1e-3,
        options={"loss": Option("non-saturating", "generator loss", GENERATOR_LOSSES),
                 "pack": Option(2, "samples the discriminator judges together (1: the plain GAN)"),
                 "steps_per_epoch": Option(500, "D+G steps per epoch"),
                 "decay_epoch": Option(9, "learning rate / 10 from this epoch on"),
                 "resume": Option(None, "continue from a gan.npz written by an earlier run (--epochs is the total)")})
def train(run):
    steps, pack = run.options["steps_per_epoch"], run.options["pack"]
    if pack < 1 or run.batch_size % pack:
        raise RecipeError(f"gan: --batch-size ({run.batch_size}) must be a multiple of --pack ({pack})")
    generator = mlp_generator(NZ, HIDDEN, 2, DEPTH).to(run.device)
    discriminator = mlp_discriminator(2, HIDDEN, DEPTH, pack).to(run.device)
    opt_g = optim.Adam(generator.parameters(), lr=run.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(discriminator.parameters(), lr=run.lr, betas=(0.5, 0.999))
    modules = {"generator": generator, "discriminator": discriminator}
    optimizers = {"opt_g": opt_g, "opt_d": opt_d}
    done, extra = 0, {}
    if run.options["resume"]:
        done, extra = resume(run, modules, optimizers, run.options["resume"])
    curves = {k: list(np.asarray(extra.get(k, []), np.float64)) for k in ("d_loss", "g_loss")}
    snapshots = {k: np.asarray(v) for k, v in extra.get("snapshots", {}).items()}
    for epoch in range(done + 1, run.epochs + 1):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr_at(run, epoch)
        rng = epoch_rng(run, 1, epoch)
        seed_epoch(run, 2, epoch)
        sums = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake"), 0.0)
        for _ in run.progress(range(steps), desc=f"epoch {epoch}/{run.epochs}"):
            real = to_device(sample_ring(run.batch_size, rng), run)
            z = nncore.randn(run.batch_size, NZ, device=run.device)
            out = adversarial_step(generator, discriminator, opt_g, opt_d, real, z, run.options["loss"])
            for k in sums:
                sums[k] += out[k] / steps
            curves["d_loss"].append(out["d_loss"])
            curves["g_loss"].append(out["g_loss"])
        covered, near, _ = mode_coverage(generate(generator, EVAL_SAMPLES, run))
        if epoch in (1, 2, 4) or epoch == run.epochs or epoch % 5 == 0:
            snapshots[f"epoch_{epoch}"] = generate(generator, SNAPSHOT_SAMPLES, run)
        run.epoch(epoch, **sums, modes=covered, near_mode=near)
    covered, near, counts = mode_coverage(generate(generator, EVAL_SAMPLES, run))
    run.log(f"{run.options['loss']} loss: {covered}/8 modes covered, {near:.1%} of samples within 3 sigma of a "
            f"mode; samples per mode {counts.tolist()}")
    run.picture("gan_samples", _draw_samples, snapshots, run.options["loss"])
    run.picture("gan_losses", _draw_losses, curves, steps, run.options["loss"])
    state = checkpoint(run, run.epochs, modules, optimizers,
                       {"d_loss": np.asarray(curves["d_loss"]), "g_loss": np.asarray(curves["g_loss"]),
                        "snapshots": snapshots})
    return Trained(covered, state, {"near_mode": near, "counts": counts.tolist(), "curves": curves})


@evaluator("gan")
def evaluate(run, state):
    generator = mlp_generator(NZ, HIDDEN, 2, DEPTH)
    generator.load_state_dict(state["generator"])
    return mode_coverage(generate(generator.to(run.device), EVAL_SAMPLES, run))[0]


def _snapshot_order(key):
    return int(key.split("_")[1])


def _draw_samples(fig, snapshots, loss):
    keys = sorted(snapshots, key=_snapshot_order)
    fig.set_size_inches(3.2 * len(keys), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    g = np.linspace(-2.7, 2.7, 271)
    gx, gy = np.meshgrid(g, g)
    density = np.zeros_like(gx)
    for cx, cy in ring_centres():
        density += np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * (3 * SIGMA) ** 2))
    for ax, key in zip(axes, keys):
        ax.contourf(gx, gy, density, levels=[0.05, 0.5, 1.0], colors=["#c6dbef", "#6baed6"])
        x = snapshots[key]
        covered, near, _ = mode_coverage(x)
        ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:red", alpha=0.5)
        ax.set_xlim(-2.7, 2.7)
        ax.set_ylim(-2.7, 2.7)
        ax.set_aspect("equal")
        ax.set_title(f"epoch {_snapshot_order(key)}: {covered}/8 modes, {near:.0%} near", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"GAN ({loss} G loss): generated samples (red) over the real density (blue: within 3 sigma)")


def _draw_losses(fig, curves, steps_per_epoch, loss):
    fig.set_size_inches(9, 3.6)
    ax = fig.subplots()
    window = max(1, steps_per_epoch // 10)
    for key, label, colour in (("d_loss", "D loss", "tab:blue"), ("g_loss", f"G loss ({loss})", "tab:red")):
        y = np.asarray(curves[key])
        ax.plot(np.arange(1, len(y) + 1), y, color=colour, alpha=0.2, lw=0.8)
        if len(y) >= window:
            smooth = np.convolve(y, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(window, len(y) + 1), smooth, color=colour, label=f"{label} (mean of {window} steps)")
    ax.axhline(2 * np.log(2), color="k", lw=0.8, ls=":", label="D loss at equilibrium, 2 ln 2")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
