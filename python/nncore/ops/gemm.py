"""GEMM and batched matmul on NumPy (CPU twins) or CuPy (CUDA kernel) arrays."""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import bool_arg, real_arg
from .epilogue import activation_args


def _as_row_major(x, trans):
    """A transposed view (contiguous along its second-to-last axis) is read as
    its transpose with the flag flipped, so a.T costs no copy."""
    if x.ndim >= 2 and x.shape[-1] > 1 and x.shape[-2] > 1:
        item = x.dtype.itemsize
        if x.strides[-1] != item and x.strides[-2] == item:
            return x.swapaxes(-1, -2), not trans
    return x, trans


def gemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None):
    """out = alpha * op(a) @ op(b) + beta * out, op(x) = x.T when trans_x.

    a and b are 2-D, or 3-D stacks (a 2-D operand is shared by every matrix of
    the other). float32 (AVX2/AVX-512 twins) or float64 (portable twin).
    """
    a = as_kernel_array(a, "gemm", "a")
    b = as_kernel_array(b, "gemm", "b")
    alpha, beta = real_arg(alpha, "gemm", "alpha", finite=True), real_arg(beta, "gemm", "beta", finite=True)
    trans_a, trans_b = bool_arg(trans_a, "gemm", "trans_a"), bool_arg(trans_b, "gemm", "trans_b")
    if out is not None:
        out = as_kernel_array(out, "gemm", "out")
    if out is None:
        if beta != 0:
            raise ValueError("gemm: beta != 0 reads out, so out must be given")
        for name, x in (("a", a), ("b", b)):
            if x.ndim not in (2, 3):
                raise ValueError(f"gemm: {name} must be 2-D (rows, cols) or 3-D (batch, rows, cols), "
                                 f"got {x.ndim}-D of shape {x.shape}")
        m = a.shape[-1] if trans_a else a.shape[-2]
        n = b.shape[-2] if trans_b else b.shape[-1]
        batches = [x.shape[0] for x in (a, b) if x.ndim == 3]
        shape = (max(batches), m, n) if batches else (m, n)
        out = empty(shape, a.dtype, like=a)
    a, trans_a = _as_row_major(a, trans_a)
    b, trans_b = _as_row_major(b, trans_b)
    _C.gemm(a, b, out, trans_a, trans_b, alpha, beta, stream_of(a))
    return out


def matmul(a, b, out=None):
    """a @ b for 2-D matrices or 3-D stacks of them (like numpy.matmul)."""
    return gemm(a, b, out=out)


def linear(x, weight, bias=None, *, activation=None, act_alpha=None, out=None):
    """act(x @ weight.T + bias) in one GEMM: bias and activation (a name of
    nncore.ops.activation_kinds, act_alpha its slope / alpha) are applied to
    each output tile while it is in cache. x is (M, in_features), weight
    (out_features, in_features), bias (out_features,) or None; float32 or float64."""
    x = as_kernel_array(x, "linear", "input")
    weight = as_kernel_array(weight, "linear", "weight")
    if bias is not None:
        bias = as_kernel_array(bias, "linear", "bias")
    epilogue = activation_args("linear", activation, act_alpha)
    for name, a in (("input", x), ("weight", weight)):
        if a.ndim != 2:
            raise ValueError(f"linear: {name} must be 2-D, got {a.ndim}-D of shape {a.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"linear: input (M, in_features) and weight (out_features, in_features) disagree: got "
                         f"input {x.shape}, weight {weight.shape}")
    for name, a in (("weight", weight), ("bias", bias), ("out", out)):
        if a is not None and a.dtype != x.dtype:
            raise TypeError(f"linear: {name} must have the input's dtype {x.dtype}, got {a.dtype}")
    if out is None:
        out = empty((x.shape[0], weight.shape[0]), x.dtype, like=x)
    else:
        out = as_kernel_array(out, "linear", "out")
    x, trans_a = _as_row_major(x, False)
    weight, trans_b = _as_row_major(weight, True)
    _C.gemm(x, weight, out, trans_a, trans_b, 1.0, 0.0, stream_of(x), bias, *epilogue)
    return out
