"""Datasets and the loader that batches them (PyTorch's torch.utils.data, on
NumPy arrays): Dataset, TensorDataset, Subset, random_split, DataLoader."""

import numbers

import numpy as np


class Dataset:
    """A sized collection of samples: `len(ds)` and `ds[i]` (a sample, often a tuple)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__()")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} has no __len__()")


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long arrays (NumPy arrays or Tensors);
    an optional `transform` is applied to the first array's row."""

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        arrays = tuple(_as_array(a, f"arrays[{i}]") for i, a in enumerate(arrays))
        n = len(arrays[0])
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(f"TensorDataset: every array must have {n} rows (as arrays[0]); "
                                 f"arrays[{i}] has shape {a.shape}")
        self.arrays = arrays
        self.transform = transform

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            items = (self.transform(items[0]),) + items[1:]
        return items

    def __len__(self):
        return len(self.arrays[0])


def _as_array(a, name):
    if hasattr(a, "numpy") and hasattr(a, "detach"):
        a = a.detach().numpy()
    a = np.asarray(a)
    if a.dtype == object:
        raise TypeError(f"TensorDataset: {name} must be a numeric array, got dtype object")
    return a


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, np.int64)

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral):
            return self.dataset[int(self.indices[index])]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Splits `dataset` into non-overlapping Subsets of the given lengths (counts, or
    fractions summing to 1, rounded as PyTorch rounds them: the remainder goes to the
    first splits one by one). `generator` is a NumPy Generator or an int seed."""
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) for x in lengths):
        if abs(sum(lengths) - 1.0) > 1e-6 or any(x < 0 for x in lengths):
            raise ValueError(f"random_split: fractions must be non-negative and sum to 1, got {lengths}")
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints (or fractions), got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths sum to {sum(lengths)}, but the dataset has {n} samples")
    perm = _generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out


def _generator(generator):
    if generator is None or isinstance(generator, numbers.Integral):
        return np.random.default_rng(generator)
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a numpy.random.Generator or an int seed, got {type(generator).__name__}")


def default_collate(samples):
    """Stacks a list of samples into a batch: tuples field by field, numbers and
    arrays into one array (labels keep their integer dtype)."""
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    return np.stack([np.asarray(s) for s in samples])


class DataLoader:
    """Iterates over `dataset` in batches of `batch_size`. `shuffle` draws a new
    order every epoch from `generator` (a NumPy Generator or an int seed: the
    same seed gives the same sequence of epochs); a `sampler` (an iterable of
    indices with a length, such as nncore.distributed.DistributedSampler) gives
    the order instead. Datasets that index by arrays (TensorDataset, Subset of
    one) are batched with one fancy index, without a Python loop over samples."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, generator=None,
                 sampler=None):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(shuffle, bool) or not isinstance(drop_last, bool):
            raise TypeError("DataLoader: shuffle and drop_last must be bools")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: give either shuffle=True or a sampler, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.generator = _generator(generator) if shuffle else None
        self.sampler = sampler

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _fetch(self, idx):
        ds = self.dataset
        if self.collate_fn is None and _indexes_by_array(ds):
            batch = ds[idx]
            return batch
        return (self.collate_fn or default_collate)([ds[int(i)] for i in idx])

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), np.int64)
        else:
            n = len(self.dataset)
            order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])


def _indexes_by_array(ds):
    while isinstance(ds, Subset):
        ds = ds.dataset
    return isinstance(ds, TensorDataset) and ds.transform is None
