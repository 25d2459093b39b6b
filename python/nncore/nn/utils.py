"""Gradient clipping and parameter flattening (PyTorch's nn.utils), and the
folding of eval-mode BatchNorm into the convolution or linear layer before it
(fuse_conv_bn, fuse_linear_bn, fuse_conv_bn_eval)."""

import copy
import math
import re

import numpy as np

from ..tensor import Tensor, _plain, _xp


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales every gradient in place so that their joint norm is at most
    max_norm; returns the norm before clipping (a 0-d Tensor)."""
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return _plain(np.zeros((), np.float32))
    if norm_type == math.inf:
        total = max(float(_xp(g.data).abs(g.data).max()) if g.data.size else 0.0 for g in grads)
    elif norm_type == 2.0:  # a dot product per gradient (BLAS), no temporaries
        total = math.sqrt(sum(float(_xp(g.data).vdot(g.data, g.data)) for g in grads))
    else:
        total = sum(float((_xp(g.data).abs(g.data.astype(np.float64)) ** norm_type).sum()) for g in grads)
        total = total ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({total}); set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g.data *= g.data.dtype.type(coef)
            g._bump()
    return _plain(np.asarray(total, grads[0].data.dtype))


def clip_grad_value_(parameters, clip_value):
    for g in _grads(parameters):
        _xp(g.data).clip(g.data, -clip_value, clip_value, out=g.data)
        g._bump()


def parameters_to_vector(parameters):
    from ..tensor import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    start = 0
    for p in parameters:
        n = p.numel()
        p.data[...] = vec.data[start:start + n].reshape(p.data.shape)
        p._bump()
        start += n


# ---------------------------------------------------------------- BatchNorm folding
def _bn_scale_shift(bn, op):
    """(scale, shift) in float64 with bn(x) = x * scale + shift per channel (eval mode)."""
    from .layers import _BatchNorm

    if not isinstance(bn, _BatchNorm):
        raise TypeError(f"{op}: bn must be a BatchNorm1d or BatchNorm2d, got {type(bn).__name__}")
    if bn.training:
        raise RuntimeError(f"{op}: bn is in training mode (it normalises with batch statistics); call .eval() first")
    if bn.running_mean is None:
        raise ValueError(f"{op}: bn has no running statistics (track_running_stats=False), so it cannot be folded")
    xp = _xp(bn.running_mean.data)
    scale = 1.0 / xp.sqrt(bn.running_var.data.astype(np.float64) + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.data.astype(np.float64)
    shift = -bn.running_mean.data.astype(np.float64) * scale
    if bn.bias is not None:
        shift = shift + bn.bias.data.astype(np.float64)
    return scale, shift


def _folded(layer, weight, scale, shift, op):
    """A copy of layer with weight (float64, already scaled) and bias = bias * scale + shift."""
    from .module import Parameter

    if layer.training:
        raise RuntimeError(f"{op}: {type(layer).__name__} is in training mode; call .eval() first")
    dtype = layer.weight.data.dtype
    bias = shift if layer.bias is None else layer.bias.data.astype(np.float64) * scale + shift
    fused = copy.deepcopy(layer)
    fused.weight = Parameter(_plain(weight.astype(dtype)), requires_grad=layer.weight.requires_grad)
    fused.bias = Parameter(_plain(bias.astype(dtype)), requires_grad=layer.weight.requires_grad)
    return fused


def fuse_conv_bn(conv, bn):
    """A new Conv2d (or ConvTranspose2d) computing bn(conv(x)) of the eval-mode
    pair: W' = W * gamma / sqrt(var + eps) per output channel and
    b' = (b - mean) * gamma / sqrt(var + eps) + beta, computed in float64."""
    from .layers import BatchNorm2d, Conv2d, ConvTranspose2d

    op = "fuse_conv_bn"
    if not isinstance(conv, (Conv2d, ConvTranspose2d)):
        raise TypeError(f"{op}: conv must be a Conv2d or ConvTranspose2d, got {type(conv).__name__}")
    if not isinstance(bn, BatchNorm2d):
        raise TypeError(f"{op}: bn must be a BatchNorm2d, got {type(bn).__name__}")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"{op}: bn has {bn.num_features} channels but conv has {conv.out_channels} output channels")
    scale, shift = _bn_scale_shift(bn, op)
    w = conv.weight.data.astype(np.float64)
    if isinstance(conv, Conv2d):  # (out, in / groups, kH, kW)
        w = w * scale.reshape(-1, 1, 1, 1)
    else:  # (in, out / groups, kH, kW): output channel g * out/groups + j is w[g-th in block, j]
        g = conv.groups
        shape = w.shape
        w = (w.reshape(g, shape[0] // g, shape[1], shape[2], shape[3]) *
             scale.reshape(g, 1, shape[1], 1, 1)).reshape(shape)
    return _folded(conv, w, scale, shift, op)


def fuse_linear_bn(linear, bn):
    """A new Linear computing bn(linear(x)) of the eval-mode pair (BatchNorm1d on
    (N, features) outputs): W' = W * gamma / sqrt(var + eps) per output feature."""
    from .layers import BatchNorm1d, Linear

    op = "fuse_linear_bn"
    if not isinstance(linear, Linear):
        raise TypeError(f"{op}: linear must be a Linear, got {type(linear).__name__}")
    if not isinstance(bn, BatchNorm1d):
        raise TypeError(f"{op}: bn must be a BatchNorm1d, got {type(bn).__name__}")
    if bn.num_features != linear.out_features:
        raise ValueError(f"{op}: bn has {bn.num_features} features but linear has {linear.out_features} outputs")
    scale, shift = _bn_scale_shift(bn, op)
    return _folded(linear, linear.weight.data.astype(np.float64) * scale.reshape(-1, 1), scale, shift, op)


def _fuse_pair(layer, bn):
    """fuse_conv_bn / fuse_linear_bn of a foldable pair, else None."""
    from .layers import BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Linear

    if bn.running_mean is None:
        return None
    if isinstance(layer, (Conv2d, ConvTranspose2d)) and isinstance(bn, BatchNorm2d) and \
            bn.num_features == layer.out_channels:
        return fuse_conv_bn(layer, bn)
    if isinstance(layer, Linear) and isinstance(bn, BatchNorm1d) and bn.num_features == layer.out_features:
        return fuse_linear_bn(layer, bn)
    return None


_NUMBERED_CONV = re.compile(r"conv(\d*)$")


def fuse_conv_bn_eval(module):
    """A copy of an eval-mode model with every BatchNorm folded into the layer
    that feeds it, the BatchNorm replaced by nn.Identity. Folded: inside an
    nn.Sequential, a Conv2d / ConvTranspose2d followed directly by a BatchNorm2d
    and a Linear followed directly by a BatchNorm1d; and in any module, the
    children named convN and bnN (torchvision's ResNet stem, BasicBlock and
    Bottleneck), whose forward must apply bnN straight to convN's output, as
    those do. A BatchNorm without running statistics is left as it is."""
    from .layers import Identity, _BatchNorm
    from .module import Module, Sequential

    if not isinstance(module, Module):
        raise TypeError(f"fuse_conv_bn_eval: module must be an nn.Module, got {type(module).__name__}")
    training = [name or type(module).__name__ for name, m in module.named_modules() if m.training]
    if training:
        raise RuntimeError(f"fuse_conv_bn_eval: the model must be in eval mode (call .eval() first); "
                           f"in training mode: {', '.join(training[:3])}{' ...' if len(training) > 3 else ''}")
    fused = copy.deepcopy(module)
    for parent in list(fused.modules()):
        children = parent._modules
        if isinstance(parent, Sequential):
            names = list(children)
            pairs = list(zip(names, names[1:]))
        else:
            pairs = [(name, "bn" + m.group(1)) for name in children
                     if (m := _NUMBERED_CONV.match(name)) and "bn" + m.group(1) in children]
        for first, second in pairs:
            layer, bn = children[first], children[second]
            if not isinstance(bn, _BatchNorm) or layer is None:
                continue
            replacement = _fuse_pair(layer, bn)
            if replacement is not None:  # assigned in place, so a Sequential keeps its order
                children[first] = replacement
                children[second] = Identity()
    return fused
