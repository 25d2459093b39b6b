"""nncore.Tensor: one array (NumPy on the CPU, CuPy on the GPU) plus `grad`,
`requires_grad` and the autograd node that made it; the factories; and the
differentiable tensor ops, each op's backward written beside its forward.

Every op is written against the array module `xp` of its data, so the same code
runs on NumPy and CuPy arrays; matmul goes to nncore.ops.gemm.
"""

import builtins
import math

import numpy as np

from . import autograd
from .autograd import Node, _mode, no_grad

_ndarray = np.ndarray
_new = object.__new__

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32, int64 = np.dtype("int8"), np.dtype("int16"), np.dtype("int32"), np.dtype("int64")
uint8, bool_ = np.dtype("uint8"), np.dtype("bool")
half, double, long = float16, float64, int64

_default_dtype = [float32]


def set_default_dtype(dtype):
    _default_dtype[0] = np.dtype(dtype)


def get_default_dtype():
    return _default_dtype[0]


def _is_cuda(a):
    return a.__class__ is not _ndarray and hasattr(a, "__cuda_array_interface__")


def _xp(a):
    if a.__class__ is _ndarray or not hasattr(a, "__cuda_array_interface__"):
        return np
    import cupy

    return cupy


class device:
    """Where a tensor's array lives: 'cpu' or 'cuda:<index>'. Compares equal to its string."""

    __slots__ = ("type", "index")

    def __init__(self, spec, index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            index = int(idx)
        if spec not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda[:index]', got {spec!r}")
        self.type = spec
        self.index = (index or 0) if spec == "cuda" else None

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other):
        try:
            other = device(other)
        except (ValueError, TypeError):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash(str(self))


_CPU = device("cpu")


def _to_device(data, dev):
    dev = device(dev)
    if dev.type == "cpu":
        return data.get() if _is_cuda(data) else data
    import cupy

    with cupy.cuda.Device(dev.index):
        if _is_cuda(data) and data.device.id == dev.index:
            return data
        return cupy.asarray(data)


def _plain(data):
    """A tensor that records nothing (comparisons, argmax, factories)."""
    if data.__class__ is not _ndarray and isinstance(data, (np.generic, bool, int, float)):
        data = np.asarray(data)
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t._node = None
    t._ver = [0]
    t._base = None
    return t


def _make(data, inputs, backward, saved=(), save_out=False, base=None):
    """The output tensor of a differentiable op. inputs: the Tensors it read;
    backward(g) returns one gradient array (or None) per input; saved: the input
    Tensors whose arrays backward reads; save_out: backward reads the output."""
    if data.__class__ is not _ndarray and isinstance(data, np.generic):
        data = np.asarray(data)
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t._base = base
    ver = [0] if base is None else base._ver
    t._ver = ver
    if _mode.enabled:
        for i in inputs:
            if i.requires_grad:
                break
        else:
            t.requires_grad = False
            t._node = None
            return t
        t.requires_grad = True
        node = _new(Node)
        node.backward_fn = backward
        node.inputs = inputs
        node.name = None
        node.hooks = None
        if saved:
            counters = [s._ver for s in saved]
            if save_out:
                counters.append(ver)
            node.saved = counters
            node.versions = [c[0] for c in counters]
        elif save_out:
            node.saved = (ver,)
            node.versions = (ver[0],)
        else:
            node.saved = node.versions = ()
        t._node = node
        return t
    t.requires_grad = False
    t._node = None
    return t


