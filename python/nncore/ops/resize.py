"""Resizing: bilinear and bicubic interpolation of NCHW (or CHW) images, forward
and backward, with torch.nn.functional.interpolate's rules (align_corners,
scale factors, bicubic's A = -0.75 and clamped borders). ('nearest' and 'area'
need no kernel of their own: indexing and adaptive_avg_pool2d.)"""

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import bool_arg, choice_arg, int_arg, out_shape_arg, real_arg

_MODES = ("bilinear", "bicubic")


def _image(x, op, arg):
    x = as_kernel_array(x, op, arg)
    if x.dtype.char not in "fd":
        raise TypeError(f"{op}: {arg} must be float32 or float64, got {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: {arg} must be 4-D (N, C, H, W) or 3-D (C, H, W), got {x.ndim}-D of shape {x.shape}")
    return x


def _size(size, op):
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"{op}: size must be a pair of ints (OH, OW), got {size!r}")
    h, w = (int_arg(v, op, "size") for v in size)
    if h < 1 or w < 1 or h >= 1 << 31 or w >= 1 << 31:
        raise ValueError(f"{op}: size must be in [1, 2**31), got {(h, w)}")
    return h, w


def _scales(scale_factor, op):
    """None, a number or a pair: the scale factors PyTorch passes its kernels (0: none)."""
    if scale_factor is None:
        return 0.0, 0.0
    pair = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(pair) != 2:
        raise ValueError(f"{op}: scale_factor must be a number or a pair, got {scale_factor!r}")
    vals = []
    for v in pair:
        if v is None:
            vals.append(0.0)
            continue
        f = real_arg(v, op, "scale_factor", finite=True)
        if f <= 0:
            raise ValueError(f"{op}: scale_factor must be > 0, got {scale_factor!r}")
        vals.append(f)
    return tuple(vals)


def interpolate2d(input, size, mode="bilinear", align_corners=False, scale_factor=None, *, out=None):
    """input (N, C, H, W) resized to (N, C, OH, OW) = size, bilinear or bicubic, as
    F.interpolate(input, size, mode=mode, align_corners=align_corners) (scale_factor:
    the factors F.interpolate was given, which set the source step 1/scale_factor
    instead of H/OH unless align_corners)."""
    op = "interpolate2d"
    x = _image(input, op, "input")
    mode = choice_arg(mode, op, "mode", _MODES)
    align_corners = bool_arg(align_corners, op, "align_corners")
    oh, ow = _size(size, op)
    sh, sw = _scales(scale_factor, op)
    shape = x.shape[:-2] + (oh, ow)
    if out is None:
        out = empty(shape, x.dtype, like=x)
    else:
        out_shape_arg(as_kernel_array(out, op, "out"), shape, op)
    _C.interpolate2d(x, out, mode, align_corners, sh, sw, stream_of(x))
    return out


def interpolate2d_backward(grad_output, input_shape, mode="bilinear", align_corners=False, scale_factor=None, *,
                           out=None):
    """Gradient of interpolate2d with respect to its input (of input_shape)."""
    op = "interpolate2d_backward"
    gy = _image(grad_output, op, "grad_output")
    mode = choice_arg(mode, op, "mode", _MODES)
    align_corners = bool_arg(align_corners, op, "align_corners")
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{op}: input_shape must be a tuple of ints, got {type(input_shape).__name__}")
    shape = tuple(int_arg(s, op, "input_shape") for s in input_shape)
    if len(shape) != gy.ndim or any(s < 0 for s in shape):
        raise ValueError(f"{op}: input_shape must be {gy.ndim}-D with sizes >= 0 like grad_output, got {shape}")
    sh, sw = _scales(scale_factor, op)
    if out is None:
        out = empty(shape, gy.dtype, like=gy)
    else:
        out_shape_arg(as_kernel_array(out, op, "out"), shape, op)
    _C.interpolate2d_backward(gy, out, mode, align_corners, sh, sw, stream_of(gy))
    return out
