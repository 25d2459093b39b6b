"""Convolution: conv2d, conv_transpose2d and their backward (csrc/ops/conv2d.cpp)."""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of, array_module
from ._checks import bool_arg, int_arg
from .epilogue import activation_args


def _pair(op, name, v):
    """An int or a pair of ints -> a tuple of two Python ints (each within int64)."""
    items = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(items) != 2:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return tuple(int_arg(i, op, name, "an int or a pair of ints") for i in items)


def _int(op, name, v):
    return int_arg(v, op, name)


def _conv_args(op, x, weight, bias, stride, padding, dilation, groups, output_padding):

    x = as_kernel_array(x, op, "input")
    weight = as_kernel_array(weight, op, "weight")
    xp = array_module(x)
    x, weight = xp.ascontiguousarray(x), xp.ascontiguousarray(weight)
    if bias is not None:
        bias = xp.ascontiguousarray(as_kernel_array(bias, op, "bias"))
    opts = (_pair(op, "stride", stride), _pair(op, "padding", padding), _pair(op, "dilation", dilation),
            _int(op, "groups", groups), _pair(op, "output_padding", output_padding))
    return x, weight, bias, opts


def _conv_forward(op, transposed, x, weight, bias, stride, padding, dilation, groups, output_padding, out,
                  epilogue=(0, 0.0, 0.0)):
    x, weight, bias, opts = _conv_args(op, x, weight, bias, stride, padding, dilation, groups, output_padding)
    if out is None:
        shape = _C.conv2d_output_shape(x, weight, *opts, transposed)
        out = empty(shape, x.dtype, like=x)
    _C.conv2d_forward(x, weight, bias, out, *opts, transposed, stream_of(x), *epilogue)
    return out


def _conv_backward(op, transposed, grad_out, x, weight, stride, padding, dilation, groups, output_padding,
                   output_mask):

    x, weight, _, opts = _conv_args(op, x, weight, None, stride, padding, dilation, groups, output_padding)
    grad_out = array_module(x).ascontiguousarray(as_kernel_array(grad_out, op, "grad_output"))
    if not isinstance(output_mask, (tuple, list)):
        raise TypeError(f"{op}: output_mask must be a tuple of 3 bools (input, weight, bias), got "
                        f"{type(output_mask).__name__}")
    if len(output_mask) != 3:
        raise ValueError(f"{op}: output_mask must have 3 entries (input, weight, bias), got {output_mask!r}")
    mask = tuple(bool_arg(m, op, "output_mask") for m in output_mask)
    out_shape = _C.conv2d_output_shape(x, weight, *opts, transposed)
    grads = [empty(x.shape, x.dtype, like=x) if mask[0] else None,
             empty(weight.shape, x.dtype, like=x) if mask[1] else None,
             empty((out_shape[1],), x.dtype, like=x) if mask[2] else None]
    _C.conv2d_backward(grad_out, x, weight, *grads, *opts, transposed, stream_of(x))
    return tuple(grads)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, out=None, *, activation=None,
           act_alpha=None):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    x is (N, C, H, W), weight (K, C / groups, R, S), bias (K,) or None; returns
    (N, K, P, Q) with P = (H + 2 padding - dilation (R - 1) - 1) // stride + 1.
    stride, padding and dilation are ints or (h, w) pairs. activation (a name of
    nncore.ops.activation_kinds, act_alpha its slope / alpha) is applied to each
    output tile in cache: act(conv2d(x, weight) + bias) in one pass.
    """
    return _conv_forward("conv2d", False, x, weight, bias, stride, padding, dilation, groups, 0, out,
                         activation_args("conv2d", activation, act_alpha))


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
