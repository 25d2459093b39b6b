"""nncore.functional (imported as F): the layers' maths as functions on Tensors,
with torch.nn.functional's names, argument order and defaults. Each op's
backward sits beside its forward; GEMM, convolution, pooling, the softmax family
and the recurrent cells run in nncore.ops kernels, elementwise glue in `xp`.
"""

import builtins
import math
import numbers

import numpy as np

from . import ops
from .ops.activation_kinds import FROM_OUTPUT
from .autograd import _mode
from .tensor import (
    Tensor,
    _as_tensor,
    _buffer,
    _gemm_ready,
    _activation,
    _activation_kernel_takes,
    _make,
    _norm_dim,
    _plain,
    _rng_of,
    _xp,
    clamp,
    getitem,
    norm,
    relu,  # re-exported as F.relu
    sigmoid,
    tanh,  # re-exported as F.tanh
    where,
)

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "bilinear", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv2d", "conv_transpose2d", "cross_entropy", "dropout", "elu",
    "embedding", "fused_conv2d", "fused_linear", "hardtanh", "hinge_embedding_loss", "huber_loss", "interpolate",
    "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "lp_pool2d",
    "max_pool2d", "mse_loss", "multi_margin_loss", "nll_loss", "normalize", "one_hot", "pad", "relu", "relu6",
    "sigmoid", "silu", "smooth_l1_loss", "softmax", "softmin", "softplus", "softsign", "tanh",
]


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _check_tensor(x, op, arg):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {arg} must be a Tensor, got {type(x).__name__}")


def _no_grad_arg(x, op, arg):
    """A gradient that is not computed is an error, never silence: refuses an
    argument that requires grad where op does not differentiate it (PyTorch
    refuses the same ones)."""
    if _mode.enabled and isinstance(x, Tensor) and x.requires_grad:
        raise ValueError(f"{op}: {arg} requires grad, but {op} is not differentiable with respect to {arg}; "
                         f"pass {arg}.detach()")


def _real_arg(v, op, arg):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {arg} must be a real number, got {type(v).__name__}")
    return float(v)


def _gemm(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays: nncore's GEMM for float32/float64."""
    if a.dtype == b.dtype and a.dtype in (np.float32, np.float64) and min(a.shape + b.shape) > 0:
        return ops.gemm(_gemm_ready(a), _gemm_ready(b), trans_a=trans_a, trans_b=trans_b)
    xp = _xp(a)
    return xp.matmul(a.T if trans_a else a, b.T if trans_b else b)


# ---------------------------------------------------------------- linear
def linear(input, weight, bias=None):
    """y = x W^T + b; x is (..., in_features), W (out_features, in_features)."""
    return _linear(input, weight, bias, "linear", None, None)


def fused_linear(input, weight, bias=None, activation="relu", act_alpha=None):
    """y = act(x W^T + b) in one GEMM whose epilogue adds the bias and applies the
    activation to each output tile in cache; one autograd node, its backward
    g' = g act'(y) then linear's. activation: relu, relu6, leaky_relu (act_alpha
    the negative slope, default 0.01, >= 0), elu (act_alpha alpha, default 1, >= 0),
    sigmoid or tanh. Equals linear followed by the activation to float rounding."""
    return _linear(input, weight, bias, "fused_linear", activation, act_alpha)


def _linear(input, weight, bias, op, activation, act_alpha):
    _check_tensor(input, op, "input")
    _check_tensor(weight, op, "weight")
    xd, wd = input.data, weight.data
    if xd.dtype != wd.dtype or (bias is not None and bias.data.dtype != wd.dtype):
        raise TypeError(f"{op}: input, weight and bias must have one dtype, got input {xd.dtype}, weight "
                        f"{wd.dtype}" + ("" if bias is None else f", bias {bias.data.dtype}"))
    if wd.ndim != 2 or xd.ndim < 1 or xd.shape[-1] != wd.shape[1]:
        raise ValueError(f"{op}: input (..., {wd.shape[1] if wd.ndim == 2 else '?'}) and weight "
                         f"(out_features, in_features) disagree: got input {xd.shape}, weight {wd.shape}")
    if activation is not None:
        _fusable_activation(op, activation, act_alpha)
        if xd.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: input must be float32 or float64 for a fused activation, got {xd.dtype}")
    lead = xd.shape[:-1]
    x2 = xd.reshape(-1, xd.shape[-1])
    if xd.dtype in (np.float32, np.float64):  # bias (and activation) in the GEMM's epilogue
        out = ops.linear(_gemm_ready(x2), _gemm_ready(wd), None if bias is None else bias.data,
                         activation=activation, act_alpha=act_alpha)
    else:
        out = _gemm(x2, wd, trans_b=True)
        if bias is not None:
            out += bias.data
    out = out.reshape(lead + (wd.shape[0],))

    def linear_backward(g):
        g2 = g.reshape(-1, wd.shape[0])
        if activation is not None:
            g2 = ops.epilogue_grad(_contiguous(g2), out.reshape(g2.shape), activation, act_alpha)
        gx = _gemm(g2, wd).reshape(xd.shape) if input.requires_grad else None
        gw = _gemm(g2, x2, trans_a=True) if weight.requires_grad else None
        gb = g2.sum(axis=0) if bias is not None and bias.requires_grad else None
        return gx, gw, gb

    inputs = (input, weight) if bias is None else (input, weight, bias)
    return _make(out, inputs, linear_backward, saved=(input, weight), save_out=activation is not None)


def _fusable_activation(op, activation, act_alpha):
    if not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be a str, got {type(activation).__name__}")
    if activation not in FROM_OUTPUT:  # act_alpha: leaky_relu's slope, elu's alpha
        raise ValueError(f"{op}: activation must be one of {', '.join(FROM_OUTPUT)}, got {activation!r}")
    if act_alpha is not None:
        if activation not in ("leaky_relu", "elu"):
            raise ValueError(f"{op}: act_alpha is for leaky_relu and elu, got act_alpha with {activation}")
        if _real_arg(act_alpha, op, "act_alpha") < 0 or not math.isfinite(act_alpha):
            # a negative slope or alpha makes the output's sign ambiguous, so act'(y) is not defined by y
            raise ValueError(f"{op}: act_alpha must be finite and >= 0 for a fused {activation}, got {act_alpha}")


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k."""
    from .tensor import matmul

    if weight.ndim != 3 or input1.ndim < 1 or input2.ndim < 1 or input1.shape[-1] != weight.shape[1] or \
            input2.shape[-1] != weight.shape[2] or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ValueError(f"bilinear: weight (out, in1, in2) must agree with input1 (..., in1) and input2 "
                         f"(..., in2), got input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)}, weight "
                         f"{tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bilinear: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}")
    _same_dtype("bilinear", input1, input2=input2, weight=weight, bias=bias)

    y = (matmul(input1.unsqueeze(-2).unsqueeze(-3), weight) * input2.unsqueeze(-2).unsqueeze(-3)).sum(-1)
    y = y.squeeze(-1)
    return y if bias is None else y + bias


# ---------------------------------------------------------------- convolution
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _batched(input, op, what="(N, C, H, W)"):
    """Unbatched (C, H, W) input runs as a batch of one, as in PyTorch."""
    _check_tensor(input, op, "input")
    if input.ndim == 3:
        return input.unsqueeze(0), True
    if input.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D {what} or 3-D unbatched, got {input.ndim}-D of shape "
                         f"{tuple(input.shape)}")
    return input, False


def _covers_input(x, weight, window, groups, padding, dilation, channels=1):
    """True when a convolution is one GEMM: groups 1, no padding or dilation, a
    `window` equal to the input's height and width, and weight.shape[channels]
    equal to the input's channels (otherwise the kernel's checks report the error)."""
    return (isinstance(padding, (int, tuple, list)) and _pair(padding) == (0, 0) and _pair(dilation) == (1, 1)
            and groups == 1 and weight.ndim == 4 and tuple(x.shape[2:]) == tuple(window)
            and weight.shape[channels] == x.shape[1])


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (nncore.ops.conv2d): input (N, C, H, W), weight
    (K, C / groups, R, S); padding may be an int, a pair, 'valid' or 'same'."""
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d", None, None)