def _make_multi(arrays, inputs, backward, saved=()):
    """Several outputs of one op (an RNN's y, h_n, c_n): one node over their
    flat concatenation; each output is a reshaped slice of it. backward gets
    one gradient array per output (zeros for outputs that were not used)."""
    xp = _xp(arrays[0])
    shapes = [a.shape for a in arrays]
    sizes = [int(a.size) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    flat = xp.concatenate([a.reshape(-1) for a in arrays])

    def packed_backward(g):
        return backward([g[offsets[i]:offsets[i + 1]].reshape(shapes[i]) for i in range(len(arrays))])

    packed_backward.__qualname__ = backward.__qualname__
    root = _make(flat, inputs, packed_backward, saved)
    return tuple(reshape(getitem(root, slice(offsets[i], offsets[i + 1])), *shapes[i]) for i in range(len(arrays)))


_BIG = 1 << 16  # elements; a fresh NumPy array this large pays more in page faults than the host cache costs


def _buffer(shape, dtype, like):
    """An uninitialised array for an op's output: large CPU arrays come from
    nncore's host cache (no page faults on repeated calls, PERF.md trap 1)."""
    if like.__class__ is _ndarray and math.prod(shape) >= _BIG:
        from ._arrays import empty as _cached_empty

        return _cached_empty(shape, dtype, like=like)
    return _xp(like).empty(shape, dtype)


def _same_shape_op(ufunc, a, b):
    """ufunc(a, b), into a cached buffer when both are large arrays of one shape."""
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.size >= _BIG and a.shape == b.shape:
        return ufunc(a, b, out=_buffer(a.shape, np.result_type(a, b), a))
    return ufunc(a, b)


def _unbroadcast(g, shape):
    """Sums a broadcast gradient back to `shape`."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _scalar(v):
    return isinstance(v, (int, float, bool, np.generic)) and not isinstance(v, Tensor)


def _as_tensor(v, like):
    """Operands that are not Tensors (arrays, lists) become constant Tensors."""
    if isinstance(v, Tensor):
        return v
    xp = _xp(like.data)
    arr = xp.asarray(v)
    if arr.dtype.kind == "f" and like.data.dtype.kind == "f":
        arr = arr.astype(like.data.dtype, copy=False)
    return _plain(arr)


def _norm_dim(dim, ndim, op="op"):
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -builtins.max(ndim, 1) <= dim < builtins.max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} out of range for a {ndim}-D tensor")
    return dim % builtins.max(ndim, 1)


def _norm_dims(dim, ndim, op="op"):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        return tuple(sorted(_norm_dim(d, ndim, op) for d in dim))
    return (_norm_dim(dim, ndim, op),)


def _size_args(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if len(size) == 1 and isinstance(size[0], Size):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {type(s).__name__}")
    return tuple(int(s) for s in size)


class Size(tuple):
    def numel(self):
        return math.prod(self)

    def __repr__(self):
        return f"nncore.Size({list(self)})"


class Tensor:
    """An n-dimensional array with autograd. `data` is the NumPy/CuPy array."""

    __slots__ = ("data", "grad", "requires_grad", "_node", "_ver", "_base", "_hooks", "_post_hooks", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None  # ndarray (op) Tensor defers to the Tensor's reflected operator

    def __init__(self, data, requires_grad=False):
        src = tensor(data)
        self.data = src.data
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._ver = [0]
        self._base = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, requires_grad=False):
        t = _plain(data)
        if cls is not Tensor:
            t.__class__ = cls
        t.requires_grad = requires_grad
        return t

    # ---- facts ----
    @property
    def shape(self):
        return Size(self.data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[_norm_dim(dim, self.data.ndim, "size")]

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        if _is_cuda(self.data):
            return device("cuda", self.data.device.id)
        return _CPU

    @property
    def is_cuda(self):
        return _is_cuda(self.data)

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def _version(self):
        return self._ver[0]

    @property
    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def element_size(self):
        return self.data.dtype.itemsize

    def __repr__(self):
        body = np.array2string(self.numpy() if not _is_cuda(self.data) else self.data.get(),
                               separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _default_dtype[0] and self.data.dtype != int64:
            extra += f", dtype={self.data.dtype}"
        if _is_cuda(self.data):
            extra += f", device='{self.device}'"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    # ---- conversion ----
    def numpy(self):
        """The NumPy array (shared, not copied) of a CPU tensor."""
        if _is_cuda(self.data):
            raise TypeError("numpy: tensor is on cuda; call .cpu() first")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: tensor has {self.data.size} elements, expected 1")
        return self.data.reshape(()).item() if not _is_cuda(self.data) else self.data.get().item()

    def tolist(self):
        return (self.data.get() if _is_cuda(self.data) else self.data).tolist()

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __dlpack__(self, stream=None, **kwargs):
        if stream is None:
            return self.data.__dlpack__(**kwargs)
        return self.data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def to(self, *args, dtype=None, device=None, copy=False):
        """to(device), to(dtype), to(device, dtype) or to(other_tensor)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda") or isinstance(a, globals()["device"]):
                device = a
            else:
                dtype = a
        out = self
        if device is not None and globals()["device"](device) != self.device:
            data = _to_device(self.data, device)
            out = _make(data, (self,), lambda g, src=self.device: (_to_device(g, src),))
        if dtype is not None and np.dtype(dtype) != out.data.dtype:
            out = out._cast(np.dtype(dtype))
        if copy and out is self:
            out = self.clone()
        return out

    def _cast(self, dtype):
        data = self.data.astype(dtype)
        src = self.data.dtype
        if dtype.kind != "f":
            return _plain(data)
        return _make(data, (self,), lambda g: (g.astype(src),))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(device("cuda", index))

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        return self.to(float16)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    # ---- autograd ----
    def detach(self):
        """Same array, no history (shares memory and the version counter)."""
        t = _plain(self.data)
        t._ver = self._ver
        t._base = self._base
        return t

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed during backward
        and may return a replacement gradient. Returns a handle with .remove()."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if getattr(self, "_hooks", None) is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs on a leaf once its .grad holds this backward's whole
        gradient, while the rest of the backward may still be running. Returns a
        handle with .remove()."""
        if self._node is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors have an accumulated .grad")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: the tensor doesn't require grad")
        if getattr(self, "_post_hooks", None) is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _HookHandle(self._post_hooks, hook)

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward (leaves always keep it)."""
        if self._node is None:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = Tensor._wrap(g.data.copy())
                else:
                    t.grad.data += g.data

        self.register_hook(keep)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad_: only floating-point tensors can require grad, got {self.data.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad of a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False):
        """Accumulates d(self)/d(leaf) into every leaf's .grad. gradient is
        required unless self has one element."""
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: gradient can be implicitly created only for one-element "
                                   f"outputs, got shape {tuple(self.shape)}")
            g = _xp(self.data).ones(self.data.shape, self.data.dtype)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else _xp(self.data).asarray(gradient)
            if g.shape != self.data.shape:
                raise RuntimeError(f"backward: gradient has shape {g.shape}, expected {self.data.shape}")
            g = g.astype(self.data.dtype, copy=False)
        autograd.run_backward(self, g, retain_graph)

    def clone(self):
        return _make(self.data.copy(), (self,), lambda g: (g,))

    def contiguous(self):
        if self.data.flags.c_contiguous:
            return self
        return _make(_xp(self.data).ascontiguousarray(self.data), (self,), lambda g: (g,))

    def is_contiguous(self):
        return bool(self.data.flags.c_contiguous)

    # ---- in-place ----
    def _bump(self):
        self._ver[0] += 1

    def _check_inplace(self, op):
        if _mode.enabled and self.requires_grad and self._node is None:
            raise RuntimeError(f"{op}: a leaf tensor that requires grad is used in an in-place operation; "
                               f"wrap it in nncore.no_grad() or use the out-of-place op")

    def _inplace(self, op, result_fn, direct=None):
        """In-place op. When nothing needs recording: direct(data) writes into
        the array (or the out-of-place result is copied in). Otherwise the
        out-of-place op runs on a copy of the old value, its result is written
        back and self takes its node."""
        self._check_inplace(op)
        if _mode.enabled and (self.requires_grad or result_fn.needs_grad()):
            if self._base is not None:
                raise RuntimeError(f"{op}: in-place changes to a view of another tensor are not recorded "
                                   f"by autograd; apply the op to the base tensor or use the out-of-place op")
            old = _plain(self.data.copy())
            old.requires_grad = self.requires_grad
            old._node = self._node
            res = result_fn(old)
            self.data[...] = res.data
            self._node = res._node
            self.requires_grad = res.requires_grad
        elif direct is not None:
            direct(self.data)
        else:
            with no_grad():
                res = result_fn(self)
            self.data[...] = res.data
        self._bump()
        return self

    def add_(self, other, alpha=1):
        if not _mode.enabled or not (self.requires_grad or isinstance(other, Tensor) and other.requires_grad):
            self._check_inplace("add_")
            o = other.data if isinstance(other, Tensor) else other
            if alpha != 1:
                o = o * alpha
            self.data += o
            self._bump()
            return self
        return self._inplace("add_", _Bound(lambda s, o: add(s, o, alpha), other))

    def sub_(self, other, alpha=1):
        return self.add_(other, -alpha)

    def mul_(self, other):
        o = _raw(other)
        return self._inplace("mul_", _Bound(lambda s, o: s * o, other), lambda d: d.__imul__(o))

    def div_(self, other):
        o = _raw(other)
        return self._inplace("div_", _Bound(lambda s, o: s / o, other), lambda d: d.__itruediv__(o))

    def pow_(self, exponent):
        return self._inplace("pow_", _Bound(lambda s, o: s ** o, exponent))

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", _Bound(lambda s: s.clamp(min, max)))

    def neg_(self):
        return self._inplace("neg_", _Bound(lambda s: -s))

    def exp_(self):
        return self._inplace("exp_", _Bound(lambda s: s.exp()))

    def sqrt_(self):
        return self._inplace("sqrt_", _Bound(lambda s: s.sqrt()))

    def relu_(self):
        return self._inplace("relu_", _Bound(lambda s: s.relu()), _relu_in_place)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        self._check_inplace("fill_")
        if isinstance(value, Tensor):
            value = value.item()
        self.data.fill(value)
        if _mode.enabled and self._node is not None:
            self._node = None
            self.requires_grad = False
        self._bump()
        return self

    def copy_(self, src):
        src = _as_tensor(src, self)
        return self._inplace("copy_", _Bound(lambda s, o: _copy_from(s, o), src),
                             lambda d: d.__setitem__(Ellipsis, src.data))

    def uniform_(self, a=0.0, b=1.0):
        self._check_inplace("uniform_")
        xp = _xp(self.data)
        self.data[...] = _rng_of(xp).uniform(a, b, self.data.shape)
        self._bump()
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._check_inplace("normal_")
        xp = _xp(self.data)
        self.data[...] = _rng_of(xp).normal(mean, std, self.data.shape)
        self._bump()
        return self

    def __setitem__(self, index, value):
        index = _index_arrays(index, self.data)
        value = value if isinstance(value, Tensor) else _as_tensor(value, self)
        self._inplace("__setitem__", _Bound(lambda s, v: _index_put(s, index, v), value),
                      lambda d: d.__setitem__(index, value.data))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- arithmetic (forward and backward side by side below) ----
    def __add__(self, other):
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(_as_tensor(other, self), self) if not _scalar(other) else add(neg(self), other)

    def __mul__(self, other):
        return mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        if _scalar(other):
            return _rdiv_scalar(self, other)
        return div(_as_tensor(other, self), self)

    def __neg__(self):
        return neg(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return pow(self, exponent)

    def __rpow__(self, base):
        if _scalar(base):
            return _rpow_scalar(self, base)
        return pow(_as_tensor(base, self), self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_as_tensor(other, self), self)

    def __abs__(self):
        return abs(self)

    # comparisons: no gradient
    def __eq__(self, other):
        return _plain(self.data == _raw(other))

    def __ne__(self, other):
        return _plain(self.data != _raw(other))

    def __lt__(self, other):
        return _plain(self.data < _raw(other))

    def __le__(self, other):
        return _plain(self.data <= _raw(other))

    def __gt__(self, other):
        return _plain(self.data > _raw(other))

    def __ge__(self, other):
        return _plain(self.data >= _raw(other))

    def __invert__(self):
        return _plain(~self.data)

    def __and__(self, other):
        return _plain(self.data & _raw(other))

    def __or__(self, other):
        return _plain(self.data | _raw(other))

    def __xor__(self, other):
        return _plain(self.data ^ _raw(other))

    def __mod__(self, other):
        return _plain(self.data % _raw(other))

    def __floordiv__(self, other):
        return _plain(self.data // _raw(other))

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def equal(self, other):
        return self.shape == other.shape and bool((self.data == other.data).all())

    def allclose(self, other, rtol=1e-5, atol=1e-8):
        return bool(_xp(self.data).allclose(self.data, _raw(other), rtol=rtol, atol=atol))

    def __getitem__(self, index):
        return getitem(self, index)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))


