"""nncore.save / nncore.load: state dicts (nested dicts of arrays and plain
numbers) in one .npz file, written to a temporary file in the same folder and
renamed over the target (a crash mid-write leaves the previous file intact).
Loading never unpickles: nothing in a file can run code."""

import json
import os
import tempfile

import numpy as np

_SEP = "/"
_META = "__nncore_meta__"


def _flatten(obj, prefix, arrays, kinds):
    from .tensor import Tensor

    if isinstance(obj, dict):
        if not obj and prefix:
            kinds[prefix] = "emptydict"
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} at {prefix!r}")
            skey = str(key)
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


def load(f, map_location=None, as_tensors=True):
    """Reads a file written by save. Arrays come back as Tensors (as_tensors)
    or NumPy arrays; nothing is unpickled."""
    from .tensor import _plain, _to_device

    with np.load(os.fspath(f), allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"load: {f} was not written by nncore.save (no {_META} entry)")
        kinds = json.loads(bytes(data[_META]).decode())
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
                raise ValueError(f"load: unknown entry kind {kind!r} for {path!r}")
            _insert(root, path, value, kinds)
    return _lists(root, "", kinds)
