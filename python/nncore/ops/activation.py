"""Element-wise activations and their backwards (float32, any contiguous shape).

activation(x, kind) applies one of the kinds of activation_kinds (relu, relu6,
leaky_relu, elu, softplus, softsign, sigmoid, tanh) in one pass, into a reused
output (the host cache on the CPU) or `out=`, which may be x itself (in place).
activation_backward(grad, x, y, kind) gives grad * f'(.) from the output y, or
from the input x for softplus and softsign (activation_kinds.NEEDS_INPUT); the
one the kind does not read may be None.

alpha: leaky_relu's negative slope, elu's alpha, softplus's beta;
beta: softplus's threshold (beta x > threshold: x itself)."""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from . import activation_kinds
from ._checks import choice_arg, real_arg

_DEFAULTS = {"leaky_relu": (0.01, 0.0), "elu": (1.0, 0.0), "softplus": (1.0, 20.0)}


def _real(v, op, name, default):
    if v is None:
        return default
    return v if type(v) is float else real_arg(v, op, name)  # nncore._C refuses what is not finite


def _kind_args(op, kind, alpha, beta):
    code = activation_kinds.KINDS.get(kind) if isinstance(kind, str) else None
    if code is None:
        choice_arg(kind, op, "kind", tuple(activation_kinds.KINDS))
    a_default, b_default = _DEFAULTS.get(kind, (0.0, 0.0))
    return code, _real(alpha, op, "alpha", a_default), _real(beta, op, "beta", b_default)


def activation(input, kind, alpha=None, beta=None, *, out=None):
    """f(input) element-wise; out may be input (in place)."""
    op = "activation"
    code, alpha, beta = _kind_args(op, kind, alpha, beta)
    input = as_kernel_array(input, op, "input")
    if out is None:
        out = empty(input.shape, input.dtype, like=input)
    else:
        out = as_kernel_array(out, op, "out")
    _C.activation(input, out, code, alpha, beta, stream_of(input))
    return out


def activation_backward(grad_output, input, output, kind, alpha=None, beta=None, *, out=None):
    """grad_output * f'(.) from output (input for softplus and softsign); out may be grad_output."""
    op = "activation_backward"
    code, alpha, beta = _kind_args(op, kind, alpha, beta)
    grad_output = as_kernel_array(grad_output, op, "grad_output")
    if input is not None:
        input = as_kernel_array(input, op, "input")
    if output is not None:
        output = as_kernel_array(output, op, "output")
    if out is None:
        out = empty(grad_output.shape, grad_output.dtype, like=grad_output)
    else:
        out = as_kernel_array(out, op, "out")
    _C.activation_backward(grad_output, input, output, out, code, alpha, beta, stream_of(grad_output))
    return out
