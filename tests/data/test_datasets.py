"""nncore.data: datasets, the loader, random_split and the bundled digits."""

import numpy as np
import pytest

import nncore
from nncore.data import (DataLoader, Subset, TensorDataset, digits_datasets, digits_split, load_digits,
                         random_split)


def test_digits_are_the_uci_set():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16 and np.all(x == np.round(x))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    flat, _ = load_digits(flatten=True)
    assert flat.shape == (1797, 64) and np.array_equal(flat, x.reshape(1797, 64))


def test_digits_split_is_fixed_stratified_and_disjoint():
    train, test = digits_split()
    assert len(train) + len(test) == 1797 and not set(train) & set(test)
    _, y = load_digits()
    share = np.bincount(y[test], minlength=10) / np.bincount(y, minlength=10)
    assert np.all(np.abs(share - 0.2) < 0.01)
    again_train, again_test = digits_split()
    assert np.array_equal(test, again_test) and np.array_equal(train, again_train)
    assert not np.array_equal(test, digits_split(seed=1)[1])


@pytest.mark.parametrize("size", [8, 16, 28, 32])
def test_digits_resized_keep_their_pixels(size):
    train, test = digits_datasets(size=size)
    x, y = test[np.arange(len(test))]
    assert x.shape == (len(test), 1, size, size)
    assert 0.0 <= x.min() and x.max() <= 1.0
    raw, labels = load_digits()
    assert np.array_equal(y, labels[digits_split()[1]])
    factor = size // 8
    np.testing.assert_allclose(x.sum(axis=(1, 2, 3)), raw[digits_split()[1]].sum(axis=(1, 2, 3)) / 16 * factor ** 2,
                               rtol=1e-5)


def test_tensor_dataset_rows_and_errors(rng):
    a = rng.standard_normal((7, 3)).astype(np.float32)
    b = np.arange(7)
    ds = TensorDataset(a, b)
    assert len(ds) == 7
    x, y = ds[3]
    assert np.array_equal(x, a[3]) and y == 3
    assert np.array_equal(TensorDataset(nncore.tensor(a))[2][0], a[2])
    with pytest.raises(ValueError, match="arrays\\[1\\]"):
        TensorDataset(a, np.arange(6))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("n,batch,drop_last", [(0, 3, False), (1, 3, False), (7, 3, False), (7, 3, True),
                                               (9, 3, True), (17, 5, False), (5, 8, True)])
def test_loader_covers_every_sample_once(n, batch, drop_last, rng):
    x = rng.standard_normal((n, 2)).astype(np.float32)
    y = np.arange(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, drop_last=drop_last, generator=3)
    seen = []
    batches = list(loader)
    assert len(batches) == len(loader)
    for xb, yb in batches:
        assert xb.shape == (len(yb), 2) and yb.dtype == y.dtype
        assert len(yb) == batch or not drop_last
        np.testing.assert_array_equal(xb, x[yb])
        seen.extend(yb.tolist())
    expected = n - n % batch if drop_last else n
    assert len(seen) == len(set(seen)) == expected


def test_loader_shuffle_is_seeded_and_changes_per_epoch():
    ds = TensorDataset(np.arange(20), np.arange(20))
    first = [yb.tolist() for _, yb in DataLoader(ds, 5, shuffle=True, generator=1)]
    second = [yb.tolist() for _, yb in DataLoader(ds, 5, shuffle=True, generator=1)]
    assert first == second
    loader = DataLoader(ds, 5, shuffle=True, generator=1)
    assert [yb.tolist() for _, yb in loader] != [yb.tolist() for _, yb in loader]
    assert [yb.tolist() for _, yb in DataLoader(ds, 5)] == [list(range(i, i + 5)) for i in range(0, 20, 5)]


def test_loader_collates_samples_of_a_plain_dataset():
    class Squares(nncore.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2, 2), i, np.float32), np.int64(i * i)

    xb, yb = next(iter(DataLoader(Squares(), batch_size=4)))
    assert xb.shape == (4, 2, 2) and yb.tolist() == [0, 1, 4, 9]


def test_loader_rejects_bad_arguments():
    ds = TensorDataset(np.arange(4))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match="shuffle"):
        DataLoader(ds, shuffle=1)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="x")


def test_random_split_counts_fractions_and_errors():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [7, 3], generator=0)
    assert len(a) == 7 and len(b) == 3
    got = sorted(int(a[i][0]) for i in range(7)) + sorted(int(b[i][0]) for i in range(3))
    assert sorted(got) == list(range(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    assert [len(p) for p in random_split(TensorDataset(np.arange(11)), [0.5, 0.5], generator=0)] == [6, 5]
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.6])
    sub = Subset(ds, [4, 2])
    assert int(sub[1][0]) == 2 and sub[np.array([0, 1])][0].tolist() == [4, 2]