class _HookHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks, hook):
        self.hooks = hooks
        self.hook = hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class _Bound:
    """An in-place op's out-of-place version with its extra operands (so
    _inplace can tell whether any of them requires grad)."""

    __slots__ = ("fn", "args")

    def __init__(self, fn, *args):
        self.fn = fn
        self.args = args

    def __call__(self, s):
        return self.fn(s, *self.args)

    def needs_grad(self):
        return any(isinstance(a, Tensor) and a.requires_grad for a in self.args)


def _raw(v):
    return v.data if isinstance(v, Tensor) else v


def _copy_from(s, o):
    data = _xp(s.data).broadcast_to(o.data.astype(s.data.dtype, copy=False), s.data.shape).copy()
    shape = o.data.shape
    return _make(data, (s, o), lambda g: (None, _unbroadcast(g, shape)))


# ---------------------------------------------------------------- factories
_rngs = {}


def manual_seed(seed):
    """Seeds nncore's generators (rand, randn, dropout, init)."""
    _rngs["np"] = np.random.default_rng(seed)
    try:
        import cupy

        cupy.random.seed(seed)
    except Exception:
        pass
    return seed


def _rng_of(xp):
    if xp is np:
        if "np" not in _rngs:
            _rngs["np"] = np.random.default_rng()
        return _rngs["np"]
    return xp.random


def default_generator():
    return _rng_of(np)


def _infer_dtype(data):
    if isinstance(data, bool):
        return bool_
    if isinstance(data, (int, np.integer)) and not isinstance(data, np.generic):
        return int64
    if isinstance(data, float):
        return _default_dtype[0]
    arr = np.asarray(data)
    if arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic)):
        return _default_dtype[0]
    if arr.dtype.kind in "iu" and not isinstance(data, (np.ndarray, np.generic)):
        return int64
    return arr.dtype


