"""Readers for MNIST IDX files, CIFAR-10 batches and image folders, on small files
written here in each format; malformed files get clear errors."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from nncore.data import CIFAR10, MNIST, ImageFolder, read_idx


def write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, rng, gz):
    ext = ".gz" if gz else ""
    for prefix, n in (("train", 7), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 5, 4), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", labels)
        ds = MNIST(tmp_path, train=prefix == "train")
        assert len(ds) == n
        x, y = ds[n - 1]
        assert x.shape == (1, 5, 4) and x.dtype == np.float32
        np.testing.assert_allclose(x[0], images[-1] / 255.0, rtol=1e-6)
        assert y == labels[-1] and y.dtype == np.int64


def test_read_idx_other_types(tmp_path, rng):
    a = rng.standard_normal((3, 2)).astype(np.float32)
    write_idx(tmp_path / "f.idx", a, 0x0D)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "f.idx")), a)


def test_mnist_errors_name_the_files(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNIST(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        MNIST(tmp_path / "missing")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="truncated"):
        MNIST(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="images"):
        MNIST(tmp_path)
    (tmp_path / "bad").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="magic"):
        read_idx(str(tmp_path / "bad"))
    data = bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x01\x02"
    (tmp_path / "short").write_bytes(data)
    with pytest.raises(ValueError, match="declares shape"):
        read_idx(str(tmp_path / "short"))


def _cifar_arrays(rng, n):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def test_cifar_python_batches(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    expected = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = _cifar_arrays(rng, 2)
        expected.append((data, labels))
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
    train = CIFAR10(tmp_path)
    assert len(train) == 10
    x, y = train[9]
    np.testing.assert_allclose(x, expected[4][0][1].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    assert y == expected[4][1][1]
    test = CIFAR10(tmp_path, train=False)
    assert len(test) == 2 and test[0][1] == expected[5][1][0]


def test_cifar_binary_batches(tmp_path, rng):
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        data, labels = _cifar_arrays(rng, 3)
        records = np.concatenate([np.array(labels, np.uint8)[:, None], data], 1)
        records.tofile(tmp_path / f"{name}.bin")
    ds = CIFAR10(tmp_path)
    assert len(ds) == 15 and ds[14][1] == labels[2]
    np.testing.assert_allclose(ds[14][0].reshape(-1), data[2] / 255.0, rtol=1e-6)


def test_cifar_refuses_foreign_pickles_and_bad_files(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        CIFAR10(tmp_path)
    for i in range(1, 6):
        with open(tmp_path / f"data_batch_{i}", "wb") as f:
            pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        CIFAR10(tmp_path)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}").write_bytes(b"\x80\x04garbage")
    with pytest.raises(ValueError, match="not a CIFAR-10 python batch"):
        CIFAR10(tmp_path)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}").unlink()
        (tmp_path / f"data_batch_{i}.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="3073-byte records"):
        CIFAR10(tmp_path)


def test_image_folder(tmp_path, rng):
    Image = pytest.importorskip("PIL.Image")
    pixels = {}
    for cls in ("cat", "ant"):
        (tmp_path / cls).mkdir()
        for k in range(2):
            arr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{k}.png")
            pixels[(cls, k)] = arr
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["ant", "cat"] and len(ds) == 4
    x, y = ds[3]
    assert x.shape == (3, 6, 5) and y == 1
    np.testing.assert_allclose(x.transpose(1, 2, 0), pixels[("cat", 1)] / 255.0, rtol=1e-6)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    ds = ImageFolder(tmp_path)
    with pytest.raises(ValueError, match="broken.png"):
        ds[4]
    with pytest.raises(ValueError, match="class sub-folders"):
        ImageFolder(tmp_path / "ant")
