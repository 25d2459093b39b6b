"""Array-level kernels, forward and backward, without autograd. Each function
takes NumPy arrays (CPU) or CuPy arrays (GPU), allocates its outputs on the
same device unless `out=` is given, and hands them to nncore._C."""

from . import _C
from ._arrays import as_kernel_array, empty, stream_of


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
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"gemm: {name} must be a real number, got {type(v).__name__}")
    if out is None:
        if beta != 0:
            raise ValueError("gemm: beta != 0 reads out, so out must be given")
        for name, x in (("a", a), ("b", b)):
            if x.ndim not in (2, 3):
                raise ValueError(f"gemm: {name} must be 2-D (rows, cols) or 3-D (batch, rows, cols), "
                                 f"got {x.ndim}-D of shape {x.shape}")
        m = a.shape[-1] if trans_a else a.shape[-2]
        n = b.shape[-2] if trans_b else b.shape[-1]
        batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
        shape = (batch, m, n) if 3 in (a.ndim, b.ndim) else (m, n)
        out = empty(shape, a.dtype, like=a)
    a, trans_a = _as_row_major(a, bool(trans_a))
    b, trans_b = _as_row_major(b, bool(trans_b))
    _C.gemm(a, b, out, trans_a, trans_b, float(alpha), float(beta), stream_of(a))
    return out


def matmul(a, b, out=None):
    """a @ b for 2-D matrices or 3-D stacks of them (like numpy.matmul)."""
    return gemm(a, b, out=out)


# ---------------------------------------------------------------------------
# Convolution: conv2d, conv_transpose2d and their backward (csrc/ops/conv2d.cpp)
# ---------------------------------------------------------------------------

def _pair(op, name, v):
    """An int or a pair of ints -> a tuple of two Python ints."""
    import numbers

    items = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(items) != 2 or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in items):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return int(items[0]), int(items[1])


def _int(op, name, v):
    import numbers

    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    return int(v)


def _conv_args(op, x, weight, bias, stride, padding, dilation, groups, output_padding):
    from ._arrays import array_module

    x = as_kernel_array(x, op, "input")
    weight = as_kernel_array(weight, op, "weight")
    xp = array_module(x)
    x, weight = xp.ascontiguousarray(x), xp.ascontiguousarray(weight)
    if bias is not None:
        bias = xp.ascontiguousarray(as_kernel_array(bias, op, "bias"))
    opts = (_pair(op, "stride", stride), _pair(op, "padding", padding), _pair(op, "dilation", dilation),
            _int(op, "groups", groups), _pair(op, "output_padding", output_padding))
    return x, weight, bias, opts


def _conv_forward(op, transposed, x, weight, bias, stride, padding, dilation, groups, output_padding, out):
    x, weight, bias, opts = _conv_args(op, x, weight, bias, stride, padding, dilation, groups, output_padding)
    if out is None:
        shape = _C.conv2d_output_shape(x, weight, *opts, transposed)
        out = empty(shape, x.dtype, like=x)
    _C.conv2d_forward(x, weight, bias, out, *opts, transposed, stream_of(x))
    return out


def _conv_backward(op, transposed, grad_out, x, weight, stride, padding, dilation, groups, output_padding,
                   output_mask):
    from ._arrays import array_module

    x, weight, _, opts = _conv_args(op, x, weight, None, stride, padding, dilation, groups, output_padding)
    grad_out = array_module(x).ascontiguousarray(as_kernel_array(grad_out, op, "grad_output"))
    mask = tuple(bool(m) for m in output_mask)
    if len(mask) != 3:
        raise ValueError(f"{op}: output_mask must have 3 entries (input, weight, bias), got {output_mask!r}")
    out_shape = _C.conv2d_output_shape(x, weight, *opts, transposed)
    grads = [empty(x.shape, x.dtype, like=x) if mask[0] else None,
             empty(weight.shape, x.dtype, like=x) if mask[1] else None,
             empty((out_shape[1],), x.dtype, like=x) if mask[2] else None]
    _C.conv2d_backward(grad_out, x, weight, *grads, *opts, transposed, stream_of(x))
    return tuple(grads)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, out=None):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    x is (N, C, H, W), weight (K, C / groups, R, S), bias (K,) or None; returns
    (N, K, P, Q) with P = (H + 2 padding - dilation (R - 1) - 1) // stride + 1.
    stride, padding and dilation are ints or (h, w) pairs.
    """
    return _conv_forward("conv2d", False, x, weight, bias, stride, padding, dilation, groups, 0, out)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of conv2d: (grad_input, grad_weight, grad_bias), None where
    output_mask is False. grad_out is (N, K, P, Q)."""
    return _conv_backward("conv2d_backward", False, grad_out, x, weight, stride, padding, dilation, groups, 0,
                          output_mask)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, out=None):
    """2-D transposed convolution, as torch.nn.functional.conv_transpose2d (the
    adjoint of conv2d). x is (N, C_in, H, W), weight (C_in, C_out / groups, R, S),
    bias (C_out,) or None; returns (N, C_out, H_out, W_out) with
    H_out = (H - 1) stride - 2 padding + dilation (R - 1) + output_padding + 1.
    """
    return _conv_forward("conv_transpose2d", True, x, weight, bias, stride, padding, dilation, groups,
                         output_padding, out)


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                              output_mask=(True, True, True)):
    """Gradients of conv_transpose2d: (grad_input, grad_weight, grad_bias), None
    where output_mask is False. grad_out is (N, C_out, H_out, W_out)."""
    return _conv_backward("conv_transpose2d_backward", True, grad_out, x, weight, stride, padding, dilation, groups,
                          output_padding, output_mask)


