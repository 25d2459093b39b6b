"""nncore.data.transforms on single images and batches."""

import numpy as np
import pytest

from nncore.data import transforms as T


def test_normalize_per_channel(rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    out = T.Normalize([0.1, 0.2, 0.3], [1.0, 2.0, 4.0])(x)
    np.testing.assert_allclose(out[1], (x[1] - 0.2) / 2.0, rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="std"):
        T.Normalize([0.0], [0.0])
    with pytest.raises(ValueError, match="channel"):
        T.Normalize([0.0, 0.0], [1.0, 1.0])(x)


def test_random_crop_with_padding_is_a_window_of_the_padded_image(rng):
    x = rng.standard_normal((2, 6, 7)).astype(np.float32)
    crop = T.RandomCrop((6, 7), padding=2, generator=0)
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2)])
    offsets = set()
    for _ in range(40):
        out = crop(x)
        assert out.shape == x.shape
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[:, i:i + 6, j:j + 7], out)]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 5
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(9)(x)


def test_random_crop_batch_draws_per_image(rng):
    x = rng.standard_normal((16, 1, 5, 5)).astype(np.float32)
    out = T.RandomCrop(5, padding=1, generator=1)(x)
    assert out.shape == x.shape
    assert sum(np.array_equal(o, i) for o, i in zip(out, x)) < 16


def test_horizontal_flip_is_seeded_and_per_image(rng):
    x = rng.standard_normal((50, 2, 3, 4)).astype(np.float32)
    out = T.RandomHorizontalFlip(0.5, generator=2)(x)
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 40
    again = T.RandomHorizontalFlip(0.5, generator=2)(x)
    assert np.array_equal(out, again)
    assert np.array_equal(T.RandomHorizontalFlip(1.0)(x[0]), x[0][..., ::-1])


def test_shift_moves_the_image_by_at_most_max_shift(rng):
    x = np.zeros((1, 8, 8), np.float32)
    x[0, 4, 4] = 1.0
    for _ in range(20):
        out = T.RandomAffineShift(1, generator=None)(x)
        i, j = np.argwhere(out[0] == 1.0)[0]
        assert abs(i - 4) <= 1 and abs(j - 4) <= 1


def test_resize_nearest_and_compose(rng):
    x = rng.standard_normal((1, 4, 4)).astype(np.float32)
    out = T.Compose([T.Resize(8), T.Pad(1)])(x)
    assert out.shape == (1, 10, 10)
    np.testing.assert_array_equal(out[0, 1:-1, 1:-1], x[0].repeat(2, 0).repeat(2, 1))
    with pytest.raises(ValueError, match="size"):
        T.Resize(0)
    with pytest.raises(ValueError, match="image"):
        T.Resize(4)(np.zeros((4, 4)))
