"""Batch normalisation of float32 (N, C, *) arrays, torch.nn.functional
semantics: one statistics pass per channel (double sums) and one normalising
pass; the backward is one reduction pass and one pass writing grad_input.
batch_norm also returns the per-channel mean and 1 / sqrt(var + eps) it used,
which batch_norm_backward takes."""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import bool_arg, real_arg


def _optional(x, op, name):
    return None if x is None else as_kernel_array(x, op, name)


def batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, *, out=None, save_mean=None, save_invstd=None):
    """(out, save_mean, save_invstd): out = (x - mean) / sqrt(var + eps) * weight + bias per channel.

    training: batch mean and biased variance, and running_mean / running_var
    (if given) updated in place to (1 - momentum) r + momentum stat with the
    unbiased variance; otherwise the running statistics normalise."""
    op = "batch_norm"
    input = as_kernel_array(input, op, "input")
    running_mean = _optional(running_mean, op, "running_mean")
    running_var = _optional(running_var, op, "running_var")
    weight = _optional(weight, op, "weight")
    bias = _optional(bias, op, "bias")
    training = bool_arg(training, op, "training")
    momentum = real_arg(0.0 if momentum is None else momentum, op, "momentum", finite=True)
    eps = real_arg(eps, op, "eps", finite=True)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, *), got shape {tuple(input.shape)}")
    C = input.shape[1]
    if out is None:
        out = empty(input.shape, input.dtype, like=input)
    if save_mean is None:
        save_mean = empty((C,), input.dtype, like=input)
    if save_invstd is None:
        save_invstd = empty((C,), input.dtype, like=input)
    _C.batch_norm_forward(input, out, weight, bias, running_mean, running_var, save_mean, save_invstd, training,
                          momentum, eps, stream_of(input))
    return out, save_mean, save_invstd


def batch_norm_backward(grad_output, input, weight, save_mean, save_invstd, training, *, input_grad=True,
                        grad_input=None, grad_weight=None, grad_bias=None):
    """(grad_input, grad_weight, grad_bias) of batch_norm from its saved mean and invstd.

    grad_weight = sum g (x - mean) invstd and grad_bias = sum g per channel;
    grad_input (None unless input_grad) counts the batch statistics' dependence
    on x when training."""
    op = "batch_norm_backward"
    grad_output = as_kernel_array(grad_output, op, "grad_output")
    input = as_kernel_array(input, op, "input")
    weight = _optional(weight, op, "weight")
    save_mean = as_kernel_array(save_mean, op, "save_mean")
    save_invstd = as_kernel_array(save_invstd, op, "save_invstd")
    training = bool_arg(training, op, "training")
    input_grad = bool_arg(input_grad, op, "input_grad")
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, *), got shape {tuple(input.shape)}")
    C = input.shape[1]
    if input_grad and grad_input is None:
        grad_input = empty(input.shape, input.dtype, like=input)
    if not input_grad:
        grad_input = None
    if grad_weight is None:
        grad_weight = empty((C,), input.dtype, like=input)
    if grad_bias is None:
        grad_bias = empty((C,), input.dtype, like=input)
    _C.batch_norm_backward(grad_output, input, weight, save_mean, save_invstd, training, grad_input, grad_weight,
                           grad_bias, stream_of(grad_output))
    return grad_input, grad_weight, grad_bias