def _finish(data, dtype, device_, requires_grad):
    if dtype is not None:
        data = data.astype(np.dtype(dtype), copy=False)
    if device_ is not None:
        data = _to_device(data, device_)
    t = _plain(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (nested lists, scalars, arrays, Tensors)."""
    if isinstance(data, Tensor):
        arr = data.data.copy()
    elif _is_cuda(data):
        arr = data.copy()
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flatten_list(data)):
        arr = np.array([x.tolist() if isinstance(x, Tensor) else x for x in data])
        if dtype is None:
            dtype = _infer_dtype(arr.tolist()) if arr.size else _default_dtype[0]
    else:
        if dtype is None:
            dtype = _infer_dtype(data) if not (isinstance(data, (list, tuple)) and len(data) == 0) \
                else _default_dtype[0]
        arr = np.array(data, dtype=dtype)
    return _finish(arr, dtype, device, requires_grad)


def _flatten_list(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flatten_list(x)
        else:
            yield x


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) or _is_cuda(data):
        return _finish(data, dtype, device, False)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    return _plain(array)


def from_dlpack(obj):
    """A tensor sharing memory with any object exposing __dlpack__ (CPU or CUDA)."""
    from ._arrays import as_kernel_array

    if isinstance(obj, Tensor):
        return obj.detach()
    return _plain(as_kernel_array(obj, "from_dlpack", "obj"))


def _factory(fill, size, dtype, device_, requires_grad, op):
    shape = _size_args(size, op)
    dt = np.dtype(dtype) if dtype is not None else _default_dtype[0]
    xp = np
    if device_ is not None and globals()["device"](device_).type == "cuda":
        import cupy

        xp = cupy
    data = fill(xp, shape, dt)
    t = _plain(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    return _factory(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device, requires_grad, "full")


def rand(*size, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: _rng_of(xp).random(s).astype(d, copy=False),
                    size, dtype, device, requires_grad, "rand")


def randn(*size, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: _rng_of(xp).standard_normal(s).astype(d, copy=False),
                    size, dtype, device, requires_grad, "randn")


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return _factory(lambda xp, s, d: _rng_of(xp).integers(low, high, s).astype(d) if xp is np
                    else xp.random.randint(low, high, s).astype(d),
                    (size,), dtype or int64, device, False, "randint")


def randperm(n, dtype=None, device=None):
    return _finish(_rng_of(np).permutation(n).astype(dtype or int64), None, device, False)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else _default_dtype[0]
    return _finish(np.arange(start, end, step, dtype=np.dtype(dtype)), None, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, steps).astype(dtype or _default_dtype[0]), None, device,
                   requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=dtype or _default_dtype[0]), None, device, requires_grad)


def _like(fn, x, dtype, device_, requires_grad):
    return fn(tuple(x.shape), dtype=dtype or x.dtype, device=device_ or x.device, requires_grad=requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    return _like(ones, x, dtype, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    return _like(empty, x, dtype, device, requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False):
    return _like(rand, x, dtype, device, requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False):
    return _like(randn, x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    return full(tuple(x.shape), fill_value, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


# ---------------------------------------------------------------- arithmetic
def add(a, b, alpha=1):
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha
    if not isinstance(b, Tensor):
        if _scalar(b):
            return _make(a.data + b, (a,), _pass_through)
        b = _as_tensor(b, a)
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b)
    ad, bd = a.data, b.data
    out = _same_shape_op(np.add, ad, bd)
    sa, sb = ad.shape, bd.shape

    def add_backward(g):
        return _unbroadcast(g, sa), _unbroadcast(g, sb)

    return _make(out, (a, b), add_backward)


def _pass_through(g):
    return (g,)


def sub(a, b, alpha=1):
    if not isinstance(b, Tensor):
        if _scalar(b):
            return _make(a.data - b * alpha, (a,), _pass_through)
        b = _as_tensor(b, a)
    if alpha != 1:
        b = mul(b, alpha)
    ad, bd = a.data, b.data
    sa, sb = ad.shape, bd.shape

    def sub_backward(g):
        return _unbroadcast(g, sa), _unbroadcast(-g, sb)

    return _make(_same_shape_op(np.subtract, ad, bd), (a, b), sub_backward)


def mul(a, b):
    if not isinstance(b, Tensor):
        if _scalar(b):
            return _make(a.data * b, (a,), lambda g: (g * b,))
        b = _as_tensor(b, a)
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b)
    ad, bd = a.data, b.data

    def mul_backward(g):
        return (_unbroadcast(_same_shape_op(np.multiply, g, bd), ad.shape) if a.requires_grad else None,
                _unbroadcast(_same_shape_op(np.multiply, g, ad), bd.shape) if b.requires_grad else None)

    return _make(_same_shape_op(np.multiply, ad, bd), (a, b), mul_backward, saved=(a, b))


def div(a, b):
    if not isinstance(b, Tensor):
        if _scalar(b):
            return _make(a.data / b, (a,), lambda g: (g / b,))
        b = _as_tensor(b, a)
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b)
    ad, bd = a.data, b.data

    def div_backward(g):
        return (_unbroadcast(g / bd, ad.shape) if a.requires_grad else None,
                _unbroadcast(-g * ad / (bd * bd), bd.shape) if b.requires_grad else None)

    return _make(ad / bd, (a, b), div_backward, saved=(a, b))


def _rdiv_scalar(x, c):
    out = c / x.data

    def rdiv_backward(g):
        return (-g * out / x.data,)

    return _make(out, (x,), rdiv_backward, saved=(x,), save_out=True)


def neg(x):
    return _make(-x.data, (x,), lambda g: (-g,))


def pow(x, exponent):
    if not isinstance(x, Tensor):
        return _rpow_scalar(exponent, x)
    xd = x.data
    if _scalar(exponent):
        e = exponent

        def pow_backward(g):
            if e == 2:
                return (g * (2 * xd),)
            return (g * (e * xd ** (e - 1)),)

        return _make(xd ** e, (x,), pow_backward, saved=(x,))
    exponent = _as_tensor(exponent, x)
    ed = exponent.data
    out = xd ** ed

    def pow_tensor_backward(g):
        gx = _unbroadcast(g * ed * xd ** (ed - 1), xd.shape) if x.requires_grad else None
        ge = None
        if exponent.requires_grad:
            safe = np.where(xd > 0, xd, 1) if _xp(xd) is np else _xp(xd).where(xd > 0, xd, 1)
            ge = _unbroadcast(g * out * _xp(xd).log(safe) * (xd > 0), ed.shape)
        return gx, ge

    return _make(out, (x, exponent), pow_tensor_backward, saved=(x, exponent), save_out=True)


def _rpow_scalar(x, base):
    out = base ** x.data
    lb = math.log(base) if base > 0 else float("nan")

    def rpow_backward(g):
        return (g * out * lb,)

    return _make(out, (x,), rpow_backward, save_out=True)


def matmul(a, b):
    """a @ b with numpy.matmul's broadcasting; float32/float64 2-D and 3-D
    products go to nncore.ops.gemm."""
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b)
    if not isinstance(b, Tensor):
        b = _as_tensor(b, a)
    ad, bd = a.data, b.data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"matmul: both operands must be at least 1-D, got shapes {ad.shape} and {bd.shape}")
    out = _mm(ad, bd)

    def matmul_backward(g):
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        g2 = g
        if ad.ndim == 1:
            g2 = _xp(g).expand_dims(g2, -2)
        if bd.ndim == 1:
            g2 = _xp(g).expand_dims(g2, -1)
        ga = gb = None
        if a.requires_grad:
            ga = _unbroadcast(_mm(g2, _xp(g).swapaxes(b2, -1, -2)), a2.shape).reshape(ad.shape)
        if b.requires_grad:
            gb = _unbroadcast(_mm(_xp(g).swapaxes(a2, -1, -2), g2), b2.shape).reshape(bd.shape)
        return ga, gb

    return _make(out, (a, b), matmul_backward, saved=(a, b))


def _mm(a, b):
    from . import ops

    if (a.dtype == b.dtype and a.dtype in (float32, float64) and a.ndim in (2, 3) and b.ndim in (2, 3)
            and (a.ndim == 2 or b.ndim == 2 or a.shape[0] == b.shape[0]) and a.shape[-1] == b.shape[-2]
            and builtins.min(a.shape[-2:] + b.shape[-1:]) > 0):
        return ops.gemm(_gemm_ready(a), _gemm_ready(b))
    return _xp(a).matmul(a, b)


def _gemm_ready(x):
    """gemm reads row-major matrices or their transposes; anything else is copied."""
    item = x.dtype.itemsize
    if x.flags.c_contiguous:
        return x
    if x.strides[-1] == item or x.strides[-2] == item:
        if x.ndim == 2 or x.strides[0] == x.shape[1] * x.shape[2] * item:
            return x
    return _xp(x).ascontiguousarray(x)


def mm(a, b):
    return matmul(a, b)


def bmm(a, b):
    return matmul(a, b)


# ---------------------------------------------------------------- elementwise
def exp(x):
    out = np.exp(x.data)
    return _make(out, (x,), lambda g: (g * out,), save_out=True)


def log(x):
    xd = x.data
    return _make(np.log(xd), (x,), lambda g: (g / xd,), saved=(x,))


def log1p(x):
    xd = x.data
    return _make(np.log1p(xd), (x,), lambda g: (g / (1 + xd),), saved=(x,))


def sqrt(x):
    out = np.sqrt(x.data)
    return _make(out, (x,), lambda g: (g / (2 * out),), save_out=True)


def rsqrt(x):
    out = 1 / np.sqrt(x.data)
    return _make(out, (x,), lambda g: (-0.5 * g * out * out * out,), save_out=True)


def abs(x):
    xd = x.data
    return _make(np.abs(xd), (x,), lambda g: (g * np.sign(xd),), saved=(x,))


def sign(x):
    return _plain(np.sign(x.data))


def sin(x):
    xd = x.data
    return _make(np.sin(xd), (x,), lambda g: (g * np.cos(xd),), saved=(x,))


def cos(x):
    xd = x.data
    return _make(np.cos(xd), (x,), lambda g: (-g * np.sin(xd),), saved=(x,))


def _activation_kernel_takes(xd):
    """The activation kernels (nncore.ops.activation) take contiguous float32
    arrays, NumPy or CuPy; other dtypes (float64 for gradcheck) keep the xp code."""
    return xd.dtype == float32 and xd.flags.c_contiguous


def _activation(x, kind, op, alpha=None, beta=None):
    """y = f(x) by nncore.ops.activation into a reused output; its backward reads
    only what it needs: y, or x for the kinds of activation_kinds.NEEDS_INPUT."""
    from . import ops
    from .ops.activation_kinds import NEEDS_INPUT

    xd = x.data
    out = ops.activation(xd, kind, alpha, beta)
    needs_input = kind in NEEDS_INPUT

    def backward(g):
        if not (g.dtype == float32 and g.flags.c_contiguous):
            g = _xp(g).ascontiguousarray(g, dtype=float32)
        return (ops.activation_backward(g, xd if needs_input else None, None if needs_input else out, kind, alpha,
                                        beta),)

    backward.__qualname__ = f"{op}.<locals>.backward"  # the node's name (autograd.Node.op_name)
    if needs_input:
        return _make(out, (x,), backward, saved=(x,))
    return _make(out, (x,), backward, save_out=True)


def tanh(x):
    if _activation_kernel_takes(x.data):
        return _activation(x, "tanh", "tanh")
    out = np.tanh(x.data)
    return _make(out, (x,), lambda g: (g * (1 - out * out),), save_out=True)


def sigmoid(x):
    xd = x.data
    if _activation_kernel_takes(xd):
        return _activation(x, "sigmoid", "sigmoid")
    # exp of a non-positive argument only: no overflow for large |x|
    e = np.exp(-np.abs(xd))
    out = np.where(xd >= 0, 1 / (1 + e), e / (1 + e)).astype(xd.dtype, copy=False)
    return _make(out, (x,), lambda g: (g * out * (1 - out),), save_out=True)


_ZEROS = {np.dtype(d): np.dtype(d).type(0) for d in ("float16", "float32", "float64")}


def relu(x):
    xd = x.data
    if _activation_kernel_takes(xd):
        return _activation(x, "relu", "relu")
    if xd.size >= _BIG:
        out = np.maximum(xd, _ZEROS.get(xd.dtype, 0), out=_buffer(xd.shape, xd.dtype, xd))
    else:
        out = np.maximum(xd, _ZEROS.get(xd.dtype, 0))

    def relu_backward(g):
        if g.size >= _BIG:
            positive = np.greater(out, 0, out=_buffer(out.shape, bool_, out))
            return (np.multiply(g, positive, out=_buffer(g.shape, g.dtype, g)),)
        return (g * (out > 0),)

    return _make(out, (x,), relu_backward, save_out=True)


def _relu_in_place(d):
    """relu_ without autograd: the kernel writes over d, or NumPy does."""
    if _activation_kernel_takes(d):
        from . import ops

        ops.activation(d, "relu", out=d)
    else:
        np.maximum(d, _ZEROS.get(d.dtype, 0), out=d)


def clamp(x, min=None, max=None):
    xd = x.data
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    lo = _raw(min)
    hi = _raw(max)
    out = xd
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    if out is xd:
        out = xd.copy()

    def clamp_backward(g):
        keep = True
        if lo is not None:
            keep = keep & (xd >= lo)
        if hi is not None:
            keep = keep & (xd <= hi)
        return (g * keep,)

    return _make(out.astype(xd.dtype, copy=False), (x,), clamp_backward, saved=(x,))


clip = clamp


def maximum(a, b):
    return where(a >= b, a, b)


def minimum(a, b):
    return where(a <= b, a, b)


def where(condition, a, b):
    """a where condition else b; gradients flow to the chosen side."""
    cond = _raw(condition)
    ref = a if isinstance(a, Tensor) else b
    a = _as_tensor(a, ref) if isinstance(ref, Tensor) else tensor(a)
    b = _as_tensor(b, a)
    ad, bd = a.data, b.data
    xp = _xp(ad)
    out = xp.where(cond, ad, bd)

    def where_backward(g):
        zero = xp.zeros((), g.dtype)
        return (_unbroadcast(xp.where(cond, g, zero), ad.shape) if a.requires_grad else None,
                _unbroadcast(xp.where(cond, zero, g), bd.shape) if b.requires_grad else None)

    return _make(out, (a, b), where_backward)


# ---------------------------------------------------------------- reductions
def sum(x, dim=None, keepdim=False, dtype=None):
    xd = x.data
    shape = xd.shape
    if dim is None and not keepdim and dtype is None:
        out = xd.sum()

        def sum_all_backward(g):
            return (_xp(g).broadcast_to(g, shape),)

        return _make(out, (x,), sum_all_backward)
    axes = _norm_dims(dim, xd.ndim, "sum")
    out = xd.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    def sum_backward(g):
        if not keepdim:
            g = g.reshape(_kept_shape(shape, axes))
        return (_xp(g).broadcast_to(g, shape),)

    return _make(out, (x,), sum_backward)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def mean(x, dim=None, keepdim=False, dtype=None):
    xd = x.data
    axes = _norm_dims(dim, xd.ndim, "mean")
    count = math.prod(xd.shape[a] for a in axes)
    out = xd.mean(axis=axes, keepdims=keepdim, dtype=dtype)
    shape = xd.shape

    def mean_backward(g):
        if not keepdim:
            g = g.reshape(_kept_shape(shape, axes))
        return (_xp(g).broadcast_to(g / count, shape),)

    return _make(out, (x,), mean_backward)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    xd = x.data
    axes = _norm_dims(dim, xd.ndim, "var")
    count = math.prod(xd.shape[a] for a in axes)
    centred = xd - xd.mean(axis=axes, keepdims=True)
    denom = builtins.max(count - correction, 0)
    out = (centred * centred).sum(axis=axes, keepdims=keepdim) / denom
    shape = xd.shape

    def var_backward(g):
        if not keepdim:
            g = g.reshape(_kept_shape(shape, axes))
        return (g * (2.0 / denom) * centred,)

    return _make(out.astype(xd.dtype, copy=False), (x,), var_backward, saved=(x,))


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    return sqrt(var(x, dim, unbiased, keepdim, correction))


def _extreme(x, dim, keepdim, pick, arg, op):
    xd = x.data
    xp = _xp(xd)
    if dim is None:
        out = pick(xd)
        shape = xd.shape

        def all_backward(g):
            # ties share the gradient equally, as in PyTorch's full reduction
            mask = (xd == out)
            return (mask * (g / mask.sum()),)

        return _make(out, (x,), all_backward, saved=(x,))
    d = _norm_dim(dim, xd.ndim, op)
    idx = xp.expand_dims(arg(xd, axis=d), d) if xd.ndim else xp.zeros((), int64)
    values = xp.take_along_axis(xd, idx, axis=d) if xd.ndim else xd.copy()
    shape = xd.shape

    def dim_backward(g):
        gk = g if keepdim else xp.expand_dims(g, d)
        gx = xp.zeros(shape, g.dtype)
        xp.put_along_axis(gx, idx, gk, axis=d)
        return (gx,)

    if not keepdim and xd.ndim:
        values = xp.squeeze(values, d)
        idx_out = xp.squeeze(idx, d)
    else:
        idx_out = idx
    return _ValuesIndices(_make(values, (x,), dim_backward), _plain(idx_out))


class _ValuesIndices(tuple):
    """(values, indices), also reachable as .values and .indices."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def max(x, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _extreme(x, dim, keepdim, lambda a: a.max(), lambda a, axis: a.argmax(axis=axis), "max")


def min(x, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _extreme(x, dim, keepdim, lambda a: a.min(), lambda a, axis: a.argmin(axis=axis), "min")


def amax(x, dim=None, keepdim=False):
    return max(x, dim, keepdim) if dim is None else max(x, dim, keepdim)[0]


def argmax(x, dim=None, keepdim=False):
    xd = x.data
    if dim is None:
        return _plain(xd.argmax())
    d = _norm_dim(dim, xd.ndim, "argmax")
    return _plain(xd.argmax(axis=d, keepdims=keepdim))


def argmin(x, dim=None, keepdim=False):
    xd = x.data
    if dim is None:
        return _plain(xd.argmin())
    d = _norm_dim(dim, xd.ndim, "argmin")
    return _plain(xd.argmin(axis=d, keepdims=keepdim))


def logsumexp(x, dim, keepdim=False):
    xd = x.data
    axes = _norm_dims(dim, xd.ndim, "logsumexp")
    m = xd.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0) if _xp(xd) is np else _xp(xd).where(_xp(xd).isfinite(m), m, 0)
    e = np.exp(xd - m)
    s = e.sum(axis=axes, keepdims=True)
    out_k = np.log(s) + m
    out = out_k if keepdim else out_k.reshape([n for i, n in enumerate(xd.shape) if i not in axes])

    def logsumexp_backward(g):
        gk = g if keepdim else g.reshape(out_k.shape)
        return (gk * (e / s),)

    return _make(out, (x,), logsumexp_backward)


def prod(x, dim=None, keepdim=False):
    xd = x.data
    axes = _norm_dims(dim, xd.ndim, "prod")
    out = xd.prod(axis=axes, keepdims=True)

    def prod_backward(g):
        gk = g if keepdim else g.reshape(out.shape)
        # product of the others, computed without dividing (zeros allowed)
        moved = xd
        flat = _xp(xd).moveaxis(moved, axes, tuple(range(len(axes)))).reshape((-1,) + tuple(
            n for i, n in enumerate(xd.shape) if i not in axes))
        ones = _xp(xd).ones((1,) + flat.shape[1:], xd.dtype)
        before = _xp(xd).cumprod(_xp(xd).concatenate([ones, flat[:-1]]), axis=0)
        after = _xp(xd).cumprod(_xp(xd).concatenate([ones, flat[::-1][:-1]]), axis=0)[::-1]
        others = (before * after).reshape(tuple(xd.shape[a] for a in axes) + flat.shape[1:])
        return (_xp(xd).moveaxis(others, tuple(range(len(axes))), axes) * gk,)

    return _make(out if keepdim else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes]),
                 (x,), prod_backward, saved=(x,))


