"""Peephole fusion for Sequential: a Conv2d or Linear immediately followed by an
output-only activation module (ReLU, ReLU6, LeakyReLU, ELU, Sigmoid, Tanh) runs
as one fused kernel call and one autograd node (F.fused_conv2d / F.fused_linear),
with the same result as running the two modules to float rounding."""

import numpy as np

from .. import functional as F
from ..tensor import Tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_rules = None


def _load_rules():
    from . import layers

    def slope(m):
        v = m.negative_slope
        return ("leaky_relu", float(v)) if isinstance(v, (int, float)) and 0 <= v < float("inf") else None

    def elu_alpha(m):
        v = m.alpha
        return ("elu", float(v)) if isinstance(v, (int, float)) and 0 <= v < float("inf") else None

    activations = {
        layers.ReLU: lambda m: ("relu", None),
        layers.ReLU6: lambda m: ("relu6", None),
        layers.Sigmoid: lambda m: ("sigmoid", None),
        layers.Tanh: lambda m: ("tanh", None),
        layers.LeakyReLU: slope,
        layers.ELU: elu_alpha,
    }
    return layers.Linear, layers.Conv2d, activations


def _plain_module(m):
    """Runs its class's forward: none patched onto the instance."""
    return "forward" not in m.__dict__


def fused_call(layer, activation, input):
    """The output of activation(layer(input)) as one fused call, or None where the
    pair does not qualify (other module types, subclasses, a patched forward, non-float input)."""
    global _rules
    if _rules is None:
        _rules = _load_rules()
    linear_cls, conv_cls, activations = _rules
    kind = type(layer)
    if kind is not linear_cls and kind is not conv_cls:
        return None
    rule = activations.get(type(activation))
    if rule is None or not isinstance(input, Tensor) or input.data.dtype not in _FLOATS:
        return None
    if not (_plain_module(layer) and _plain_module(activation)):
        return None
    spec = rule(activation)
    if spec is None:
        return None
    name, alpha = spec
    if kind is linear_cls:
        return F.fused_linear(input, layer.weight, layer.bias, name, alpha)
    if layer.padding_mode != "zeros":
        return None
    return F.fused_conv2d(input, layer.weight, layer.bias, layer.stride, layer.padding, layer.dilation,
                          layer.groups, name, alpha)
