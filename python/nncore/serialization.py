"""nncore.save / nncore.load: state dicts (nested dicts of arrays and plain
numbers) in one .npz file, written to a temporary file in the same folder and
renamed over the target (a crash mid-write leaves the previous file intact).
Loading never unpickles: nothing in a file can run code, and a hostile file
(random bytes, tampered metadata, a decompression bomb, a FIFO) is refused with
a ValueError naming it before anything large is read."""

import json
import math
import os
import stat
import tempfile
import zipfile

import numpy as np

# The most bytes load() decompresses unless its caller raises max_bytes.
DEFAULT_MAX_BYTES = 4 << 30

_SEP = "/"
_META = "__nncore_meta__"


def _flatten(obj, prefix, arrays, kinds):
    from .tensor import Tensor

    if isinstance(obj, dict):
        if not obj and prefix:
            kinds[prefix] = "emptydict"
        seen = set()
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} at {prefix!r}")
            skey = str(key)
            if skey in seen:
                raise ValueError(f"save: keys {key!r} and {skey if isinstance(key, int) else int(skey)!r} at "
                                 f"{prefix!r} would be stored under one name; keep one of them")
            seen.add(skey)
            if _SEP in skey or skey == _META:
                raise ValueError(f"save: key {skey!r} at {prefix!r} may not contain '{_SEP}' or be '{_META}'")
            path = f"{prefix}{_SEP}{skey}" if prefix else skey
            if isinstance(key, int):
                kinds[path + "#key"] = "int"
            _flatten(value, path, arrays, kinds)
        return
    if not prefix:
        raise TypeError(f"save: expected a dict at the top level, got {type(obj).__name__}")
    if isinstance(obj, (list, tuple)):
        kinds[prefix] = "list" if isinstance(obj, list) else "tuple"
        for i, value in enumerate(obj):
            _flatten(value, f"{prefix}{_SEP}{i}", arrays, kinds)
        if not obj:
            kinds[prefix] = "emptylist" if isinstance(obj, list) else "emptytuple"
        return
    if isinstance(obj, Tensor):
        arr = obj.data
        arrays[prefix] = arr.get() if hasattr(arr, "get") and not isinstance(arr, np.ndarray) else arr
        kinds[prefix] = "tensor"
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError(f"save: object arrays cannot be saved (at {prefix!r})")
        arrays[prefix] = obj
        kinds[prefix] = "array"
        return
    if hasattr(obj, "__cuda_array_interface__"):
        arrays[prefix] = obj.get()
        kinds[prefix] = "array"
        return
    if obj is None:
        kinds[prefix] = "none"
        return
    if isinstance(obj, (bool, int, float, np.generic)):
        arrays[prefix] = np.asarray(obj)
        kinds[prefix] = type(obj).__name__ if isinstance(obj, (bool, int, float)) else "array0"
        return
    if isinstance(obj, str):
        kinds[prefix] = "str:" + obj
        return
    raise TypeError(f"save: cannot save a {type(obj).__name__} at {prefix!r}; state must be nested dicts "
                    f"(lists) of arrays, Tensors, numbers and strings")


def save(obj, f):
    """Writes obj (a dict, possibly nested) to path f as .npz, atomically."""
    arrays, kinds = {}, {}
    _flatten(obj, "", arrays, kinds)
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nncore-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{_META: np.frombuffer(json.dumps(kinds).encode(), np.uint8)}, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _insert(root, path, value, kinds):
    parts = path.split(_SEP)
    node = root
    for i, part in enumerate(parts[:-1]):
        prefix = _SEP.join(parts[: i + 1])
        key = int(part) if kinds.get(prefix + "#key") == "int" else part
        node = node.setdefault(key, {})
    last = parts[-1]
    key = int(last) if kinds.get(path + "#key") == "int" else last
    node[key] = value


def _lists(obj, prefix, kinds):
    if not isinstance(obj, dict):
        return obj
    out = {k: _lists(v, f"{prefix}{_SEP}{k}" if prefix else str(k), kinds) for k, v in obj.items()}
    kind = kinds.get(prefix)
    if kind in ("list", "tuple"):
        seq = [out[k] for k in sorted(out, key=lambda k: int(k))]
        return seq if kind == "list" else tuple(seq)
    return out