def norm(x, p=2, dim=None, keepdim=False):
    if p == 0:  # the number of non-zero entries: constant, no gradient (as PyTorch)
        axes = _norm_dims(dim, x.data.ndim, "norm") if x.data.ndim else None
        return _plain((x.data != 0).sum(axis=axes, keepdims=keepdim).astype(x.data.dtype))
    if p == 2 or p == "fro":
        return sqrt(sum(x * x, dim, keepdim))
    if p == 1:
        return sum(abs(x), dim, keepdim)
    if p == float("inf"):
        return amax(abs(x), dim, keepdim)
    return sum(abs(x) ** p, dim, keepdim) ** (1.0 / p)


# ---------------------------------------------------------------- shapes
def reshape(x, *shape):
    shape = _size_args(shape, "reshape")
    xd = x.data
    src = xd.shape
    out = xd.reshape(shape)
    is_view = _shares(out, xd)
    return _make(out, (x,), lambda g: (g.reshape(src),), base=_view_base(x) if is_view else None)


def _shares(out, xd):
    return out.base is not None and (out.base is xd or out.base is xd.base)


def _view_base(x):
    return x if x._base is None else x._base


def view(x, *shape):
    shape = _size_args(shape, "view")
    xd = x.data
    if len(shape) == 1 and isinstance(shape[0], np.dtype):
        raise TypeError("view: dtype views are not supported")
    try:
        out = xd.view()
        out.shape = shape
    except (AttributeError, ValueError):
        if math.prod(s for s in shape if s != -1) and xd.size % math.prod(s for s in shape if s != -1) == 0 \
                and not xd.flags.c_contiguous:
            raise RuntimeError(f"view: shape {shape} is incompatible with the input's strides; use reshape")
        raise RuntimeError(f"view: shape {list(shape)} is invalid for input of size {xd.size}")
    src = xd.shape
    return _make(out, (x,), lambda g: (g.reshape(src),), base=_view_base(x))


