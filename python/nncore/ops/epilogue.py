"""The activation epilogue of conv2d and linear: its arguments, and its backward
from the output, g' = g * act'(y) (csrc/ops/epilogue.cpp)."""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from . import activation_kinds
from ._checks import real_arg

# act_alpha where a kind takes one and none is given: leaky_relu's negative slope,
# elu's alpha, softplus's beta (its threshold is PyTorch's 20).
_DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0, "softplus": 1.0}
_SOFTPLUS_THRESHOLD = 20.0


def activation_args(op, activation, act_alpha=None):
    """(code, alpha, beta) that _C's epilogues take for an activation name (None: no activation)."""
    if activation is None:
        activation = "none"
    if not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be a str or None, got {type(activation).__name__}")
    try:
        code = activation_kinds.code(activation)
    except ValueError as e:
        raise ValueError(f"{op}: {e}") from None
    alpha = _DEFAULT_ALPHA.get(activation, 0.0) if act_alpha is None else real_arg(act_alpha, op, "act_alpha",
                                                                                     finite=True)
    if activation == "softplus" and alpha == 0:
        raise ValueError(f"{op}: softplus needs act_alpha (beta) != 0")
    beta = _SOFTPLUS_THRESHOLD if activation == "softplus" else 0.0
    return code, alpha, beta


def epilogue_grad(grad_out, output, activation, act_alpha=None, out=None):
    """grad_out * act'(pre-activation) computed from output = act(pre-activation),
    for the kinds whose derivative the output determines (all but softplus and
    softsign). out (default: a new array from the host cache) may be grad_out."""
    op = "epilogue_grad"
    grad_out = as_kernel_array(grad_out, op, "grad_output")
    output = as_kernel_array(output, op, "output")
    if activation in activation_kinds.NEEDS_INPUT:
        raise ValueError(f"{op}: {activation}'s derivative needs its input, not its output; only "
                         f"{list(activation_kinds.FROM_OUTPUT)} are fused")
    code, alpha, beta = activation_args(op, activation, act_alpha)
    if out is None:
        out = empty(grad_out.shape, grad_out.dtype, like=grad_out)
    _C.epilogue_grad(grad_out, output, out, code, alpha, beta, stream_of(grad_out))
    return out