# --- softmax family ---------------------------------------------------------
# softmax / log_softmax along any axis, their backwards from the output, and
# cross_entropy with torch.nn.functional semantics. cross_entropy_with_grad is
# the fused forward an autograd layer calls: one pass over the logits gives the
# loss and grad_output * d loss / d input, never storing the probabilities.

import numpy as np  # noqa: E402

_REDUCTIONS = ("none", "mean", "sum")


def _check_int(op, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {type(v).__name__}")
    return int(v)


def _softmax(op, x, dim, log, out):
    x = as_kernel_array(x, op, "input")
    dim = _check_int(op, "dim", dim)
    if out is None:
        out = empty(x.shape, x.dtype, like=x)
    _C.softmax(x, out, dim, log, stream_of(x))
    return out


def softmax(input, dim=-1, *, out=None):
    """exp(x - max) / sum exp(x - max) along dim (contiguous float32/float64 input)."""
    return _softmax("softmax", input, dim, False, out)


def log_softmax(input, dim=-1, *, out=None):
    """(x - max) - log sum exp(x - max) along dim."""
    return _softmax("log_softmax", input, dim, True, out)


def _softmax_backward(op, grad_output, output, dim, log, out):
    grad_output = as_kernel_array(grad_output, op, "grad_output")
    output = as_kernel_array(output, op, "output")
    dim = _check_int(op, "dim", dim)
    if out is None:
        out = empty(grad_output.shape, grad_output.dtype, like=grad_output)
    _C.softmax_backward(grad_output, output, out, dim, log, stream_of(grad_output))
    return out


def softmax_backward(grad_output, output, dim=-1, *, out=None):
    """d loss / d x of y = softmax(x, dim) from y: y * (g - sum(g * y, dim))."""
    return _softmax_backward("softmax_backward", grad_output, output, dim, False, out)


def log_softmax_backward(grad_output, output, dim=-1, *, out=None):
    """d loss / d x of y = log_softmax(x, dim) from y: g - exp(y) * sum(g, dim)."""
    return _softmax_backward("log_softmax_backward", grad_output, output, dim, True, out)


def _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, *, want_loss,
                        grad_output, loss_out, grad_out):
    op = "cross_entropy"
    input = as_kernel_array(input, op, "input")
    target = as_kernel_array(target, op, "target")
    if weight is not None:
        weight = as_kernel_array(weight, op, "weight")
    ignore_index = _check_int(op, "ignore_index", ignore_index)
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float, np.floating)):
        raise TypeError(f"{op}: label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if input.ndim < 1:
        raise ValueError(f"{op}: input must be (C,) or (N, C, d1, ...), got a 0-D array")
    positions = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    loss = None
    if want_loss:
        loss = loss_out if loss_out is not None else empty(positions if reduction == "none" else (), input.dtype,
                                                           like=input)
    grad = None
    grad_scale = 1.0
    if grad_output is not None:
        grad = grad_out if grad_out is not None else empty(input.shape, input.dtype, like=input)
        if isinstance(grad_output, (int, float, np.floating, np.integer)) and not isinstance(grad_output, bool):
            grad_scale, grad_output = float(grad_output), None
        else:
            grad_output = as_kernel_array(grad_output, op, "grad_output")
    _C.cross_entropy(input, target, weight, loss, grad, grad_output, grad_scale, ignore_index, reduction,
                     float(label_smoothing), stream_of(input))
    return loss, grad


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, *,
                  out=None):
    """torch.nn.functional.cross_entropy of logits input (C,) or (N, C, d1, ...), with int64
    class indices (N, d1, ...) or class probabilities of input's shape as target."""
    loss, _ = _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, want_loss=True,
                                  grad_output=None, loss_out=out, grad_out=None)
    return loss