def flatten(x, start_dim=0, end_dim=-1):
    nd = x.data.ndim
    if nd == 0:
        return reshape(x, 1)
    s = _norm_dim(start_dim, nd, "flatten")
    e = _norm_dim(end_dim, nd, "flatten")
    shape = x.data.shape
    return reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(x, dim, sizes):
    d = _norm_dim(dim, x.data.ndim, "unflatten")
    shape = x.data.shape
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1:])


def transpose(x, dim0, dim1):
    nd = x.data.ndim
    d0 = _norm_dim(dim0, nd, "transpose")
    d1 = _norm_dim(dim1, nd, "transpose")
    xp = _xp(x.data)
    out = xp.swapaxes(x.data, d0, d1) if nd else x.data
    return _make(out, (x,), lambda g: (xp.swapaxes(g, d0, d1) if nd else g,), base=_view_base(x))


def t(x):
    if x.data.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {x.data.ndim}")
    return transpose(x, 0, 1) if x.data.ndim == 2 else x


def permute(x, *dims):
    dims = _size_args(dims, "permute")
    nd = x.data.ndim
    if len(dims) != nd:
        raise ValueError(f"permute: expected {nd} dims, got {len(dims)}")
    dims = tuple(_norm_dim(d, nd, "permute") for d in dims)
    if sorted(dims) != list(range(nd)):
        raise ValueError(f"permute: dims {dims} are not a permutation of 0..{nd - 1}")
    inverse = tuple(np.argsort(dims))
    xp = _xp(x.data)
    return _make(xp.transpose(x.data, dims), (x,), lambda g: (xp.transpose(g, inverse),), base=_view_base(x))