class _Archive:
    """The arrays of an .npz file, each header checked before its data is read:
    a plain numeric dtype, and no more bytes than the archive declares."""

    def __init__(self, path, max_bytes):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise ValueError(f"load: {path} is not an nncore file (not a .npz archive: {e})") from None
        infos = self.zip.infolist()
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            self.zip.close()
            raise ValueError(f"load: {path} declares {total} bytes of arrays, more than max_bytes={max_bytes}; "
                             f"pass a larger max_bytes to load it")
        self.sizes = {i.filename[:-4]: i.file_size for i in infos if i.filename.endswith(".npy")}

    def __getitem__(self, name):
        if name not in self.sizes:
            raise ValueError(f"load: {self.path} lists {name!r} but holds no such array")
        fmt = np.lib.format
        with self.zip.open(name + ".npy") as fh:
            version = fmt.read_magic(fh)
            header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = header(fh)
            if dtype.hasobject:
                raise ValueError(f"load: {self.path}: {name!r} has dtype {dtype}, which holds Python objects; "
                                 f"only plain arrays (numbers, strings) are loaded")
            if math.prod(shape) * dtype.itemsize > self.sizes[name]:
                raise ValueError(f"load: {self.path}: {name!r} declares shape {shape} of {dtype}, larger than "
                                 f"its {self.sizes[name]} stored bytes")
        with self.zip.open(name + ".npy") as fh:
            return fmt.read_array(fh, allow_pickle=False)

    def close(self):
        self.zip.close()


def _check_regular(path):
    try:
        st = os.stat(path)
    except OSError as e:
        raise FileNotFoundError(f"load: cannot open {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"load: {path} is not a regular file")


def load(f, map_location=None, as_tensors=True, *, max_bytes=DEFAULT_MAX_BYTES):
    """Reads a file written by save. Arrays come back as Tensors (as_tensors)
    or NumPy arrays; nothing is unpickled. Only regular files are read, and at
    most max_bytes (default 4 GiB) of decompressed arrays: a file declaring
    more is refused before anything is decompressed."""
    path = os.fspath(f)
    _check_regular(path)
    archive = _Archive(path, max_bytes)
    try:
        return _load(archive, path, map_location, as_tensors)
    except ValueError as e:
        if str(e).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is not a valid nncore file ({type(e).__name__}: {e})") from None
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError, EOFError, OSError,
            zipfile.BadZipFile, NotImplementedError) as e:
        raise ValueError(f"load: {path} is not a valid nncore file ({type(e).__name__}: {e})") from None
    finally:
        archive.close()


def _load(data, f, map_location, as_tensors):
    from .tensor import _plain, _to_device

    if _META not in data.sizes:
        raise ValueError(f"load: {f} was not written by nncore.save (no {_META} entry)")
    try:
        kinds = json.loads(bytes(data[_META]).decode())
    except json.JSONDecodeError as e:
        raise ValueError(f"load: {f} has unreadable metadata ({e})") from None
    if not isinstance(kinds, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in kinds.items()):
        raise ValueError(f"load: {f} has malformed metadata (expected a mapping of names to kinds)")
    root = {}
    for path, kind in kinds.items():
        if path.endswith("#key"):
            continue
        if kind in ("tensor", "array", "array0", "bool", "int", "float"):
            value = data[path]
            if kind == "tensor" and as_tensors:
                value = _plain(value if map_location is None else _to_device(value, map_location))
            elif kind in ("bool", "int", "float"):
                value = {"bool": bool, "int": int, "float": float}[kind](value)
            elif kind == "array0":
                value = value[()]
        elif kind == "none":
            value = None
        elif kind.startswith("str:"):
            value = kind[4:]
        elif kind in ("emptydict", "list", "tuple"):
            if kind == "emptydict":
                value = {}
            else:
                continue
        elif kind in ("emptylist", "emptytuple"):
            value = [] if kind == "emptylist" else ()
        else:
            raise ValueError(f"load: {f}: unknown entry kind {kind!r} for {path!r}")
        _insert(root, path, value, kinds)
    return _lists(root, "", kinds)
