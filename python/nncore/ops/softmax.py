"""The softmax family.

softmax / log_softmax along any axis, their backwards from the output, and
cross_entropy with torch.nn.functional semantics. cross_entropy_with_grad is
the fused forward an autograd layer calls: one pass over the logits gives the
loss and grad_output * d loss / d input, never storing the probabilities."""

import numpy as np

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import choice_arg, int_arg, real_arg


_REDUCTIONS = ("none", "mean", "sum")


def _check_int(op, name, v):
    return int_arg(v, op, name)


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
    choice_arg(reduction, op, "reduction", _REDUCTIONS)
    label_smoothing = real_arg(label_smoothing, op, "label_smoothing")
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
            grad_scale, grad_output = real_arg(grad_output, op, "grad_output", finite=True), None
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
    if grad_output is None:
        raise TypeError("cross_entropy_backward: grad_output must be a number or an array, got None")
    _, grad = _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, want_loss=False,
                                  grad_output=grad_output, loss_out=None, grad_out=out)
    return grad


def cross_entropy_with_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                            grad_output=1.0, *, out=None, grad_out=None):
    """(loss, grad_output * d loss / d input) in one pass over the logits: the fused forward an
    autograd layer calls, scaling the saved gradient by the real grad_output in backward
    (a no-op for the usual loss.backward())."""
    if grad_output is None:
        raise TypeError("cross_entropy_with_grad: grad_output must be a number or an array, got None")
    return _cross_entropy_call(input, target, weight, ignore_index, reduction, label_smoothing, want_loss=True,
                               grad_output=grad_output, loss_out=out, grad_out=grad_out)
