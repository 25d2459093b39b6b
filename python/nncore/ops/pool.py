"""Pooling: max, average, Lp, adaptive average (forward and backward).

Semantics of torch.nn.functional; arrays are NCHW (or CHW), float32/float64."""

import numpy as _np

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import bool_arg, int_arg, out_shape_arg, real_arg


def _int_arg(v, op, name):
    return int_arg(v, op, name, "an int or a tuple of two ints")


def _pair(v, op, name):
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
    return _pair(stride, op, "stride")


def _float_array(x, op, arg):
    x = as_kernel_array(x, op, arg)
    if x.dtype not in (_np.float32, _np.float64):
        raise TypeError(f"{op}: {arg} must be float32 or float64, got {x.dtype}")
    return x


def _shape_arg(shape, op):
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{op}: input_shape must be a tuple of ints, got {type(shape).__name__}")
    if len(shape) not in (3, 4):
        raise ValueError(f"{op}: input_shape must be (C, H, W) or (N, C, H, W), got {tuple(shape)}")
    return tuple(_int_arg(s, op, "input_shape") for s in shape)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, *,
               out=None, indices=None):
    """Max over each window (NaN wins, first maximum on ties), as F.max_pool2d.
    With return_indices, also the int64 position h * W + w of each maximum."""
    op = "max_pool2d"
    x = _float_array(input, op, "input")
    ceil_mode, return_indices = bool_arg(ceil_mode, op, "ceil_mode"), bool_arg(return_indices, op, "return_indices")
    k = _pair(kernel_size, op, "kernel_size")
    s, p, d = _stride(stride, k, op), _pair(padding, op, "padding"), _pair(dilation, op, "dilation")
    shape = _C.pool2d_output_shape(op, x.shape, k, s, p, d, ceil_mode)
    if out is None:
        out = empty(shape, x.dtype, like=x)
    if return_indices and indices is None:
        indices = empty(shape, _np.int64, like=x)
    _C.max_pool2d(x, out, indices if return_indices else None, k, s, p, d, ceil_mode, stream_of(x))
    return (out, indices) if return_indices else out


def max_pool2d_backward(grad_output, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, out=None):
    """Gradient of max_pool2d: grad_output scattered (added) to indices in each plane."""
    op = "max_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    ceil_mode = bool_arg(ceil_mode, op, "ceil_mode")
    idx = as_kernel_array(indices, op, "indices")
    k = _pair(kernel_size, op, "kernel_size")
    s, p, d = _stride(stride, k, op), _pair(padding, op, "padding"), _pair(dilation, op, "dilation")
    shape = _shape_arg(input_shape, op)
    _C.pool2d_output_shape("max_pool2d", shape, k, s, p, d, ceil_mode)
    if out is not None:
        out_shape_arg(as_kernel_array(out, op, "out"), shape, op)
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.max_pool2d_backward(gy, idx, out, k, s, p, d, ceil_mode, stream_of(gy))
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
    ceil_mode = bool_arg(ceil_mode, op, "ceil_mode")
    count_include_pad = bool_arg(count_include_pad, op, "count_include_pad")
    k = _pair(kernel_size, op, "kernel_size")
    s, p = _stride(stride, k, op), _pair(padding, op, "padding")
    div = _divisor(divisor_override, op)
    shape = _C.pool2d_output_shape(op, x.shape, k, s, p, (1, 1), ceil_mode)
    if out is None:
        out = empty(shape, x.dtype, like=x)
    _C.avg_pool2d(x, out, k, s, p, ceil_mode, count_include_pad, div, stream_of(x))
    return out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, out=None):
    """Gradient of avg_pool2d with respect to its input."""
    op = "avg_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    ceil_mode = bool_arg(ceil_mode, op, "ceil_mode")
    count_include_pad = bool_arg(count_include_pad, op, "count_include_pad")
    k = _pair(kernel_size, op, "kernel_size")
    s, p = _stride(stride, k, op), _pair(padding, op, "padding")
    div = _divisor(divisor_override, op)
    shape = _shape_arg(input_shape, op)
    _C.pool2d_output_shape("avg_pool2d", shape, k, s, p, (1, 1), ceil_mode)
    if out is not None:
        out_shape_arg(as_kernel_array(out, op, "out"), shape, op)
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.avg_pool2d_backward(gy, out, k, s, p, ceil_mode, count_include_pad, div, stream_of(gy))
    return out


def _norm(norm_type, op):
    p = real_arg(norm_type, op, "norm_type")
    if p == 0 or p != p:
        raise ValueError(f"{op}: norm_type must be a nonzero number (or +-inf), got {norm_type}")
    return p


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *, out=None):
    """Power-average pooling, as F.lp_pool2d: (avg_pool(x^p) * kH*kW)^(1/p), so
    (sum x^p)^(1/p) over full windows; p = inf: max |x|, p = -inf: min |x|."""
    op = "lp_pool2d"
    x = _float_array(input, op, "input")
    ceil_mode = bool_arg(ceil_mode, op, "ceil_mode")
    p = _norm(norm_type, op)
    k = _pair(kernel_size, op, "kernel_size")
    s = _stride(stride, k, op)
    shape = _C.pool2d_output_shape(op, x.shape, k, s, (0, 0), (1, 1), ceil_mode)
    if out is None:
        out = empty(shape, x.dtype, like=x)
    _C.lp_pool2d(x, out, p, k, s, ceil_mode, stream_of(x))
    return out


def lp_pool2d_backward(grad_output, input, output, norm_type, kernel_size, stride=None, ceil_mode=False, *,
                       out=None):
    """Gradient of lp_pool2d with respect to input (output is lp_pool2d's result)."""
    op = "lp_pool2d_backward"
    gy = _float_array(grad_output, op, "grad_output")
    ceil_mode = bool_arg(ceil_mode, op, "ceil_mode")
    x = _float_array(input, op, "input")
    y = _float_array(output, op, "output")
    p = _norm(norm_type, op)
    k = _pair(kernel_size, op, "kernel_size")
    s = _stride(stride, k, op)
    _C.pool2d_output_shape("lp_pool2d", x.shape, k, s, (0, 0), (1, 1), ceil_mode)
    if out is None:
        out = empty(x.shape, gy.dtype, like=gy)
    _C.lp_pool2d_backward(gy, x, y, out, p, k, s, ceil_mode, stream_of(gy))
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
    if out is not None:
        out_shape_arg(as_kernel_array(out, op, "out"), shape, op)
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    _C.adaptive_avg_pool2d_backward(gy, out, stream_of(gy))
    return out
