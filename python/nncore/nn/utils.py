"""Gradient clipping and parameter flattening (PyTorch's nn.utils)."""

import math

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
