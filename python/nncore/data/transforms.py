"""Transforms on NumPy images (C, H, W) or batches (N, C, H, W), float32: the
torchvision.transforms a classic notebook uses. Random transforms take a
`generator` (a NumPy Generator or an int seed), so a seeded run is repeatable."""

import numbers

import numpy as np

from .dataset import _generator


def _image(x, op):
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")
    return x


def _size2(size, op):
    if isinstance(size, numbers.Integral):
        size = (size, size)
    size = tuple(size)
    if len(size) != 2 or any(not isinstance(s, numbers.Integral) or s < 1 for s in size):
        raise ValueError(f"{op}: size must be a positive int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class Normalize:
    """(x - mean[c]) / std[c] per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std!r}")

    def __call__(self, x):
        x = _image(x, "Normalize")
        if self.mean.shape[0] not in (1, x.shape[-3]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} channel means for an image with {x.shape[-3]} channels")
        return ((x - self.mean) / self.std).astype(np.float32)


class Pad:
    """Pads H and W by `padding` on every side with `fill`."""

    def __init__(self, padding, fill=0.0):
        if not isinstance(padding, numbers.Integral) or padding < 0:
            raise ValueError(f"Pad: padding must be a non-negative int, got {padding!r}")
        self.padding = int(padding)
        self.fill = fill

    def __call__(self, x):
        x = _image(x, "Pad")
        p = self.padding
        widths = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
        return np.pad(x, widths, constant_values=self.fill)


class RandomCrop:
    """A random (height, width) window, after zero-padding by `padding` (the CIFAR
    augmentation: pad 4, crop 32). A batch gets one window per image."""

    def __init__(self, size, padding=0, fill=0.0, generator=None):
        self.size = _size2(size, "RandomCrop")
        self.pad = Pad(padding, fill)
        self.rng = _generator(generator)

    def __call__(self, x):
        x = self.pad(_image(x, "RandomCrop"))
        h, w = self.size
        H, W = x.shape[-2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the (padded) image {(H, W)}")
        if x.ndim == 3:
            i, j = self.rng.integers(0, H - h + 1), self.rng.integers(0, W - w + 1)
            return x[:, i:i + h, j:j + w].copy()
        out = np.empty(x.shape[:2] + (h, w), x.dtype)
        rows = self.rng.integers(0, H - h + 1, len(x))
        cols = self.rng.integers(0, W - w + 1, len(x))
        for n, (i, j) in enumerate(zip(rows, cols)):
            out[n] = x[n, :, i:i + h, j:j + w]
        return out


class RandomHorizontalFlip:
    """Mirrors left-right with probability p (per image in a batch)."""

    def __init__(self, p=0.5, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = p
        self.rng = _generator(generator)

    def __call__(self, x):
        x = _image(x, "RandomHorizontalFlip")
        if x.ndim == 3:
            return x[..., ::-1].copy() if self.rng.random() < self.p else x
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomAffineShift:
    """Shifts the image by up to `max_shift` pixels in each direction (zero fill):
    the translation augmentation used for small digit images."""

    def __init__(self, max_shift=1, generator=None):
        if not isinstance(max_shift, numbers.Integral) or max_shift < 0:
            raise ValueError(f"RandomAffineShift: max_shift must be a non-negative int, got {max_shift!r}")
        self.crop = RandomCrop(1, padding=int(max_shift), generator=generator)
        self.max_shift = int(max_shift)

    def __call__(self, x):
        x = _image(x, "RandomAffineShift")
        self.crop.size = x.shape[-2:]
        return self.crop(x)


class Resize:
    """Resizes H and W to `size` with `nncore.functional.interpolate`."""

    def __init__(self, size, mode="nearest"):
        self.size = _size2(size, "Resize")
        self.mode = mode

    def __call__(self, x):
        from .. import functional as F
        from ..tensor import tensor

        x = _image(x, "Resize")
        batch = x if x.ndim == 4 else x[None]
        out = F.interpolate(tensor(np.ascontiguousarray(batch, np.float32)), size=self.size, mode=self.mode).numpy()
        return out if x.ndim == 4 else out[0]
