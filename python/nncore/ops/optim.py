"""Fused optimiser updates: one pass over a parameter, its gradient and its
state, in place (float32, contiguous, all of the parameter's shape; NumPy or
CuPy). The rules are torch.optim's; nncore.optim's SGD, Adam, AdamW, RMSprop and
Adagrad run the same kernels."""

from .. import _C
from .._arrays import as_kernel_array, stream_of
from ._checks import bool_arg, real_arg


def _real(v, op, name):
    """A float passes as it is (nncore._C checks its range); another real is converted, the rest refused."""
    return v if type(v) is float else real_arg(v, op, name)


def _bool(v, op, name):
    return v if type(v) is bool else bool_arg(v, op, name)


def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, maximize=False, first_step=False):
    """d = g (-g when maximize) + weight_decay param; with momentum, buf = d on the
    first step, else momentum buf + (1 - dampening) d, and d = d + momentum buf
    (nesterov) or buf; param -= lr d. momentum_buffer is given exactly when momentum != 0."""
    op = "sgd_step"
    param = as_kernel_array(param, op, "param")
    grad = as_kernel_array(grad, op, "grad")
    if momentum_buffer is not None:
        momentum_buffer = as_kernel_array(momentum_buffer, op, "momentum_buffer")
    _C.sgd_step(param, grad, momentum_buffer, _real(lr, op, "lr"), _real(momentum, op, "momentum"),
                _real(dampening, op, "dampening"), _real(weight_decay, op, "weight_decay"),
                _bool(nesterov, op, "nesterov"), _bool(maximize, op, "maximize"), _bool(first_step, op, "first_step"),
                stream_of(param))
    return param


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, beta1, beta2, eps, step_size, bias2_sqrt,
              grad_decay=0.0, param_scale=1.0, maximize=False):
    """param *= param_scale (AdamW: 1 - lr weight_decay); d = g (-g when maximize) +
    grad_decay param (Adam's weight_decay); exp_avg += (1 - beta1) (d - exp_avg);
    exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) d^2; max_exp_avg_sq = max(itself,
    exp_avg_sq) when given (amsgrad); param -= step_size exp_avg / (sqrt(that) / bias2_sqrt + eps)
    with step_size = lr / (1 - beta1^t), bias2_sqrt = sqrt(1 - beta2^t)."""
    op = "adam_step"
    param = as_kernel_array(param, op, "param")
    grad = as_kernel_array(grad, op, "grad")
    exp_avg = as_kernel_array(exp_avg, op, "exp_avg")
    exp_avg_sq = as_kernel_array(exp_avg_sq, op, "exp_avg_sq")
    if max_exp_avg_sq is not None:
        max_exp_avg_sq = as_kernel_array(max_exp_avg_sq, op, "max_exp_avg_sq")
    _C.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, _real(beta1, op, "beta1"),
                 _real(beta2, op, "beta2"), _real(eps, op, "eps"), _real(grad_decay, op, "grad_decay"),
                 _real(param_scale, op, "param_scale"), _real(step_size, op, "step_size"),
                 _real(bias2_sqrt, op, "bias2_sqrt"), _bool(maximize, op, "maximize"), stream_of(param))
    return param


def rmsprop_step(param, grad, square_avg, grad_avg=None, momentum_buffer=None, *, lr, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, maximize=False):
    """d = g (-g when maximize) + weight_decay param; square_avg = alpha square_avg +
    (1 - alpha) d^2; centred (grad_avg given): grad_avg += (1 - alpha) (d - grad_avg) and
    avg = sqrt(square_avg - grad_avg^2) + eps, else sqrt(square_avg) + eps; with momentum
    (momentum_buffer given exactly when momentum != 0) buf = momentum buf + d / avg and
    param -= lr buf, else param -= lr d / avg."""
    op = "rmsprop_step"
    param = as_kernel_array(param, op, "param")
    grad = as_kernel_array(grad, op, "grad")
    square_avg = as_kernel_array(square_avg, op, "square_avg")
    if grad_avg is not None:
        grad_avg = as_kernel_array(grad_avg, op, "grad_avg")
    if momentum_buffer is not None:
        momentum_buffer = as_kernel_array(momentum_buffer, op, "momentum_buffer")
    _C.rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, _real(lr, op, "lr"),
                    _real(alpha, op, "alpha"), _real(eps, op, "eps"), _real(weight_decay, op, "weight_decay"),
                    _real(momentum, op, "momentum"), _bool(maximize, op, "maximize"), stream_of(param))
    return param


def adagrad_step(param, grad, sum, *, clr, eps=1e-10, weight_decay=0.0, maximize=False):
    """d = g (-g when maximize) + weight_decay param; sum += d^2;
    param -= clr d / (sqrt(sum) + eps), clr = lr / (1 + (t - 1) lr_decay)."""
    op = "adagrad_step"
    param = as_kernel_array(param, op, "param")
    grad = as_kernel_array(grad, op, "grad")
    sum = as_kernel_array(sum, op, "sum")
    _C.adagrad_step(param, grad, sum, _real(clr, op, "clr"), _real(eps, op, "eps"),
                    _real(weight_decay, op, "weight_decay"), _bool(maximize, op, "maximize"), stream_of(param))
    return param