def movedim(x, source, destination):
    nd = x.data.ndim
    order = [d for d in range(nd) if d != _norm_dim(source, nd)]
    order.insert(_norm_dim(destination, nd), _norm_dim(source, nd))
    return permute(x, *order)


def squeeze(x, dim=None):
    xd = x.data
    src = xd.shape
    if dim is None:
        out = xd.reshape(tuple(s for s in src if s != 1))
    else:
        dims = _norm_dims(dim, xd.ndim, "squeeze")
        out = xd.reshape(tuple(s for i, s in enumerate(src) if not (i in dims and s == 1)))
    return _make(out, (x,), lambda g: (g.reshape(src),), base=_view_base(x))


def unsqueeze(x, dim):
    xd = x.data
    d = _norm_dim(dim, xd.ndim + 1, "unsqueeze")
    src = xd.shape
    return _make(xd.reshape(src[:d] + (1,) + src[d:]), (x,), lambda g: (g.reshape(src),), base=_view_base(x))


def expand(x, *sizes):
    sizes = _size_args(sizes, "expand")
    xd = x.data
    lead = len(sizes) - xd.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a {xd.ndim}-D tensor")
    shape = tuple(xd.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    src = xd.shape
    out = _xp(xd).broadcast_to(xd, shape)
    return _make(out, (x,), lambda g: (_unbroadcast(g, src),), base=_view_base(x))


def expand_as(x, other):
    return expand(x, *other.shape)


def broadcast_to(x, shape):
    return expand(x, *shape)


def repeat(x, *sizes):
    sizes = _size_args(sizes, "repeat")
    xd = x.data
    lead = len(sizes) - xd.ndim
    src = (1,) * lead + xd.shape
    out = _xp(xd).tile(xd.reshape(src), sizes)

    def repeat_backward(g):
        split = []
        for r, s in zip(sizes, src):
            split += [r, s]
        return (g.reshape(split).sum(axis=tuple(range(0, 2 * len(src), 2))).reshape(xd.shape),)

    return _make(out, (x,), repeat_backward)


def flip(x, dims):
    dims = _norm_dims(dims, x.data.ndim, "flip")
    xp = _xp(x.data)
    return _make(xp.flip(x.data, dims), (x,), lambda g: (xp.flip(g, dims),), base=_view_base(x))


# ---------------------------------------------------------------- indexing
def _index_arrays(index, like=None):
    """Tensors and lists inside an index become arrays on the device of `like`."""
    xp = np if like is None else _xp(like)

    def one(i):
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            i = np.asarray(i)
        if xp is not np and isinstance(i, np.ndarray):
            i = xp.asarray(i)
        return i

    if isinstance(index, tuple):
        return tuple(one(i) for i in index)
    return one(index)


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)) and not isinstance(p, bool)):
            return False
    return True


def _has_int_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if hasattr(p, "dtype") and p.dtype.kind in "iu" or isinstance(p, (list, tuple)):
            return True
    return False


def _scatter_add(gx, index, g):
    """gx[index] += g with repeated indices accumulating (np.add.at semantics)."""
    if _xp(gx) is np:
        np.add.at(gx, index, g)
    else:
        import cupyx

        cupyx.scatter_add(gx, index, g)