def fused_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation="relu",
                 act_alpha=None):
    """y = act(conv2d(x, W) + b), the bias and activation applied to each output
    tile in cache by the convolution kernel; one autograd node, its backward
    g' = g act'(y) then conv2d's. activation and act_alpha as in fused_linear.
    Equals conv2d followed by the activation to float rounding."""
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "fused_conv2d", activation, act_alpha)


def _conv2d(input, weight, bias, stride, padding, dilation, groups, op, activation, act_alpha):
    x, unbatched = _batched(input, op)
    if activation is not None:
        _fusable_activation(op, activation, act_alpha)
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if any(s != 1 for s in _pair(stride)):
                raise ValueError(f"{op}: padding='same' needs stride 1")
            total = [d * (k - 1) for d, k in zip(_pair(dilation), weight.shape[2:])]
            if any(t % 2 for t in total):
                x = pad(x, (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2))
                padding = 0
            else:
                padding = (total[0] // 2, total[1] // 2)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if _covers_input(x, weight, weight.shape[2:], groups, padding, dilation):
        # the kernel spans the whole unpadded input (DCGAN's last layer): one output pixel, a GEMM
        y = _linear(x.reshape(x.shape[0], -1), weight.reshape(weight.shape[0], -1), bias, op, activation, act_alpha)
        y = y.reshape(x.shape[0], weight.shape[0], 1, 1)
        return y.squeeze(0) if unbatched else y
    xd, wd = _contiguous(x.data), _contiguous(weight.data)
    out = ops.conv2d(xd, wd, None if bias is None else bias.data, stride, padding, dilation, groups,
                     activation=activation, act_alpha=act_alpha)

    def conv2d_backward(g):
        mask = (x.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
        if activation is not None:
            g = ops.epilogue_grad(_contiguous(g), out, activation, act_alpha)
        return ops.conv2d_backward(g, xd, wd, stride, padding, dilation, groups, output_mask=mask)

    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = _make(out, inputs, conv2d_backward, saved=(x, weight), save_out=activation is not None)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (nncore.ops.conv_transpose2d): input
    (N, C_in, H, W), weight (C_in, C_out / groups, R, S)."""
    x, unbatched = _batched(input, "conv_transpose2d")
    if (weight.ndim == 4 and x.shape[2:] == (1, 1) and _pair(output_padding) == (0, 0)
            and _covers_input(x, weight, (1, 1), groups, padding, dilation, channels=0)):
        # a 1x1 input (DCGAN's first layer): each output is the kernel scaled by the input, a GEMM
        n, c_out, r, s = x.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]
        y = (x.reshape(n, -1) @ weight.reshape(weight.shape[0], -1)).reshape(n, c_out, r, s)
        if bias is not None:
            y = y + bias.reshape(1, c_out, 1, 1)
        return y.squeeze(0) if unbatched else y
    xd, wd = _contiguous(x.data), _contiguous(weight.data)
    out = ops.conv_transpose2d(xd, wd, None if bias is None else bias.data, stride, padding, output_padding,
                               groups, dilation)

    def conv_transpose2d_backward(g):
        mask = (x.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
        return ops.conv_transpose2d_backward(g, xd, wd, stride, padding, output_padding, groups, dilation,
                                             output_mask=mask)

    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = _make(out, inputs, conv_transpose2d_backward, saved=(x, weight))
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------- pooling
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Window maxima (nncore.ops.max_pool2d); with return_indices also the
    int64 position h * W + w of each maximum in its plane."""
    _check_tensor(input, "max_pool2d", "input")
    xd = _contiguous(input.data)
    out, indices = ops.max_pool2d(xd, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    shape = xd.shape

    def max_pool2d_backward(g):
        return (ops.max_pool2d_backward(_contiguous(g), indices, shape, kernel_size, stride, padding, dilation,
                                        ceil_mode),)

    y = _make(out, (input,), max_pool2d_backward)
    return (y, _plain(indices)) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Window means (nncore.ops.avg_pool2d)."""
    _check_tensor(input, "avg_pool2d", "input")
    xd = _contiguous(input.data)
    out = ops.avg_pool2d(xd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    shape = xd.shape

    def avg_pool2d_backward(g):
        return (ops.avg_pool2d_backward(_contiguous(g), shape, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override),)

    return _make(out, (input,), avg_pool2d_backward)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p) (nncore.ops.lp_pool2d)."""
    _check_tensor(input, "lp_pool2d", "input")
    xd = _contiguous(input.data)
    out = ops.lp_pool2d(xd, norm_type, kernel_size, stride, ceil_mode)

    def lp_pool2d_backward(g):
        return (ops.lp_pool2d_backward(_contiguous(g), xd, out, norm_type, kernel_size, stride, ceil_mode),)

    return _make(out, (input,), lp_pool2d_backward, saved=(input,), save_out=True)


def adaptive_avg_pool2d(input, output_size):
    """Means over the adaptive windows [floor(i H / OH), ceil((i + 1) H / OH))."""
    _check_tensor(input, "adaptive_avg_pool2d", "input")
    if output_size is None:
        raise TypeError("adaptive_avg_pool2d: output_size must be an int or a pair (an entry may be None), got None")
    xd = _contiguous(input.data)
    out = ops.adaptive_avg_pool2d(xd, output_size)
    shape = xd.shape

    def adaptive_avg_pool2d_backward(g):
        return (ops.adaptive_avg_pool2d_backward(_contiguous(g), shape),)

    return _make(out, (input,), adaptive_avg_pool2d_backward)


# ---------------------------------------------------------------- activations
def softsign(input):
    xd = input.data
    if _activation_kernel_takes(xd):
        return _activation(input, "softsign", "softsign")
    den = 1 + np.abs(xd)
    return _make(xd / den, (input,), lambda g: (g / (den * den),), saved=(input,))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _check_tensor(input, "hardtanh", "input")
    min_val, max_val = _real_arg(min_val, "hardtanh", "min_val"), _real_arg(max_val, "hardtanh", "max_val")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val must be <= max_val, got min_val={min_val}, max_val={max_val}")
    xd = input.data
    if min_val == 0.0 and max_val == 6.0 and _activation_kernel_takes(xd):
        return _activation(input, "relu6", "hardtanh")  # its backward from y: 0 < y < 6 exactly where 0 < x < 6
    out = np.minimum(np.maximum(xd, min_val), max_val).astype(xd.dtype, copy=False)
    return _make(out, (input,), lambda g: (g * ((xd > min_val) & (xd < max_val)),), saved=(input,))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    xd = input.data
    # the kernel's oracle takes log1p(exp(beta x)) as written: beta x up to the threshold must not overflow
    if (_activation_kernel_takes(xd) and isinstance(beta, numbers.Real) and isinstance(threshold, numbers.Real)
            and 0 < beta < math.inf and -math.inf < threshold <= 80):
        return _activation(input, "softplus", "softplus", float(beta), float(threshold))
    z = xd * beta
    linear_part = z > threshold
    soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    out = np.where(linear_part, xd, soft).astype(xd.dtype, copy=False)

    def softplus_backward(g):
        e = np.exp(-np.abs(z))
        sig = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return (g * np.where(linear_part, 1, sig).astype(xd.dtype, copy=False),)

    return _make(out, (input,), softplus_backward, saved=(input,))


def logsigmoid(input):
    return -softplus(-input)


def elu(input, alpha=1.0, inplace=False):
    xd = input.data
    # the kernel's backward reads y: y > 0 exactly where x > 0 needs alpha >= 0
    if _activation_kernel_takes(xd) and isinstance(alpha, numbers.Real) and 0 <= alpha < math.inf:
        return _activation(input, "elu", "elu", float(alpha))
    pos = xd > 0
    neg_part = alpha * np.expm1(np.minimum(xd, 0))
    out = np.where(pos, xd, neg_part).astype(xd.dtype, copy=False)
    return _make(out, (input,), lambda g: (g * np.where(pos, 1, neg_part + alpha).astype(xd.dtype, copy=False),),
                 saved=(input,))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    xd = input.data
    xp = _xp(xd)
    # the kernel's backward reads y: y > 0 exactly where x > 0 needs a slope >= 0
    if _activation_kernel_takes(xd) and isinstance(negative_slope, numbers.Real) and 0 <= negative_slope < math.inf:
        return _activation(input, "leaky_relu", "leaky_relu", float(negative_slope))
    slope = xd.dtype.type(negative_slope) if xd.dtype.kind == "f" else negative_slope
    if not 0 <= negative_slope <= 1:
        pos = xd > 0
        out = xp.where(pos, xd, xd * slope).astype(xd.dtype, copy=False)
        return _make(out, (input,), lambda g: (xp.where(pos, g, g * slope).astype(g.dtype, copy=False),),
                     saved=(input,))
    # for a slope in [0, 1]: max(x, slope x), and x > 0 exactly where the output is (slope 0: where it is > 0)
    out = xp.multiply(xd, slope, out=_buffer(xd.shape, xd.dtype, xd))
    xp.maximum(xd, out, out=out)

    def leaky_relu_backward(g):
        grad = xp.greater(out, 0, out=_buffer(g.shape, g.dtype, g))      # g * (slope + (1 - slope) [out > 0]),
        xp.multiply(grad, 1 - slope, out=grad)                             # branch-free: 5x faster than a mask
        xp.add(grad, slope, out=grad)
        return (xp.multiply(g, grad, out=grad),)

    return _make(out, (input,), leaky_relu_backward, save_out=True)


def silu(input):
    return input * sigmoid(input)


# ---------------------------------------------------------------- softmax family
def _softmax_dim(dim, ndim, op):
    if dim is None:
        # PyTorch's legacy implicit choice
        dim = 0 if ndim in (0, 1, 3) else 1
    return _norm_dim(dim, ndim, op)


def _contiguous(a):
    return a if a.flags.c_contiguous else _xp(a).ascontiguousarray(a)


def _softmax_op(input, dim, log, op):
    """softmax / log_softmax in nncore.ops; backward from the saved output."""
    _check_tensor(input, op, "input")
    xd = input.data
    d = _softmax_dim(dim, xd.ndim, op)
    if xd.ndim == 0:
        out = ops.log_softmax(xd.reshape(1), 0) if log else ops.softmax(xd.reshape(1), 0)
        out = out.reshape(())
    else:
        out = (ops.log_softmax if log else ops.softmax)(_contiguous(xd), d)

    def softmax_backward(g):
        if xd.ndim == 0:
            return ((ops.log_softmax_backward if log else ops.softmax_backward)(
                _contiguous(g).reshape(1), out.reshape(1), 0).reshape(()),)
        return ((ops.log_softmax_backward if log else ops.softmax_backward)(_contiguous(g), out, d),)

    return _make(out, (input,), softmax_backward, save_out=True)


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum exp(x) along dim (nncore.ops.softmax)."""
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_op(input, dim, False, "softmax")


def log_softmax(input, dim=None, dtype=None):
    """x - log sum exp(x) along dim (nncore.ops.log_softmax)."""
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_op(input, dim, True, "log_softmax")


def softmin(input, dim=None, dtype=None):
    """softmax(-x) along dim; dtype casts the input first, as in softmax."""
    _check_tensor(input, "softmin", "input")
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


# ---------------------------------------------------------------- regularisation / normalisation
def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    xd = input.data
    xp = _xp(xd)
    if p == 1.0:
        mask = xp.zeros(xd.shape, xd.dtype)
    else:
        uniform = _rng_of(xp).random(xd.shape, dtype=np.float32) if xp is np else _rng_of(xp).random(xd.shape)
        mask = xp.multiply(uniform >= p, xd.dtype.type(1.0 / (1.0 - p)), dtype=xd.dtype)  # keep / (1 - p)
    return _make(xd * mask, (input,), lambda g: (g * mask,))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalises (N, C, *) over every axis but C. In training the batch
    statistics are used and the running ones updated in place (unbiased var).

    Per channel c, y = x * scale_c + shift_c with scale = weight / sqrt(var + eps)
    and shift = bias - mean * scale; the backward needs only x and the
    per-channel statistics: with S_g = sum g, S_gx = sum g (x - mean),
    d weight = S_gx / std, d bias = S_g and, in training,
    dx = scale (g - S_g / count - (x - mean) S_gx / (count var_eps))."""
    _check_tensor(input, "batch_norm", "input")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be None or both be Tensors")
    _same_dtype("batch_norm", input, weight=weight, bias=bias)
    xd = input.data
    if xd.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, *), got shape {xd.shape}")
    N, C = xd.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must be ({C},) (one per channel), got {tuple(t.shape)}")
    if _batch_norm_kernel_takes(xd, running_mean, running_var, weight, bias):
        return _batch_norm_kernel(input, running_mean, running_var, weight, bias, training, momentum, eps)
    count = xd.size // C if C else 0
    xp = _xp(xd)
    x3 = xd.reshape(N, C, -1)                          # (N, C, S)
    if training:
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {xd.shape}")
        mean = x3.sum(axis=2).sum(axis=0) / count
        centred = xp.subtract(x3, mean[:, None], out=_buffer(x3.shape, x3.dtype, x3))
        var = xp.einsum("ncs,ncs->c", centred, centred) / count
        del centred
        m = 0.1 if momentum is None else momentum
        if running_mean is not None:
            running_mean.data *= (1 - m)
            running_mean.data += m * mean.astype(running_mean.data.dtype, copy=False)
            running_mean._bump()
        if running_var is not None:
            running_var.data *= (1 - m)
            running_var.data += m * (var * (count / (count - 1))).astype(running_var.data.dtype, copy=False)
            running_var._bump()
    else:
        mean = running_mean.data
        var = running_var.data
    inv_std = (1.0 / xp.sqrt(var + eps)).astype(xd.dtype, copy=False)
    mean = mean.astype(xd.dtype, copy=False)
    scale = inv_std if weight is None else inv_std * weight.data
    shift = -mean * scale if bias is None else bias.data - mean * scale
    out = xp.multiply(x3, scale[:, None], out=_buffer(x3.shape, x3.dtype, x3))
    out += shift[:, None]

    def batch_norm_backward(g):
        g3 = g.reshape(N, C, -1)
        sum_g = g3.sum(axis=2).sum(axis=0)
        sum_gx = xp.einsum("ncs,ncs->c", g3, x3) - mean * sum_g     # sum g (x - mean)
        gw = sum_gx * inv_std if weight is not None and weight.requires_grad else None
        gb = sum_g if bias is not None and bias.requires_grad else None
        gx = None
        if input.requires_grad:
            gx = _buffer(xd.shape, xd.dtype, xd)
            gx3 = gx.reshape(N, C, -1)
            xp.multiply(g3, scale[:, None], out=gx3)
            if training:
                # dx = scale g + k x + c, per channel
                k = -scale * sum_gx * inv_std * inv_std / count
                c = -scale * sum_g / count - k * mean
                gx3 += xp.multiply(x3, k[:, None], out=_buffer(x3.shape, x3.dtype, x3))
                gx3 += c[:, None]
        return gx, gw, gb

    inputs = (input, _NONE if weight is None else weight, _NONE if bias is None else bias)
    return _make(out.reshape(xd.shape), inputs, batch_norm_backward,
                 saved=(input,) + ((weight,) if weight is not None else ()))


_NONE = _plain(np.zeros(0, np.float32))


def _batch_norm_kernel_takes(xd, *tensors):
    """float32 input and float32 parameters and statistics: nncore.ops.batch_norm
    (float64 keeps the NumPy path above, the reference the gradient checks use)."""
    return xd.dtype == np.float32 and all(t is None or (t.data.dtype == np.float32 and t.data.flags.c_contiguous)
                                          for t in tensors)


def _batch_norm_kernel(input, running_mean, running_var, weight, bias, training, momentum, eps):
    """batch_norm in nncore.ops: one statistics pass, one normalising pass; the
    backward one reduction pass and one grad_input pass (ops.batch_norm_backward)."""
    xd = _contiguous(input.data)
    rm = None if running_mean is None else running_mean.data
    rv = None if running_var is None else running_var.data
    w = None if weight is None else weight.data
    b = None if bias is None else bias.data
    out, save_mean, save_invstd = ops.batch_norm(xd, rm, rv, w, b, bool(training),
                                                 0.1 if momentum is None else momentum, eps)
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._bump()

    def batch_norm_backward(g):
        want_weight = weight is not None and weight.requires_grad
        want_bias = bias is not None and bias.requires_grad
        gx, gw, gb = ops.batch_norm_backward(_contiguous(g), xd, w, save_mean, save_invstd, bool(training),
                                             input_grad=input.requires_grad)
        return gx, gw if want_weight else None, gb if want_bias else None

    inputs = (input, _NONE if weight is None else weight, _NONE if bias is None else bias)
    return _make(out, inputs, batch_norm_backward, saved=(input,) + ((weight,) if weight is not None else ()))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the last len(normalized_shape) axes."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in normalized_shape):
        raise TypeError(f"layer_norm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
    normalized_shape = tuple(int(n) for n in normalized_shape)
    _same_dtype("layer_norm", input, weight=weight, bias=bias)
    xd = input.data
    k = len(normalized_shape)
    if xd.shape[xd.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: input's trailing shape must be {normalized_shape}, got {xd.shape}")
    axes = tuple(range(xd.ndim - k, xd.ndim))
    xp = _xp(xd)
    mean = xd.mean(axis=axes, keepdims=True)
    centred = xd - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat = (centred * inv_std).astype(xd.dtype, copy=False)
    out = xhat
    if weight is not None:
        out = out * weight.data
    if bias is not None:
        out = out + bias.data
    lead = tuple(range(xd.ndim - k))

    def layer_norm_backward(g):
        gw = (g * xhat).sum(axis=lead) if weight is not None and weight.requires_grad else None
        gb = g.sum(axis=lead) if bias is not None and bias.requires_grad else None
        gx = None
        if input.requires_grad:
            gxhat = g * weight.data if weight is not None else g
            gx = (gxhat - gxhat.mean(axis=axes, keepdims=True)
                  - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)) * inv_std
        return gx, gw, gb

    inputs = (input, _NONE if weight is None else weight, _NONE if bias is None else bias)
    return _make(out.astype(xd.dtype, copy=False), inputs, layer_norm_backward,
                 saved=(input,) + ((weight,) if weight is not None else ()))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the int64 indices in input; the backward
    scatter-adds (repeated indices accumulate), nothing for padding_idx."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got {idx.dtype}")
    wd = weight.data
    if wd.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {wd.shape}")
    idx = _xp(wd).asarray(idx)
    n = wd.shape[0]
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"embedding: index out of range for {n} embeddings "
                         f"(got values in [{int(idx.min())}, {int(idx.max())}])")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        rows = np.unique(idx % n) if _xp(wd) is np else _xp(wd).unique(idx % n)
        norms = (np.abs(wd[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(wd.dtype)
        wd[rows] *= scale[:, None]
        weight._bump()
    out = wd[idx]

    def embedding_backward(g):
        gw = _xp(g).zeros(wd.shape, g.dtype)
        flat = (idx % n).reshape(-1)
        g2 = g.reshape(-1, wd.shape[1])
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=n) if _xp(g) is np else _xp(g).bincount(flat, minlength=n)
            g2 = g2 / counts[flat][:, None]
        from .tensor import _scatter_add

        _scatter_add(gw, flat, g2)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    return _make(out, (weight,), embedding_backward)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p along dim, eps) (SSD's L2Norm without the scale). p = 0
    counts the non-zero entries (no gradient through the norm), as PyTorch."""
    _check_tensor(input, "normalize", "input")
    p = _real_arg(p, "normalize", "p")
    if input.ndim == 0:
        _norm_dim(dim, 0, "normalize")
        return normalize(input.reshape(1), p, 0, eps).reshape(())
    return input / clamp(norm(input, p, _norm_dim(dim, input.ndim, "normalize"), keepdim=True), min=eps)


def one_hot(tensor, num_classes=-1):
    idx = tensor.data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: tensor must hold int64 class indices, got {idx.dtype}")
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 (infer) or >= 0, got {num_classes}")
    if idx.size and int(idx.min()) < 0:
        raise ValueError(f"one_hot: tensor values must be >= 0, got {int(idx.min())}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(f"one_hot: tensor values must be smaller than num_classes={num_classes}, got "
                         f"{int(idx.max())}")
    if idx.size * num_classes > 1 << 31:
        raise ValueError(f"one_hot: num_classes={num_classes} for {idx.size} indices is too large a result")
    xp = _xp(idx)
    return _plain((idx[..., None] == xp.arange(num_classes)).astype(np.int64))


# ---------------------------------------------------------------- shape helpers
def pad(input, pad, mode="constant", value=0.0):
    """Pads the last len(pad)//2 axes; pad = (left_last, right_last, left_prev, ...).
    Negative amounts crop. Modes: constant, reflect, replicate, circular."""
    _check_tensor(input, "pad", "input")
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad must have an even length of at most 2 * ndim, got {len(pad)} for "
                         f"{input.ndim}-D input")
    xd = input.data
    xp = _xp(xd)
    nd = xd.ndim
    pairs = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        pairs[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        grow = [(max(a, 0), max(b, 0)) for a, b in pairs]
        crop = tuple(slice(max(-a, 0), xd.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(pairs))
        src = xd[crop]
        out = xp.pad(src, grow, mode="constant", constant_values=value)
        inner = tuple(slice(a, a + s) for (a, _), s in zip(grow, src.shape))

        def pad_backward(g):
            gx = xp.zeros(xd.shape, g.dtype)
            gx[crop] = g[inner]
            return (gx,)

        return _make(out, (input,), pad_backward)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value:
        raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' does), got value={value!r}")
    index = []
    for axis, (a, b) in enumerate(pairs):
        n = xd.shape[axis]
        if a == 0 and b == 0:  # an axis that is not padded may have any size, 0 included
            index.append(xp.arange(n).reshape([n if i == axis else 1 for i in range(nd)]))
            continue
        if n + builtins.min(a, 0) + builtins.min(b, 0) <= 0:
            raise ValueError(f"pad: padding ({a}, {b}) crops the whole axis {axis} of size {n}")
        pos = np.arange(-a, n + b)
        if mode == "reflect":
            # reflected about the input's own first and last entries (a crop on the other side does not move them)
            if a >= n or b >= n:
                raise ValueError(f"pad: reflect padding ({a}, {b}) must be smaller than the size {n} of axis {axis}")
            period = 2 * (n - 1) if n > 1 else 1
            pos = np.abs(pos) % period
            pos = np.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            # circular: wraps within what remains after the crops, as PyTorch
            lo, kept = builtins.max(-a, 0), n - builtins.max(-a, 0) - builtins.max(-b, 0)
            if a > kept or b > kept:
                raise ValueError(f"pad: circular padding ({a}, {b}) must be at most the size {kept} of axis {axis}")
            pos = lo + np.arange(-builtins.max(a, 0), kept + builtins.max(b, 0)) % kept
        shape = [1] * nd
        shape[axis] = len(pos)
        index.append(xp.asarray(pos.reshape(shape)))
    return getitem(input, tuple(index))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize of (N, C, *spatial), as torch.nn.functional.interpolate. Modes:
    'nearest' (src = floor(dst * in / out)), 'bilinear' and 'bicubic' (4-D input;
    align_corners; nncore.ops.interpolate2d), 'area' (adaptive average pooling)."""
    op = "interpolate"
    _check_tensor(input, op, "input")
    modes = ("nearest", "bilinear", "bicubic", "area")
    if not isinstance(mode, str) or mode not in modes:
        raise ValueError(f"{op}: mode must be one of {', '.join(map(repr, modes))}, got {mode!r}")
    if align_corners is not None:
        if mode in ("nearest", "area"):
            raise ValueError(f"{op}: align_corners can only be set with mode 'bilinear' or 'bicubic', got mode "
                             f"{mode!r}")
        if not isinstance(align_corners, (bool, np.bool_)):
            raise TypeError(f"{op}: align_corners must be a bool or None, got {type(align_corners).__name__}")
    spatial = tuple(input.shape[2:])
    k = len(spatial)
    if k == 0:
        raise ValueError(f"{op}: input must be (N, C, *spatial), got shape {tuple(input.shape)}")
    if mode in ("bilinear", "bicubic") and k != 2:
        raise ValueError(f"{op}: mode {mode!r} needs 4-D input (N, C, H, W), got shape {tuple(input.shape)}")
    if mode == "area" and k > 2:
        raise ValueError(f"{op}: mode 'area' takes 3-D or 4-D input, got shape {tuple(input.shape)}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    factors = None
    if size is not None:
        sizes = (size,) * k if isinstance(size, numbers.Integral) else tuple(size)
        if len(sizes) != k or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes):
            raise ValueError(f"{op}: size must be an int or {k} ints for {k} spatial axes, got {size!r}")
    else:
        factors = (scale_factor,) * k if isinstance(scale_factor, numbers.Number) else tuple(scale_factor)
        if len(factors) != k or not all(isinstance(f, numbers.Real) and not isinstance(f, bool) and
                                        f > 0 and f < 1 << 31 and math.isfinite(f) for f in factors):
            raise ValueError(f"{op}: scale_factor must be a positive number or {k} of them, got {scale_factor!r}")
        sizes = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{op}: output sizes must be >= 1, got {sizes} for input {tuple(input.shape)}")
    if mode == "area":
        if k == 1:
            return adaptive_avg_pool2d(input.unsqueeze(2), (1, sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(input, sizes)
    if mode in ("bilinear", "bicubic"):
        return _interpolate2d(input, sizes, mode, bool(align_corners),
                              None if factors is None or recompute_scale_factor else factors)
    if size is not None:
        scales = [n / s for n, s in zip(spatial, sizes)]
    else:
        scales = [n / s for n, s in zip(spatial, sizes)] if recompute_scale_factor else [1.0 / f for f in factors]
    xp = _xp(input.data)
    index = [slice(None), slice(None)]
    for axis, (n, s, sc) in enumerate(zip(spatial, sizes, scales)):
        pos = np.minimum(np.floor(np.arange(s) * np.float32(sc)).astype(np.int64), n - 1)
        shape = [1] * k
        shape[axis] = s
        index.append(xp.asarray(pos.reshape(shape)))
    return getitem(input, tuple(index))


def _interpolate2d(input, sizes, mode, align_corners, factors):
    """Bilinear / bicubic resize in nncore.ops.interpolate2d, backward beside it."""
    xd = _contiguous(input.data)
    if xd.dtype.kind != "f" or xd.dtype.itemsize not in (4, 8):
        raise TypeError(f"interpolate: mode {mode!r} needs float32 or float64 input, got {xd.dtype}")
    out = ops.interpolate2d(xd, sizes, mode, align_corners, factors)

    def interpolate_backward(g):
        return (ops.interpolate2d_backward(_contiguous(g), xd.shape, mode, align_corners, factors),)

    return _make(out, (input,), interpolate_backward)


# ---------------------------------------------------------------- losses
def _check_same_shape(input, target, op):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: input and target must have the same shape, got {tuple(input.shape)} and "
                         f"{tuple(target.shape)}")


def mse_loss(input, target, reduction="mean"):
    target = _as_tensor(target, input)
    _check_same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    target = _as_tensor(target, input)
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere."""
    target = _as_tensor(target, input)
    _check_same_shape(input, target, "smooth_l1_loss")
    beta = _real_arg(beta, "smooth_l1_loss", "beta")
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = input - target
    ad = d.abs()
    if beta == 0:
        return _reduce(ad, reduction, "smooth_l1_loss")
    loss = where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    delta = _real_arg(delta, "huber_loss", "delta")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return smooth_l1_loss(input, target, reduction, delta) * delta if reduction != "none" else \
        smooth_l1_loss(input, target, "none", delta) * delta


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where target is 1, max(0, margin - x) where target is -1."""
    target = _as_tensor(target, input)
    td = target.data
    margin_part = clamp(margin - input, min=0.0)
    loss = where(td != 1, margin_part, 0.0) + where(td != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge: sum_{i != y} max(0, margin - x[y] + x[i])^p / C (times weight[y])."""
    op = "multi_margin_loss"
    _check_tensor(input, op, "input")
    if not isinstance(p, numbers.Integral) or isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"{op}: p must be 1 or 2, got {p!r}")
    _no_grad_arg(weight, op, "weight")
    if input.ndim > 2:
        raise ValueError(f"{op}: input must be 0-D, 1-D (C,) or 2-D (N, C), got shape {tuple(input.shape)}")
    td = target.data if isinstance(target, Tensor) else _xp(input.data).asarray(target)
    if td.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold int64 class indices, got {td.dtype}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    N, C = x.shape
    if (td.ndim > 1 or td.size != N) if input.ndim == 2 else td.size != 1 or td.ndim > 1:
        want = f"({N},)" if input.ndim == 2 else "() or (1,)"
        raise ValueError(f"{op}: target must be {want} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(td.shape)}")
    t = td.reshape(-1)
    if t.size and bool(((t < 0) | (t >= C)).any()):
        raise ValueError(f"{op}: target values must lie in [0, {C}), got {int(t[(t < 0) | (t >= C)][0])}")
    xp = _xp(x.data)
    rows = xp.arange(N)
    picked = x[rows, t].unsqueeze(1)
    z = margin - picked + x
    h = where(z.data > 0, z, 0.0)  # as PyTorch: a term counts where margin - x[y] + x[i] > 0 (so NaN does not)
    if p == 2:
        h = h * h
    not_target = xp.ones((N, C), x.dtype)
    not_target[rows, t] = 0
    h = h * _plain(not_target)
    if weight is not None:
        h = h * weight[_plain(t)].unsqueeze(1)
    loss = h.sum(1) / C
    if input.ndim < 2:
        loss = loss.reshape(td.shape)
    return _reduce(loss, reduction, "multi_margin_loss")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch does."""
    target = _float_target(target, input, "binary_cross_entropy")
    if target.data.dtype != input.data.dtype:
        raise TypeError(f"binary_cross_entropy: target must have the input's dtype {input.data.dtype}, got "
                        f"{target.data.dtype}")
    _check_same_shape(input, target, "binary_cross_entropy")
    _no_grad_arg(weight, "binary_cross_entropy", "weight")
    xd, td = input.data, target.data
    if xd.size and _xp(xd) is np and (xd.min() < 0 or xd.max() > 1):
        raise ValueError("binary_cross_entropy: input values must lie in [0, 1]")
    if td.size and _xp(td) is np and (td.min() < 0 or td.max() > 1):
        raise ValueError("binary_cross_entropy: target values must lie in [0, 1]")
    xp = _xp(xd)
    with np.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(xd), -100)
        log_1mx = xp.maximum(xp.log(1 - xd), -100)
    w = None if weight is None else _as_tensor(weight, input).data
    loss = -(td * log_x + (1 - td) * log_1mx)
    if w is not None:
        loss = loss * w

    def bce_backward(g):
        gx = g * (xd - td) / xp.maximum((1 - xd) * xd, 1e-12)
        if w is not None:
            gx = gx * w
        gt = None
        if target.requires_grad:
            gt = g * (log_1mx - log_x)
            if w is not None:
                gt = gt * w
        return gx, gt

    out = _make(loss.astype(xd.dtype, copy=False), (input, target), bce_backward, saved=(input, target))
    return _reduce(out, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """(1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)), computed stably."""
    target = _float_target(target, input, "binary_cross_entropy_with_logits")
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    if pos_weight is not None:
        log_weight = 1 + (_as_tensor(pos_weight, input) - 1) * target
        loss = (1 - target) * input + log_weight * softplus(-input)
    else:
        loss = (1 - target) * input + softplus(-input)
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _float_target(target, input, op):
    """A target of probabilities or values: float, as PyTorch requires."""
    target = _as_tensor(target, input)
    if target.data.dtype.kind != "f":
        raise TypeError(f"{op}: target must be a float Tensor, got {target.data.dtype}")
    return target


def _class_last(input, op):
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C)."""
    if input.ndim == 1:
        return input.unsqueeze(0)
    if input.ndim == 2:
        return input
    return input.movedim(1, -1).reshape(-1, input.shape[1])


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-weight[t] * input[n, t]; mean divides by the summed weights of the
    targets that are not ignore_index."""
    _check_tensor(input, "nll_loss", "input")
    _no_grad_arg(weight, "nll_loss", "weight")
    td = target.data if isinstance(target, Tensor) else np.asarray(target)
    if td.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold int64 class indices, got {td.dtype}")
    if input.ndim < 1 or td.shape != (tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim > 1 else ()):
        raise ValueError(f"nll_loss: target shape {td.shape} does not match input shape {tuple(input.shape)} "
                         f"(expected (N, d1, ...) for input (N, C, d1, ...))")
    x = _class_last(input, "nll_loss")
    C = x.shape[1]
    t = td.reshape(-1)
    xp = _xp(x.data)
    valid = t != ignore_index
    if bool(((t[valid] < 0) | (t[valid] >= C)).any()):
        bad = t[valid][(t[valid] < 0) | (t[valid] >= C)][0]
        raise IndexError(f"nll_loss: target {int(bad)} is out of bounds for {C} classes")
    safe = xp.where(valid, t, 0)
    w = valid.astype(x.dtype)
    if weight is not None and tuple(_as_tensor(weight, input).shape) != (C,):
        raise ValueError(f"nll_loss: weight must be ({C},) (one per class), got {tuple(_as_tensor(weight, input).shape)}")
    if weight is not None:
        w = w * _as_tensor(weight, input).data[safe]
    picked = x[xp.arange(t.shape[0]), safe]
    loss = -picked * _plain(w)
    if reduction == "mean":
        return loss.sum() / _plain(w.sum())
    if reduction == "none":
        return loss.reshape(td.shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits input (C,) or (N, C, d1, ...) with int64 class
    indices (N, d1, ...) or class probabilities shaped like input, in one fused
    kernel (nncore.ops.cross_entropy_with_grad): for a reduced loss the forward
    pass also yields d loss / d input, which backward only rescales."""
    _check_tensor(input, "cross_entropy", "input")
    _no_grad_arg(weight, "cross_entropy", "weight")
    if _mode.enabled and isinstance(target, Tensor) and target.requires_grad:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    xd = _contiguous(input.data)
    td = target.data if isinstance(target, Tensor) else _xp(xd).asarray(target)
    if td.dtype.kind in "iu":
        td = _contiguous(td.astype(np.int64, copy=False))
    else:
        td = _contiguous(td.astype(xd.dtype, copy=False))
    wd = None if weight is None else _contiguous(_as_tensor(weight, input).data.astype(xd.dtype, copy=False))
    args = (td, wd, ignore_index, reduction, float(label_smoothing))
    if not (_mode.enabled and input.requires_grad):
        return _plain(ops.cross_entropy(xd, *args))
    if reduction == "none":
        loss = ops.cross_entropy(xd, *args)

        def cross_entropy_backward(g):
            return (ops.cross_entropy_backward(_contiguous(g), xd, *args),)

        return _make(loss, (input,), cross_entropy_backward, saved=(input,))
    loss, grad = ops.cross_entropy_with_grad(xd, *args)

    def cross_entropy_reduced_backward(g):
        scale = float(g)
        return (grad if scale == 1.0 else grad * scale,)

    return _make(loss, (input,), cross_entropy_reduced_backward)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """Cross-entropy with class-probability targets that require grad, composed
    of differentiable ops so both input and target get their gradients."""
    op = "cross_entropy"
    if np.dtype(target.data.dtype).kind != "f":
        raise TypeError(f"{op}: a target that requires grad must hold float class probabilities, got {target.dtype}")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: class-probability target must have the input's shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    ls = _real_arg(label_smoothing, op, "label_smoothing")
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {ls}")
    cax = 1 if input.ndim > 1 else 0
    C = input.shape[cax]
    logp = log_softmax(input, dim=cax)
    t = target if target.dtype == input.dtype else target.to(input.dtype)
    if ls:
        t = t * (1.0 - ls) + ls / C
    prod = t * logp
    if weight is not None:
        w = _as_tensor(weight, input)
        if tuple(w.shape) != (C,):
            raise ValueError(f"{op}: weight must be ({C},), got {tuple(w.shape)}")
        prod = prod * w.reshape((C,) + (1,) * (input.ndim - 1 - cax))
    loss = -prod.sum(cax)
    if reduction == "mean":
        return loss.mean()
    return _reduce(loss, reduction, op)


def kl_div(input, target, reduction="mean", log_target=False):
    target = _float_target(target, input, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # PyTorch's xlogy(t, t) - t * x: 0 log 0 = 0, and NaN for t < 0 (or NaN)
        td = target.data
        xlogy = where(td > 0, target * target.clamp(min=1e-38).log(),
                      _plain(_xp(td).where(td == 0, 0, np.nan).astype(td.dtype, copy=False)))
        loss = xlogy - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction, "kl_div")


# ---------------------------------------------------------------- argument checks
# Every function of __all__ checks its arguments by name before it runs (the
# types torch.nn.functional takes), and whatever still escapes leaves as a
# TypeError/ValueError/IndexError led by the function's name (ops._checks.guarded).
_TENSORS = {"input", "input1", "input2", "x", "tensor"}
_ARRAYS = {"target", "weight", "bias", "running_mean", "running_var", "pos_weight"}
_BOOLS = {"ceil_mode", "count_include_pad", "inplace", "log_target", "return_indices", "scale_grad_by_freq",
          "sparse", "training"}
_BOOLS_OR_NONE = {"align_corners", "recompute_scale_factor"}
_REALS = {"alpha", "beta", "delta", "eps", "label_smoothing", "margin", "momentum", "negative_slope", "max_val",
          "min_val", "threshold", "value", "norm_type"}
_REALS_OR_NONE = {"max_norm", "act_alpha"}
_INTS = {"ignore_index", "num_classes"}
_INTS_OR_NONE = {"padding_idx", "dim"}
_REDUCTIONS = ("none", "mean", "sum")
_ANY_DTYPE = {"one_hot", "embedding", "pad", "relu", "interpolate"}  # the others take float input only


def _arg_error(fn, name, v, want):
    return TypeError(f"{fn}: {name} must be {want}, got {type(v).__name__}")


def _same_dtype(fn, input, **params):
    """Parameters that enter the arithmetic must have the input's dtype, as in PyTorch."""
    for name, p in params.items():
        if isinstance(p, Tensor) and p.data.dtype != input.data.dtype:
            raise TypeError(f"{fn}: {name} must have the input's dtype {input.data.dtype}, got {p.data.dtype}")


def _check_arg(fn, name, v, optional):
    is_bool = isinstance(v, (bool, np.bool_))
    if name in _TENSORS or (name in ("weight", "bias") and not optional):
        if not isinstance(v, Tensor):
            raise _arg_error(fn, name, v, "a Tensor")
        if name in _TENSORS and fn not in _ANY_DTYPE and v.data.dtype.kind != "f":
            raise TypeError(f"{fn}: {name} must be a float Tensor, got {v.data.dtype}")
    elif name in _ARRAYS:
        if v is None and (optional or name in ("running_mean", "running_var")):
            return
        arrays_too = name in ("target", "pos_weight") or (name == "weight" and ("loss" in fn or "entropy" in fn))
        if not (isinstance(v, Tensor) or arrays_too and (isinstance(v, np.ndarray) or
                                                          hasattr(v, "__cuda_array_interface__"))):
            raise _arg_error(fn, name, v, "a Tensor" + (" or None" if optional else ""))
    elif name in _BOOLS or name in _BOOLS_OR_NONE:
        if not is_bool and not (v is None and name in _BOOLS_OR_NONE):
            raise _arg_error(fn, name, v, "a bool" + (" or None" if name in _BOOLS_OR_NONE else ""))
    elif name in _REALS or name in _REALS_OR_NONE or (name == "p" and fn != "multi_margin_loss"):
        if v is None and name in _REALS_OR_NONE:
            return
        if is_bool or not isinstance(v, numbers.Real):
            raise _arg_error(fn, name, v, "a real number")
        try:
            float(v)
            if isinstance(v, numbers.Integral) and not -(1 << 63) <= v < 1 << 63:
                raise OverflowError
        except OverflowError:
            raise ValueError(f"{fn}: {name} is too large, got {v}") from None
    elif name in _INTS or name in _INTS_OR_NONE:
        if v is None and name in _INTS_OR_NONE:
            return
        if is_bool or not isinstance(v, numbers.Integral):
            raise _arg_error(fn, name, v, "an int" + (" or None" if name in _INTS_OR_NONE else ""))
        if not -(1 << 63) <= v < 1 << 63:
            raise ValueError(f"{fn}: {name} must fit in int64, got {v}")
    elif name == "reduction":
        choices = _REDUCTIONS + (("batchmean",) if fn == "kl_div" else ())
        if not isinstance(v, str):
            raise _arg_error(fn, name, v, "one of " + ", ".join(map(repr, choices)))
        if v not in choices:
            raise ValueError(f"{fn}: reduction must be one of {', '.join(map(repr, choices))}, got {v!r}")
    elif name == "dtype" and v is not None:
        try:
            ok = isinstance(v, (type, np.dtype, str)) and np.dtype(v).kind == "f"
        except TypeError:
            ok = False
        if not ok:
            raise TypeError(f"{fn}: dtype must be a float dtype (np.float32, np.float64) or None, got {v!r}")
    elif name == "mode" and not isinstance(v, str):
        raise _arg_error(fn, name, v, "a str")


def _checked(fn):
    import functools
    import inspect

    from .ops._checks import guarded

    name = fn.__name__
    params = [(p.name, p.default is None) for p in inspect.signature(fn).parameters.values()]
    positions = {n: i for i, (n, _) in enumerate(params)}
    optional = dict(params)
    inner = guarded(fn, keep_index_errors=True)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for (arg, opt), v in zip(params, args):
            _check_arg(name, arg, v, opt)
        for arg, v in kwargs.items():
            if arg in positions:
                _check_arg(name, arg, v, optional[arg])
        return inner(*args, **kwargs)

    return wrapper


for _name in __all__:
    globals()[_name] = _checked(globals()[_name])
del _name
