"""Pieces the generative recipes (gan, dcgan, vae) share: the alternating
discriminator / generator steps, per-epoch seeding that makes a resumed run draw
the same numbers as an uninterrupted one, checkpoints holding every network and
optimiser, resuming from them, and image-grid pictures."""

import numpy as np

import nncore
from ..models.gan import discriminator_loss, generator_loss
from . import RecipeError, load_weights


# ---- the adversarial game -------------------------------------------------------------------------------------
def discriminator_step(discriminator, opt_d, real, fake):
    """One optimiser step on D's loss. `fake` is detached, so the backward pass
    stops at G's output and no gradient reaches G's parameters. Returns
    (loss, mean D(x), mean D(G(z)))."""
    discriminator.requires_grad_(True)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    loss = discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return float(loss.item()), _mean_sigmoid(real_logits), _mean_sigmoid(fake_logits)


def generator_step(discriminator, opt_g, fake, loss="non-saturating"):
    """One optimiser step on G's loss through a frozen D: D's parameters stop
    requiring grad for the backward pass (so D gets no gradient), then are
    released again. `fake` must still carry G's graph. Returns the loss."""
    discriminator.requires_grad_(False)
    try:
        g_loss = generator_loss(discriminator(fake), loss)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    finally:
        discriminator.requires_grad_(True)
    return float(g_loss.item())


def adversarial_step(generator, discriminator, opt_g, opt_d, real, z, loss="non-saturating"):
    """One D step, then one G step on the same generated batch G(z) (as the
    PyTorch DCGAN example: one generator forward per iteration). Returns a dict
    of d_loss, g_loss, d_real = mean D(x), d_fake = mean D(G(z)) before D's step."""
    fake = generator(z)
    d_loss, d_real, d_fake = discriminator_step(discriminator, opt_d, real, fake)
    g_loss = generator_step(discriminator, opt_g, fake, loss)
    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake}


def _mean_sigmoid(logits):
    return float(nncore.sigmoid(logits.detach()).mean().item())


# ---- seeding --------------------------------------------------------------------------------------------------
def epoch_rng(run, salt, epoch):
    """A NumPy Generator for one epoch's draws (shuffles, real samples): it
    depends on (seed, salt, epoch) only, so epoch 2 of a resumed run draws what
    epoch 2 of an uninterrupted run draws."""
    return np.random.default_rng([run.seed, salt, epoch])


def seed_epoch(run, salt, epoch):
    """Re-seeds nncore's generators (randn on the run's device) for one epoch."""
    nncore.manual_seed(int(np.random.SeedSequence([run.seed, salt, epoch]).generate_state(1)[0]))


# ---- checkpoints ----------------------------------------------------------------------------------------------
def checkpoint(run, epoch, modules, optimizers, extra=None):
    """The state a recipe returns and `nncore train` saves: every module's and
    optimiser's state_dict, the epochs done, the per-epoch history and `extra`
    (arrays such as step-wise loss curves)."""
    state = {"epoch": int(epoch), "history": {k: np.asarray(v) for k, v in run.history.items()}}
    state.update({name: m.state_dict() for name, m in modules.items()})
    state.update({name: o.state_dict() for name, o in optimizers.items()})
    state["extra"] = dict(extra or {})
    return state


def resume(run, modules, optimizers, path):
    """Loads a checkpoint written by the same recipe (`--resume OUT/NAME.npz`)
    into modules and optimisers, and its history into run.history. Returns
    (epochs done, extra). Training then continues with epoch + 1 up to run.epochs."""
    saved = load_weights(run.model, path)
    state = saved["state"]
    mismatched = {k: v for k, v in saved.get("options", {}).items()
                  if k != "resume" and k in run.options and run.options[k] != v}
    if mismatched:
        now = {k: run.options[k] for k in mismatched}
        raise RecipeError(f"--resume {path}: trained with {mismatched}, now {now}")
    try:
        for name, m in modules.items():
            m.load_state_dict(state[name])
        for name, o in optimizers.items():
            o.load_state_dict(state[name])
    except (KeyError, ValueError, RuntimeError) as e:
        raise RecipeError(f"--resume {path}: does not fit model {run.model!r} ({e})") from None
    done = int(state["epoch"])
    if done >= run.epochs:
        raise RecipeError(f"--resume {path}: already trained {done} epochs; ask for more with --epochs (the total)")
    for key, values in state.get("history", {}).items():
        run.history[key] = [int(v) if key == "epoch" else float(v) for v in np.asarray(values).reshape(-1)]
    run.log(f"resumed from {path} after epoch {done}")
    return done, dict(state.get("extra", {}))


# ---- pictures -------------------------------------------------------------------------------------------------
def image_grid(images, rows, cols, pad=1):
    """(N, C, H, W) in [0, 1] -> one (rows*(H+pad)-pad, cols*(W+pad)-pad[, 3]) array, row by row."""
    images = np.asarray(images)[: rows * cols]
    n, c, h, w = images.shape
    grid = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, k * (w + pad): k * (w + pad) + w] = images[i].transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def draw_grid(fig, images, rows, cols, title, size=6.0):
    fig.set_size_inches(size * cols / max(rows, cols), size * rows / max(rows, cols) + 0.4)
    ax = fig.subplots()
    ax.imshow(image_grid(images, rows, cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
