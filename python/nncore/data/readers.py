"""Readers for the data sets users bring (nothing is downloaded): MNIST-style IDX
files, CIFAR-10 batches (python or binary version) and a folder of images per
class. Each returns a Dataset of (image (C, H, W) float32 in [0, 1], label int64)."""

import gzip
import io
import os
import pickle

import numpy as np

from .dataset import Dataset, TensorDataset

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path):
    """One IDX file (the MNIST format: magic 0x0000TTDD, DD big-endian dimension
    sizes, then the data), optionally gzipped, as a NumPy array."""
    with _open(path) as f:
        try:
            raw = f.read()
        except (OSError, EOFError) as e:
            raise ValueError(f"read_idx: {path} is not a readable (gzipped) IDX file: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"read_idx: {path} has a truncated header ({ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: {path} declares shape {shape} ({expected} bytes of data) "
                         f"but holds {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root, stem, what):
    for name in (stem, stem + ".gz"):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    return None


class MNIST(TensorDataset):
    """MNIST or Fashion-MNIST from the four IDX files in `root` (train-images-idx3-ubyte,
    train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
    possibly .gz; the dotted names some mirrors use are accepted too)."""

    def __init__(self, root, train=True, transform=None):
        prefix = "train" if train else "t10k"
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"MNIST: {root} is not a folder; expected one holding {prefix}-images-idx3-ubyte"
                                    f"[.gz] and {prefix}-labels-idx1-ubyte[.gz]")
        paths = []
        for kind, dims in (("images", 3), ("labels", 1)):
            stem = f"{prefix}-{kind}-idx{dims}-ubyte"
            path = _find(root, stem, kind) or _find(root, stem.replace("-idx", ".idx"), kind)
            if path is None:
                raise FileNotFoundError(f"MNIST: {root} has no {stem} or {stem}.gz (nothing is downloaded: put the "
                                        f"IDX files there)")
            paths.append(path)
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"MNIST: {paths[0]} holds shape {images.shape} and {paths[1]} shape {labels.shape}; "
                             f"expected (N, H, W) images and (N,) labels")
        super().__init__((images[:, None] / np.float32(255.0)).astype(np.float32), labels.astype(np.int64),
                         transform=transform)


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR's python batches are pickles; this reads only what they hold (dicts,
    lists, bytes and NumPy arrays) and refuses every other class."""

    _allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_python(path):
    with open(path, "rb") as f:
        try:
            batch = _CifarUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        except Exception as e:
            raise ValueError(f"CIFAR10: {path} is not a CIFAR-10 python batch: {e}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"CIFAR10: {path} lacks the 'data' and 'labels' entries of a CIFAR-10 batch")
    data = np.asarray(batch[b"data"], np.uint8)
    labels = np.asarray(batch[b"labels"], np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"CIFAR10: {path} holds data {data.shape} and {labels.shape} labels; "
                         f"expected (N, 3072) and (N,)")
    return data, labels


def _cifar_binary(path):
    raw = np.fromfile(path, np.uint8)
    if raw.size % 3073:
        raise ValueError(f"CIFAR10: {path} is {raw.size} bytes, not a whole number of 3073-byte records")
    records = raw.reshape(-1, 3073)
    return records[:, 1:], records[:, 0].astype(np.int64)


class CIFAR10(TensorDataset):
    """CIFAR-10 from `root`: the python version (data_batch_1..5, test_batch; also
    inside a cifar-10-batches-py folder) or the binary one (data_batch_1..5.bin,
    test_batch.bin)."""

    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    def __init__(self, root, train=True, transform=None):
        root = os.fspath(root)
        for sub in ("", "cifar-10-batches-py", "cifar-10-batches-bin"):
            folder = os.path.join(root, sub)
            names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
            if all(os.path.isfile(os.path.join(folder, n)) for n in names):
                parts = [_cifar_python(os.path.join(folder, n)) for n in names]
                break
            if all(os.path.isfile(os.path.join(folder, n + ".bin")) for n in names):
                parts = [_cifar_binary(os.path.join(folder, n + ".bin")) for n in names]
                break
        else:
            raise FileNotFoundError(f"CIFAR10: {root} holds neither the python batches ({', '.join(names)}) nor "
                                    f"the binary ones (*.bin), directly or in cifar-10-batches-py/-bin")
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"CIFAR10: labels outside 0..9 in {root}")
        images = (data.reshape(-1, 3, 32, 32) / np.float32(255.0)).astype(np.float32)
        super().__init__(images, labels, transform=transform)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def load_image(path, mode="RGB"):
    """An image file as (C, H, W) float32 in [0, 1] (Pillow, the `images` extra)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading image files needs Pillow: pip install 'nncore[images]'") from None
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert(mode), np.float32) / np.float32(255.0)
    except OSError as e:
        raise ValueError(f"load_image: cannot read {path}: {e}") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()


class ImageFolder(Dataset):
    """root/<class>/<image>: classes are the sub-folder names in sorted order,
    images are read on access (Pillow) as (C, H, W) float32 in [0, 1]."""

    def __init__(self, root, transform=None, mode="RGB"):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageFolder: {root} is not a folder")
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        if not self.classes:
            raise ValueError(f"ImageFolder: {root} has no class sub-folders (expected root/<class>/<image>)")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            folder = os.path.join(root, c)
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    self.samples.append((os.path.join(folder, name), self.class_to_idx[c]))
        if not self.samples:
            raise ValueError(f"ImageFolder: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
        self.transform = transform
        self.mode = mode

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = load_image(path, self.mode)
        if self.transform is not None:
            image = self.transform(image)
        return image, np.int64(label)

    def __len__(self):
        return len(self.samples)
