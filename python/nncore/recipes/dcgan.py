"""`nncore train dcgan`: a 32x32 DCGAN (Radford et al.) on the digits, or on MNIST
IDX files with --data. Quality is measured, not eyeballed: the digits classifier
of the CNN recipe labels generated samples (with --data, the same LeNet trained
on MNIST); the headline is how many of the 10 digit classes get at least 1 % of
the samples, reported with the class histogram and the classifier's mean
confidence."""

import numpy as np

import nncore
from .. import optim
from ..data import MNIST, DataLoader, TensorDataset, digits_datasets
from ..models.cnn import LeNet
from ..models.gan import GENERATOR_LOSSES, dcgan_discriminator, dcgan_generator
from . import Option, RecipeError, Trained, evaluator, recipe, user_input
from ._common import fit_classifier, to_device
from ._run import Run
from ._generative import adversarial_step, checkpoint, draw_grid, epoch_rng, resume, seed_epoch

NZ, IMAGE_SIZE = 100, 32
QUALITY_SAMPLES = 1000
PRESENT = 0.01          # a class is present with at least 1 % of the samples


def training_images(run):
    """(N, 1, 32, 32) float32 in [-1, 1]: the digits' training split (8x8 upsampled
    x4), or MNIST's training images padded from 28x28 to 32x32 with --data."""
    if run.data is None:
        train_set, _ = digits_datasets(size=IMAGE_SIZE)
        x, _ = train_set[np.arange(len(train_set))]
    else:
        with user_input(f"--data {run.data}"):
            x = _pad_to_32(MNIST(run.data, train=True).arrays[0])
    return (x * 2 - 1).astype(np.float32)


def _pad_to_32(x):
    """(N, 1, 28, 28) MNIST images -> (N, 1, 32, 32), 2 zero pixels on every side (as LeNet-5 read them)."""
    if x.shape[-2:] != (28, 28):
        raise RecipeError(f"dcgan --data: expected 28x28 MNIST images, got {x.shape[-2]}x{x.shape[-1]}")
    return np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])


def build(options, device="cpu"):
    generator = dcgan_generator(NZ, options["ngf"], 1, IMAGE_SIZE).to(device)
    discriminator = dcgan_discriminator(options["ndf"], 1, IMAGE_SIZE).to(device)
    return generator, discriminator


def generate(generator, z, run, batch_size=250):
    """Images (N, 1, 32, 32) in [0, 1] as a NumPy array from noise z (N, NZ), G in eval mode."""
    was_training = generator.training
    generator.eval()
    out = []
    with nncore.no_grad():
        for i in range(0, len(z), batch_size):
            out.append(generator(to_device(z[i:i + batch_size], run)).cpu().numpy())
    generator.train(was_training)
    return (np.concatenate(out) + 1) / 2


def fixed_noise(run, n, salt):
    return epoch_rng(run, salt, 0).standard_normal((n, NZ)).astype(np.float32)


def judge_classifier(run):
    """The classifier that labels samples: the CNN recipe's LeNet trained on the
    digits, or with --data a LeNet trained here on MNIST's training images (the
    same model and optimiser, 2 epochs), its t10k accuracy logged."""
    from .cnn import CNN_LR, digits_classifier

    if run.data is None:
        return digits_classifier(seed=0).to(run.device).eval()
    with user_input(f"--data {run.data}"):
        train_set, test_set = MNIST(run.data, train=True), MNIST(run.data, train=False)
    train_set = TensorDataset(_pad_to_32(train_set.arrays[0]), train_set.arrays[1])
    test_set = TensorDataset(_pad_to_32(test_set.arrays[0]), test_set.arrays[1])
    nncore.manual_seed(run.seed)
    model = LeNet().to(run.device)
    judge_run = Run("dcgan-judge", 2, 64, CNN_LR, run.seed, run.device, quiet=run.quiet, stream=run.stream)
    accuracy = fit_classifier(judge_run, model, train_set, test_set, optim.Adam(model.parameters(), lr=CNN_LR))
    run.log(f"MNIST LeNet judge: test accuracy {accuracy:.4f}")
    return model.eval()