def cross_entropy_backward(grad_output, input, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0, *, out=None):
    """d loss / d input times grad_output (a number or 1-element array; the loss's shape for
    reduction 'none'), recomputed from the logits in one pass."""
    _, grad = _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, want_loss=False,
                                  grad_output=grad_output, loss_out=None, grad_out=out)
    return grad


def cross_entropy_with_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                            grad_output=1.0, *, out=None, grad_out=None):
    """(loss, grad_output * d loss / d input) in one pass over the logits: the fused forward an
    autograd layer calls, scaling the saved gradient by the real grad_output in backward
    (a no-op for the usual loss.backward())."""
    return _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, want_loss=True,
                               grad_output=grad_output, loss_out=out, grad_out=grad_out)
# ---- pooling: max, average, Lp, adaptive average (forward and backward) ----
# Semantics of torch.nn.functional; arrays are NCHW (or CHW), float32/float64.
# ---- boxes: area, IoU, non-maximum suppression (torchvision.ops semantics) ----------
# Boxes are (N, 4) rows (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, no "+1" in
# widths. Every op raises ValueError naming the argument and the first bad row
# when a coordinate or score is not finite or a box has x2 < x1 or y2 < y1.

import numbers as _numbers

import numpy as _np


def _int_arg(v, op, name):
    if isinstance(v, bool) or not isinstance(v, (int, _np.integer)):
        raise TypeError(f"{op}: {name} must be an int or a tuple of two ints, got {type(v).__name__}")
    return int(v)


def _pool_pair(v, op, name):
    """An int, or a sequence of one or two ints, as (h, w)."""
    if isinstance(v, (tuple, list)):
        if len(v) not in (1, 2):
            raise ValueError(f"{op}: {name} must be an int or a tuple of two ints, got {len(v)} values")
        vals = [_int_arg(e, op, name) for e in v]
        return (vals[0], vals[-1])
    v = _int_arg(v, op, name)
    return (v, v)


def _stride(stride, kernel, op):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return _pool_pair(stride, op, "stride")


def _float_array(x, op, arg):
    x = as_kernel_array(x, op, arg)
    if x.dtype not in (_np.float32, _np.float64):
        raise TypeError(f"{op}: {arg} must be float32 or float64, got {x.dtype}")
    return x


def _shape_arg(shape, op):
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{op}: input_shape must be a tuple of ints, got {type(shape).__name__}")
    return tuple(_int_arg(s, op, "input_shape") for s in shape)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, *,
               out=None, indices=None):
    """Max over each window (NaN wins, first maximum on ties), as F.max_pool2d.
    With return_indices, also the int64 position h * W + w of each maximum."""
    op = "max_pool2d"
    x = _float_array(input, op, "input")
    k = _pool_pair(kernel_size, op, "kernel_size")
    s, p, d = _stride(stride, k, op), _pool_pair(padding, op, "padding"), _pool_pair(dilation, op, "dilation")
    shape = _C.pool2d_output_shape(op, x.shape, k, s, p, d, bool(ceil_mode))
    if out is None:
        out = empty(shape, x.dtype, like=x)
    if return_indices and indices is None:
        indices = empty(shape, _np.int64, like=x)
    _C.max_pool2d(x, out, indices if return_indices else None, k, s, p, d, bool(ceil_mode), stream_of(x))
    return (out, indices) if return_indices else out


def max_pool2d_backward(grad_output, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, out=None):
    """Gradient of max_pool2d: grad_output scattered (added) to indices in each plane."""
    op = "max_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    idx = as_kernel_array(indices, op, "indices")
    k = _pool_pair(kernel_size, op, "kernel_size")
    s, p, d = _stride(stride, k, op), _pool_pair(padding, op, "padding"), _pool_pair(dilation, op, "dilation")
    shape = _shape_arg(input_shape, op)
    _C.pool2d_output_shape("max_pool2d", shape, k, s, p, d, bool(ceil_mode))
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.max_pool2d_backward(gy, idx, out, k, s, p, d, bool(ceil_mode), stream_of(gy))
    return out


