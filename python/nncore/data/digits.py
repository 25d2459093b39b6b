"""The UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0): 1797 8x8 images with pixel counts 0..16, bundled as
digits.npz (taken from the copy scikit-learn ships as digits.csv.gz)."""

import os

import numpy as np

from .dataset import Subset, TensorDataset

_PATH = os.path.join(os.path.dirname(__file__), "digits.npz")


def load_digits(flatten=False):
    """(images, labels): images float32 in [0, 16], shaped (1797, 1, 8, 8), or
    (1797, 64) with flatten=True; labels int64 in 0..9."""
    with np.load(_PATH) as f:
        images = f["images"].astype(np.float32)
        labels = f["labels"].astype(np.int64)
    return (images.reshape(len(images), 64) if flatten else images[:, None]), labels


def digits_split(test_fraction=0.2, seed=0):
    """The fixed train/test split every recipe uses: a seeded permutation,
    stratified so each digit keeps its share in both parts. Returns index arrays."""
    _, labels = load_digits()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits_datasets(size=8, flatten=False, scale=True, test_fraction=0.2, seed=0):
    """(train, test) TensorDatasets of the digits on the fixed split. Pixels are
    scaled to [0, 1] (scale=True); size > 8 upsamples (nearest, an integer factor)
    or centres the 8x8 image on a zero canvas (a size not a multiple of 8)."""
    images, labels = load_digits()
    if scale:
        images = images / np.float32(16.0)
    images = resize_digits(images, size)
    if flatten:
        images = images.reshape(len(images), -1)
    train_idx, test_idx = digits_split(test_fraction, seed)
    full = TensorDataset(images, labels)
    return Subset(full, train_idx), Subset(full, test_idx)


def resize_digits(images, size):
    """(N, 1, 8, 8) -> (N, 1, size, size): nearest upsampling by size // 8, then
    zero padding to centre the result."""
    if size == 8:
        return images
    if size < 8:
        raise ValueError(f"digits: size must be at least 8, got {size}")
    factor = size // 8
    up = images.repeat(factor, axis=2).repeat(factor, axis=3) if factor > 1 else images
    pad = size - up.shape[-1]
    lo = pad // 2
    return np.pad(up, [(0, 0), (0, 0), (lo, pad - lo), (lo, pad - lo)]).astype(np.float32)