def judge(images, run, classifier):
    """What the classifier says of images (N, 1, 32, 32) in [0, 1]:
    (classes present, class histogram as fractions (10,), mean confidence)."""
    logits = []
    with nncore.no_grad():
        for i in range(0, len(images), 250):
            logits.append(classifier(to_device(images[i:i + 250], run)).cpu().numpy())
    logits = np.concatenate(logits).astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    histogram = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    return int((histogram >= PRESENT).sum()), histogram, float(probs.max(1).mean())


@recipe("dcgan", "DCGAN at 32x32 on the digits (or MNIST IDX files with --data); a digits classifier judges samples",
        metric="digit classes present in 1,000 generated samples (of 10)", epochs=25, batch_size=32, lr=2e-4,
        options={"ngf": Option(32, "generator width (channels of its last hidden layer)"),
                 "ndf": Option(32, "discriminator width (channels of its first layer)"),
                 "loss": Option("non-saturating", "generator loss", GENERATOR_LOSSES),
                 "resume": Option(None, "continue from a dcgan.npz written by an earlier run (--epochs is the total)")})
def train(run):
    images = training_images(run)
    generator, discriminator = build(run.options, run.device)
    opt_g = optim.Adam(generator.parameters(), lr=run.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(discriminator.parameters(), lr=run.lr, betas=(0.5, 0.999))
    modules = {"generator": generator, "discriminator": discriminator}
    optimizers = {"opt_g": opt_g, "opt_d": opt_d}
    done = 0
    if run.options["resume"]:
        done, _ = resume(run, modules, optimizers, run.options["resume"])
    grid_noise = fixed_noise(run, 64, salt=3)
    dataset = TensorDataset(images)
    for epoch in range(done + 1, run.epochs + 1):
        loader = DataLoader(dataset, batch_size=run.batch_size, shuffle=True, drop_last=True,
                            generator=epoch_rng(run, 1, epoch))
        seed_epoch(run, 2, epoch)
        sums = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake"), 0.0)
        for (x,) in run.progress(loader, desc=f"epoch {epoch}/{run.epochs}", total=len(loader)):
            z = nncore.randn(len(x), NZ, 1, 1, device=run.device)
            out = adversarial_step(generator, discriminator, opt_g, opt_d, to_device(x, run), z,
                                   run.options["loss"])
            for k in sums:
                sums[k] += out[k] / len(loader)
        run.epoch(epoch, **sums)
        run.picture(f"dcgan_samples_epoch{epoch:03d}", draw_grid, generate(generator, grid_noise, run), 8, 8,
                    f"DCGAN samples after epoch {epoch} (fixed noise)")
    run.picture("dcgan_interpolation", _draw_interpolation, generator, run)
    present, histogram, confidence = judge(generate(generator, fixed_noise(run, QUALITY_SAMPLES, 4), run), run,
                                           judge_classifier(run))
    run.log(f"digits classifier on {QUALITY_SAMPLES} samples: {present}/10 classes present, mean confidence "
            f"{confidence:.3f}, histogram " + " ".join(f"{d}:{h:.1%}" for d, h in enumerate(histogram)))
    return Trained(present, checkpoint(run, run.epochs, modules, optimizers),
                   {"histogram": histogram.tolist(), "confidence": confidence})


@evaluator("dcgan")
def evaluate(run, state):
    generator, _ = build(run.options)
    generator.load_state_dict(state["generator"])
    return judge(generate(generator.to(run.device), fixed_noise(run, QUALITY_SAMPLES, 4), run), run,
                 judge_classifier(run))[0]


def _draw_interpolation(fig, generator, run, pairs=4, steps=10):
    ends = fixed_noise(run, 2 * pairs, salt=5)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    z = np.concatenate([(1 - t) * ends[2 * i] + t * ends[2 * i + 1] for i in range(pairs)])   # (pairs*steps, NZ)
    draw_grid(fig, generate(generator, z, run), pairs, steps,
              "DCGAN: straight lines in z-space (each row from one noise vector to another)", size=10.0)