def _divisor(divisor_override, op):
    if divisor_override is None:
        return 0
    v = _int_arg(divisor_override, op, "divisor_override")
    if v == 0:
        raise ValueError(f"{op}: divisor_override must not be zero")
    return v


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, out=None):
    """Mean over each window, as F.avg_pool2d."""
    op = "avg_pool2d"
    x = _float_array(input, op, "input")
    k = _pool_pair(kernel_size, op, "kernel_size")
    s, p = _stride(stride, k, op), _pool_pair(padding, op, "padding")
    div = _divisor(divisor_override, op)
    shape = _C.pool2d_output_shape(op, x.shape, k, s, p, (1, 1), bool(ceil_mode))
    if out is None:
        out = empty(shape, x.dtype, like=x)
    _C.avg_pool2d(x, out, k, s, p, bool(ceil_mode), bool(count_include_pad), div, stream_of(x))
    return out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, out=None):
    """Gradient of avg_pool2d with respect to its input."""
    op = "avg_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    k = _pool_pair(kernel_size, op, "kernel_size")
    s, p = _stride(stride, k, op), _pool_pair(padding, op, "padding")
    div = _divisor(divisor_override, op)
    shape = _shape_arg(input_shape, op)
    _C.pool2d_output_shape("avg_pool2d", shape, k, s, p, (1, 1), bool(ceil_mode))
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.avg_pool2d_backward(gy, out, k, s, p, bool(ceil_mode), bool(count_include_pad), div, stream_of(gy))
    return out


def _norm(norm_type, op):
    if isinstance(norm_type, bool) or not isinstance(norm_type, _numbers.Real):
        raise TypeError(f"{op}: norm_type must be a real number, got {type(norm_type).__name__}")
    p = float(norm_type)
    if p == 0 or p != p:
        raise ValueError(f"{op}: norm_type must be a nonzero number (or +-inf), got {norm_type}")
    return p


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *, out=None):
    """Power-average pooling, as F.lp_pool2d: (avg_pool(x^p) * kH*kW)^(1/p), so
    (sum x^p)^(1/p) over full windows; p = inf: max |x|, p = -inf: min |x|."""
    op = "lp_pool2d"
    x = _float_array(input, op, "input")
    p = _norm(norm_type, op)
    k = _pool_pair(kernel_size, op, "kernel_size")
    s = _stride(stride, k, op)
    shape = _C.pool2d_output_shape(op, x.shape, k, s, (0, 0), (1, 1), bool(ceil_mode))
    if out is None:
        out = empty(shape, x.dtype, like=x)
    _C.lp_pool2d(x, out, p, k, s, bool(ceil_mode), stream_of(x))
    return out


def lp_pool2d_backward(grad_output, input, output, norm_type, kernel_size, stride=None, ceil_mode=False, *,
                       out=None):
    """Gradient of lp_pool2d with respect to input (output is lp_pool2d's result)."""
    op = "lp_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    x = _float_array(input, op, "input")
    y = _float_array(output, op, "output")
    p = _norm(norm_type, op)
    k = _pool_pair(kernel_size, op, "kernel_size")
    s = _stride(stride, k, op)
    _C.pool2d_output_shape("lp_pool2d", x.shape, k, s, (0, 0), (1, 1), bool(ceil_mode))
    if out is None:
        out = empty(x.shape, gy.dtype, like=gy)
    _C.lp_pool2d_backward(gy, x, y, out, p, k, s, bool(ceil_mode), stream_of(gy))
    return out


def _adaptive_size(output_size, in_shape, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) not in (1, 2):
            raise ValueError(f"{op}: output_size must be an int or a tuple of two ints (or None), "
                             f"got {len(output_size)} values")
        vals = list(output_size)
        if len(vals) == 1:
            vals = vals * 2
    else:
        vals = [output_size, output_size]
    size = []
    for i, v in enumerate(vals):
        if v is None:
            if len(in_shape) < 2:
                raise ValueError(f"{op}: input must be 3-D or 4-D, got shape {tuple(in_shape)}")
            size.append(int(in_shape[len(in_shape) - 2 + i]))
        else:
            size.append(_int_arg(v, op, "output_size"))
    return tuple(size)