def getitem(x, index):
    if index.__class__ is int or index.__class__ is slice:
        basic, accumulate = True, False
    else:
        index = _index_arrays(index, x.data)
        basic = _is_basic(index)
        accumulate = not basic and _has_int_array(index)
    xd = x.data
    out = xd[index]
    shape = xd.shape

    def getitem_backward(g):
        gx = _xp(g).zeros(shape, g.dtype)
        if accumulate:
            _scatter_add(gx, index, g)
        else:
            gx[index] = g
        return (gx,)

    return _make(out, (x,), getitem_backward, base=_view_base(x) if basic else None)


def _index_put(s, index, v):
    """s with s[index] = v, out of place (used by __setitem__)."""
    out = s.data.copy()
    out[index] = v.data
    vshape = v.data.shape

    def index_put_backward(g):
        gs = None
        if s.requires_grad:
            gs = g.copy()
            gs[index] = 0
        gv = _unbroadcast(g[index], vshape) if v.requires_grad else None
        return gs, gv

    return _make(out, (s, v), index_put_backward)


def index_select(x, dim, index):
    d = _norm_dim(dim, x.data.ndim, "index_select")
    return getitem(x, (slice(None),) * d + (_raw(index),))


def gather(x, dim, index):
    xd = x.data
    d = _norm_dim(dim, xd.ndim, "gather")
    idx = _raw(index)
    xp = _xp(xd)
    out = xp.take_along_axis(xd, idx, axis=d)
    shape = xd.shape

    def gather_backward(g):
        gx = xp.zeros(shape, g.dtype)
        grid = list(xp.indices(idx.shape, sparse=True))
        grid[d] = idx
        _scatter_add(gx, tuple(grid), g)
        return (gx,)

    return _make(out, (x,), gather_backward)


def masked_fill(x, mask, value):
    return where(mask, _as_tensor(_xp(x.data).asarray(value, x.dtype), x), x)


def sort(x, dim=-1, descending=False):
    """(values, indices) along dim; values carry the gradient (a gather)."""
    xd = x.data
    d = _norm_dim(dim, xd.ndim, "sort")
    xp = _xp(xd)
    idx = xp.argsort(-xd if descending else xd, axis=d, kind="stable") if xd.ndim else xp.zeros((), int64)
    if not xd.ndim:
        return _ValuesIndices(x.clone(), _plain(idx))
    return _ValuesIndices(gather(x, d, _plain(idx)), _plain(idx))


def argsort(x, dim=-1, descending=False):
    return sort(x, dim, descending)[1]


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) values along dim and their indices."""
    d = _norm_dim(dim, x.data.ndim, "topk")
    if not 0 <= k <= x.data.shape[d]:
        raise ValueError(f"topk: k={k} out of range for a dimension of size {x.data.shape[d]}")
    values, indices = sort(x, d, descending=largest)
    keep = (slice(None),) * d + (slice(0, k),)
    return _ValuesIndices(getitem(values, keep), _plain(indices.data[keep]))


def cumsum(x, dim):
    xd = x.data
    d = _norm_dim(dim, xd.ndim, "cumsum")
    xp = _xp(xd)

    def cumsum_backward(g):
        return (xp.flip(xp.cumsum(xp.flip(g, d), axis=d), d),)

    return _make(xp.cumsum(xd, axis=d), (x,), cumsum_backward)


def _rounding(fn):
    def op(x):
        xd = x.data
        return _make(fn(xd), (x,), lambda g: (_xp(g).zeros_like(g),))

    op.__name__ = fn.__name__
    return op


floor = _rounding(np.floor)
ceil = _rounding(np.ceil)
round = _rounding(np.round)


def _new_factory(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False):
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    return method


# ---------------------------------------------------------------- joining
def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ref = tensors[0]
    d = _norm_dim(dim, ref.data.ndim, "cat")
    arrays = [t.data for t in tensors]
    xp = _xp(arrays[0])
    out = xp.concatenate(arrays, axis=d)
    edges = np.cumsum([a.shape[d] for a in arrays])[:-1].tolist()

    def cat_backward(g):
        return tuple(xp.split(g, edges, axis=d))

    return _make(out, tuple(tensors), cat_backward)


concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    d = _norm_dim(dim, tensors[0].data.ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(x, split_size_or_sections, dim=0):
    d = _norm_dim(dim, x.data.ndim, "split")
    n = x.data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} do not add up to the size {n} of dim {d}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    n = x.data.shape[_norm_dim(dim, x.data.ndim, "chunk")]
    return split(x, -(-n // chunks) if n else 1, dim)


def unbind(x, dim=0):
    d = _norm_dim(dim, x.data.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.data.shape[d]))


# ---------------------------------------------------------------- methods
def _attach():
    methods = dict(
        add=add, sub=sub, mul=mul, div=div, neg=neg, pow=pow, matmul=matmul, mm=mm, bmm=bmm,
        exp=exp, log=log, log1p=log1p, sqrt=sqrt, rsqrt=rsqrt, abs=abs, sign=sign, sin=sin, cos=cos,
        tanh=tanh, sigmoid=sigmoid, relu=relu, clamp=clamp, clip=clamp, sum=sum, mean=mean, var=var,
        std=std, max=max, min=min, amax=amax, argmax=argmax, argmin=argmin, logsumexp=logsumexp,
        prod=prod, norm=norm, reshape=reshape, view=view, flatten=flatten, unflatten=unflatten,
        transpose=transpose, t=t, permute=permute, movedim=movedim, squeeze=squeeze,
        unsqueeze=unsqueeze, expand=expand, expand_as=expand_as, repeat=repeat, flip=flip,
        index_select=index_select, gather=gather, masked_fill=masked_fill, split=split, chunk=chunk,
        unbind=unbind, maximum=maximum, minimum=minimum, sort=sort, argsort=argsort, topk=topk, cumsum=cumsum,
        floor=floor, ceil=ceil, round=round, new_zeros=_new_factory(zeros), new_ones=_new_factory(ones),
        new_empty=_new_factory(empty),
    )
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: permute(self, *reversed(range(self.data.ndim))))
    Tensor.mT = property(lambda self: transpose(self, -2, -1))

    def view_as(self, other):
        return view(self, *other.shape)

    def reshape_as(self, other):
        return reshape(self, *other.shape)

    Tensor.view_as = view_as
    Tensor.reshape_as = reshape_as

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    Tensor.new_full = new_full
    Tensor.new_tensor = new_tensor


_attach()