def adaptive_avg_pool2d(input, output_size, *, out=None):
    """Mean over adaptive windows [floor(i*H/OH), ceil((i+1)*H/OH)), as F.adaptive_avg_pool2d."""
    op = "adaptive_avg_pool2d"
    x = _float_array(input, op, "input")
    size = _adaptive_size(output_size, x.shape, op)
    shape = _C.pool2d_output_shape(op, x.shape, size, (1, 1), (0, 0), (1, 1), False)
    if out is None:
        out = empty(shape, x.dtype, like=x)
    _C.adaptive_avg_pool2d(x, out, size, stream_of(x))
    return out


def adaptive_avg_pool2d_backward(grad_output, input_shape, *, out=None):
    """Gradient of adaptive_avg_pool2d; the output size is grad_output's."""
    op = "adaptive_avg_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    shape = _shape_arg(input_shape, op)
    if gy.ndim >= 2:
        _C.pool2d_output_shape("adaptive_avg_pool2d", shape, gy.shape[-2:], (1, 1), (0, 0), (1, 1), False)
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.adaptive_avg_pool2d_backward(gy, out, stream_of(gy))
    return out
def _c_contiguous(x):
    if x.ndim >= 1 and not x.flags.c_contiguous:
        from ._arrays import array_module

        return array_module(x).ascontiguousarray(x)
    return x


def _box_arg(x, op, arg):
    return _c_contiguous(as_kernel_array(x, op, arg))


def _rows(x):
    return x.shape[0] if x.ndim >= 1 else 0


def _real_number(v, op, name):
    if isinstance(v, bool) or not isinstance(v, _numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    return float(v)


def _count_or_none(v, op, name):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, _numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int or None, got {type(v).__name__}")
    return int(v)


def box_area(boxes, *, out=None):
    """Areas (N,) of boxes (N, 4): (x2 - x1) * (y2 - y1). float32 or float64."""
    boxes = _box_arg(boxes, "box_area", "boxes")
    if out is None:
        out = empty((_rows(boxes),), boxes.dtype, like=boxes)
    _C.box_area(boxes, out, stream_of(boxes))
    return out


def box_iou(boxes1, boxes2, *, out=None):
    """Pairwise IoU (N, M) of boxes1 (N, 4) and boxes2 (M, 4), like torchvision.ops.box_iou.

    IoU = inter / (area1 + area2 - inter); two boxes of zero area have IoU 0
    (torchvision returns NaN for that 0 / 0). float32 (SIMD twins) or float64.
    """
    boxes1 = _box_arg(boxes1, "box_iou", "boxes1")
    boxes2 = _box_arg(boxes2, "box_iou", "boxes2")
    if out is None:
        out = empty((_rows(boxes1), _rows(boxes2)), boxes1.dtype, like=boxes1)
    _C.box_iou(boxes1, boxes2, out, stream_of(boxes1))
    return out


def _nms_call(op, boxes, scores, idxs, iou_threshold, score_threshold, top_k, max_output):
    boxes = _box_arg(boxes, op, "boxes")
    scores = _box_arg(scores, op, "scores")
    iou_threshold = _real_number(iou_threshold, op, "iou_threshold")
    if score_threshold is not None:
        score_threshold = _real_number(score_threshold, op, "score_threshold")
    top_k = _count_or_none(top_k, op, "top_k")
    max_output = _count_or_none(max_output, op, "max_output")
    out = empty((_rows(boxes),), _np.int64, like=boxes)
    if idxs is None:
        count = _C.nms(boxes, scores, out, iou_threshold, score_threshold, top_k, max_output, stream_of(boxes))
    else:
        idxs = _box_arg(idxs, op, "idxs")
        count = _C.batched_nms(boxes, scores, idxs, out, iou_threshold, score_threshold, top_k, max_output,
                               stream_of(boxes))
    return out[:count]


def nms(boxes, scores, iou_threshold, *, score_threshold=None, top_k=None, max_output=None):
    """Greedy non-maximum suppression, like torchvision.ops.nms.

    boxes (N, 4) and scores (N,) share a float dtype. Candidates are visited in
    decreasing score order (equal scores: lower index first, on every device);
    a candidate is kept unless a kept box has IoU > iou_threshold with it.
    Returns the kept indices (K,) int64 in that order.

    Options for detection heads (SSD's Detect, torchvision's postprocess), applied
    in this order:
      score_threshold: only boxes with score > score_threshold are candidates.
      top_k: only the top_k highest-scoring candidates enter NMS.
      max_output: return at most max_output indices (the highest-scoring kept).
    IoU is computed in float64 for both dtypes, so the result equals a float64
    O(N * K) greedy loop exactly.
    """
    return _nms_call("nms", boxes, scores, None, iou_threshold, score_threshold, top_k, max_output)


def batched_nms(boxes, scores, idxs, iou_threshold, *, score_threshold=None, top_k=None, max_output=None):
    """Per-class NMS, like torchvision.ops.batched_nms: boxes only suppress boxes
    with the same label in idxs (N,) int64. Returns kept indices (K,) int64 in
    decreasing score order (equal scores: lower index first).

    score_threshold filters candidates; top_k caps the candidates of each class
    (SSD's per-class top_k = 200); max_output caps the whole result.
    """
    if idxs is None:
        raise TypeError("batched_nms: idxs must be an int64 array (N,), got None")
    return _nms_call("batched_nms", boxes, scores, idxs, iou_threshold, score_threshold, top_k, max_output)
# Recurrent cells and sequences: LSTM (gates i, f, g, o; optional peepholes),
# GRU (r, z, n, PyTorch's form), Elman RNN (tanh / relu). PyTorch weight
# layouts: w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H,), G = 4 / 3 / 1.
# Cells take x (N, I), h (N, H); sequences take x (T, N, I) and return
# y (T, N, H) (single layer, single direction). Every function makes one _C
# call; `state` / `saved` carry what the backward needs (documented per op).
# ---------------------------------------------------------------------------

import numpy as _np  # noqa: E402  (this section's own import, kept with it)


def _rnn_out(shape, dtype, like):
    """An output like `like`: straight from _C.empty's host cache for NumPy
    inputs (the batch-1 cells are overhead-bound), else via empty()."""
    if type(like) is _np.ndarray:
        return _C.empty(shape, dtype)
    return empty(shape, dtype, like=like)


def _rnn_prepare(op, x, w_hh):
    """Converts x and w_hh, and returns (x, w_hh, dtype, N, I, H) with sizes
    read defensively (the C++ front door reports any other malformed argument)."""
    x = as_kernel_array(x, op, "x")
    w_hh = as_kernel_array(w_hh, op, "w_hh")
    if x.dtype.char not in "fd":  # float32, float64 (str(dtype) costs microseconds)
        raise TypeError(f"{op}: x must be float32 or float64, got {x.dtype}")
    if "cell" in op and x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-D (batch, input_size), got {x.ndim}-D of shape {x.shape}")
    if "cell" not in op and x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (seq_len, batch, input_size), got {x.ndim}-D of shape {x.shape}")
    n = x.shape[-2] if x.ndim >= 2 else 0
    inp = x.shape[-1] if x.ndim >= 1 else 0
    hid = w_hh.shape[-1] if w_hh.ndim >= 1 else 0
    return x, w_hh, x.dtype, n, inp, hid


def _zeros(shape, dtype, like):
    out = _rnn_out(shape, dtype, like)
    out.fill(0)
    return out


def _nh_or_zeros(h, n, hid, dtype, like):
    return _zeros((n, hid), dtype, like) if h is None else h


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None, *, return_state=False):
    """One LSTM step (torch.nn.LSTMCell): gates (i, f, g, o) = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh;
    i = σ(a_i + p_i c), f = σ(a_f + p_f c), g = tanh(a_g), c' = f c + i g,
    o = σ(a_o + p_o c'), h' = o tanh(c'), with p = w_peephole (3, H) rows (i, f, o)
    when given (peepholes; i and f see c, o sees c').

    x (N, I), h and c (N, H). Returns (h_new, c_new), or (h_new, c_new, state)
    with return_state=True: state (N, 5H) = [i, f, g, o, c_new] per row, the
    input of lstm_cell_backward.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_cell", x, w_hh)
    h_new = _rnn_out((n, hid), dtype, x)
    c_new = _rnn_out((n, hid), dtype, x)
    state = _rnn_out((n, 5 * hid), dtype, x)
    _C.lstm_forward(x, h, c, w_ih, w_hh, b_ih, b_hh, w_peephole, h_new, None, c_new, state, stream_of(x))
    return (h_new, c_new, state) if return_state else (h_new, c_new)


def lstm_cell_backward(grad_h, grad_c, x, h, c, w_ih, w_hh, state, w_peephole=None, *, bias=True):
    """Gradients of lstm_cell. grad_h, grad_c (N, H) (either may be None: zero);
    x, h, c, w_ih, w_hh, w_peephole as given to lstm_cell; state from
    lstm_cell(..., return_state=True). Returns (dx, dh, dc, dw_ih, dw_hh,
    db_ih, db_hh, dw_peephole); db_ih and db_hh (equal) are None when
    bias=False, dw_peephole is None without peepholes.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_cell_backward", x, w_hh)
    dx = _rnn_out(x.shape, dtype, x)
    dh, dc = _rnn_out((n, hid), dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((4 * hid, inp), dtype, x)
    dw_hh = _rnn_out((4 * hid, hid), dtype, x)
    db_ih = _rnn_out((4 * hid,), dtype, x) if bias else None
    db_hh = _rnn_out((4 * hid,), dtype, x) if bias else None
    dpeep = _rnn_out((3, hid), dtype, x) if w_peephole is not None else None
    _C.lstm_backward(grad_h, None, grad_c, x, h, c, w_ih, w_hh, w_peephole, None, state, dx, dh, dc, dw_ih, dw_hh,
                     db_ih, db_hh, dpeep, stream_of(x))
    return dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh, dpeep


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None):
    """LSTM over a sequence (one layer, one direction; torch.nn.LSTM's
    equations, plus optional peepholes as in lstm_cell).

    x (T, N, I); h0, c0 (N, H) or None (zeros). Returns (y, h_n, c_n, saved):
    y (T, N, H) the hidden states, h_n and c_n (N, H) the last ones, saved
    (T, N, 5H) = [i, f, g, o, c_t] per step, the input of lstm_backward. The
    input projection of all steps is one GEMM; each step is one recurrent GEMM
    and one fused pass over the gates.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    c0 = _nh_or_zeros(c0, n, hid, dtype, x)
    y = _rnn_out((steps, n, hid), dtype, x)
    h_n, c_n = _rnn_out((n, hid), dtype, x), _rnn_out((n, hid), dtype, x)
    saved = _rnn_out((steps, n, 5 * hid), dtype, x)
    _C.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_peephole, y, h_n, c_n, saved, stream_of(x))
    return y, h_n, c_n, saved


def lstm_backward(grad_y, grad_h_n, grad_c_n, x, h0, c0, w_ih, w_hh, y, saved, w_peephole=None, *, bias=True):
    """Backpropagation through time for lstm. grad_y (T, N, H), grad_h_n and
    grad_c_n (N, H) may each be None (zero); x, h0, c0 (None: zeros), weights
    as given to lstm; y, saved from it. Returns (dx, dh0, dc0, dw_ih, dw_hh,
    db_ih, db_hh, dw_peephole); weight gradients are one GEMM over all steps.
    db_* are None when bias=False, dw_peephole None without peepholes.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    c0 = _nh_or_zeros(c0, n, hid, dtype, x)
    dx = _rnn_out(x.shape, dtype, x)
    dh0, dc0 = _rnn_out((n, hid), dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((4 * hid, inp), dtype, x)
    dw_hh = _rnn_out((4 * hid, hid), dtype, x)
    db_ih = _rnn_out((4 * hid,), dtype, x) if bias else None
    db_hh = _rnn_out((4 * hid,), dtype, x) if bias else None
    dpeep = _rnn_out((3, hid), dtype, x) if w_peephole is not None else None
    _C.lstm_backward(grad_y, grad_h_n, grad_c_n, x, h0, c0, w_ih, w_hh, w_peephole, y, saved, dx, dh0, dc0, dw_ih,
                     dw_hh, db_ih, db_hh, dpeep, stream_of(x))
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dpeep


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, *, return_state=False):
    """One GRU step (torch.nn.GRUCell): r = σ(W_ir x + b_ir + W_hr h + b_hr),
    z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h; gate rows of the weights in the order (r, z, n).

    x (N, I), h (N, H). Returns h_new, or (h_new, state) with return_state=True:
    state (N, 4H) = [r, z, n, W_hn h + b_hn] per row, the input of gru_cell_backward.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_cell", x, w_hh)
    h_new = _rnn_out((n, hid), dtype, x)
    state = _rnn_out((n, 4 * hid), dtype, x)
    _C.gru_forward(x, h, w_ih, w_hh, b_ih, b_hh, h_new, None, state, stream_of(x))
    return (h_new, state) if return_state else h_new


def gru_cell_backward(grad_h, x, h, w_ih, w_hh, state, *, bias=True):
    """Gradients of gru_cell from grad_h (N, H); state from gru_cell(...,
    return_state=True). Returns (dx, dh, dw_ih, dw_hh, db_ih, db_hh); db_* are
    None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_cell_backward", x, w_hh)
    dx, dh = _rnn_out(x.shape, dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((3 * hid, inp), dtype, x)
    dw_hh = _rnn_out((3 * hid, hid), dtype, x)
    db_ih = _rnn_out((3 * hid,), dtype, x) if bias else None
    db_hh = _rnn_out((3 * hid,), dtype, x) if bias else None
    _C.gru_backward(grad_h, None, x, h, w_ih, w_hh, None, state, dx, dh, dw_ih, dw_hh, db_ih, db_hh, stream_of(x))
    return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """GRU over a sequence (one layer, one direction; torch.nn.GRU's equations).
    x (T, N, I); h0 (N, H) or None (zeros). Returns (y, h_n, saved): y (T, N, H),
    h_n (N, H), saved (T, N, 4H) = [r, z, n, W_hn h + b_hn] per step.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    y, h_n = _rnn_out((steps, n, hid), dtype, x), _rnn_out((n, hid), dtype, x)
    saved = _rnn_out((steps, n, 4 * hid), dtype, x)
    _C.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, y, h_n, saved, stream_of(x))
    return y, h_n, saved


def gru_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, saved, *, bias=True):
    """Backpropagation through time for gru. grad_y (T, N, H) and grad_h_n (N, H)
    may be None (zero). Returns (dx, dh0, dw_ih, dw_hh, db_ih, db_hh); db_* are
    None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    dx, dh0 = _rnn_out(x.shape, dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((3 * hid, inp), dtype, x)
    dw_hh = _rnn_out((3 * hid, hid), dtype, x)
    db_ih = _rnn_out((3 * hid,), dtype, x) if bias else None
    db_hh = _rnn_out((3 * hid,), dtype, x) if bias else None
    _C.gru_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, saved, dx, dh0, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman step (torch.nn.RNNCell): h' = act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh),
    act = tanh or relu. x (N, I), h (N, H); returns h_new (N, H), which is also
    what rnn_cell_backward needs.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_cell", x, w_hh)
    h_new = _rnn_out((n, hid), dtype, x)
    _C.rnn_forward(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity, h_new, None, stream_of(x))
    return h_new


def rnn_cell_backward(grad_h, x, h, h_new, w_ih, w_hh, nonlinearity="tanh", *, bias=True):
    """Gradients of rnn_cell from grad_h (N, H) and its output h_new. Returns
    (dx, dh, dw_ih, dw_hh, db_ih, db_hh); db_* (equal) are None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_cell_backward", x, w_hh)
    dx, dh = _rnn_out(x.shape, dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((hid, inp), dtype, x)
    dw_hh = _rnn_out((hid, hid), dtype, x)
    db_ih = _rnn_out((hid,), dtype, x) if bias else None
    db_hh = _rnn_out((hid,), dtype, x) if bias else None
    _C.rnn_backward(grad_h, None, x, h, w_ih, w_hh, h_new, nonlinearity, dx, dh, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def rnn(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Elman RNN over a sequence (torch.nn.RNN, one layer, one direction).
    x (T, N, I); h0 (N, H) or None (zeros). Returns (y, h_n): y (T, N, H)
    (also what rnn_backward needs), h_n (N, H).
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    y, h_n = _rnn_out((steps, n, hid), dtype, x), _rnn_out((n, hid), dtype, x)
    _C.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, y, h_n, stream_of(x))
    return y, h_n


def rnn_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, nonlinearity="tanh", *, bias=True):
    """Backpropagation through time for rnn. grad_y (T, N, H) and grad_h_n
    (N, H) may be None (zero). Returns (dx, dh0, dw_ih, dw_hh, db_ih, db_hh);
    db_* (equal) are None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    dx, dh0 = _rnn_out(x.shape, dtype, x), _rnn_out((n, hid), dtype, x)
    dw_ih = _rnn_out((hid, inp), dtype, x)
    dw_hh = _rnn_out((hid, hid), dtype, x)
    db_ih = _rnn_out((hid,), dtype, x) if bias else None
    db_hh = _rnn_out((hid,), dtype, x) if bias else None
    _C.rnn_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, nonlinearity, dx, dh0, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh
