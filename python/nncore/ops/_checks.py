"""Argument checks shared by the nncore.ops wrappers, run before nncore._C sees
an argument: every refusal is a TypeError or ValueError that starts with the
op's name and names the argument (pybind11's own conversion errors would dump
C++ signatures instead). `guarded` is the net under them."""

import functools
import math
import numbers

import numpy as np

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def int_arg(v, op, name, what="an int"):
    """A Python or NumPy integer (not a bool) that fits int64, as int."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {name} must be {what}, got {type(v).__name__}")
    v = int(v)
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError(f"{op}: {name} must fit in int64, got {v}")
    return v


def bool_arg(v, op, name):
    """True or False (a NumPy bool too); ints, arrays and None are refused."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {type(v).__name__}")
    return bool(v)


def real_arg(v, op, name, *, finite=False):
    """A real number (not a bool) as float; with finite, inf and NaN are refused."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    try:
        f = float(v)
    except OverflowError:
        raise ValueError(f"{op}: {name} is too large for a float64, got {v}") from None
    if finite and not math.isfinite(f):
        raise ValueError(f"{op}: {name} must be finite, got {f}")
    return f


def choice_arg(v, op, name, choices):
    names = [repr(c) for c in choices]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    if not isinstance(v, str):
        raise TypeError(f"{op}: {name} must be {listed}, got {type(v).__name__}")
    if v not in choices:
        raise ValueError(f"{op}: {name} must be {listed}, got {v!r}")
    return v


def out_shape_arg(out, shape, op, name="out"):
    """An out= array must have exactly the shape the op writes."""
    if out is not None and tuple(out.shape) != tuple(shape):
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(out.shape)}")
    return out


def _retitled(e, op):
    """e's message led by op's name: 'max_pool2d: ...' raised inside
    max_pool2d_backward becomes 'max_pool2d_backward: ...'."""
    msg = str(e)
    head = msg.split(":", 1)[0]
    if head == op:
        return msg
    if head and " " not in head and (op.startswith(head) or head.startswith(op)):
        return op + msg[len(head):]  # a kernel of the op's family: max_pool2d in max_pool2d_backward, and back
    return f"{op}: {msg}"


def guarded(fn, keep_index_errors=False):
    """The net under the explicit checks: whatever still escapes as another
    error type, or without the op's name, leaves as a TypeError/ValueError led by it."""
    op = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as e:
            if "incompatible function arguments" in str(e):
                raise TypeError(f"{op}: an argument has a type or value nncore._C cannot take (ints must fit "
                                f"int64, flags must be bools, names must be str)") from None
            if str(e).startswith(op + ":"):
                raise
            raise TypeError(_retitled(e, op)) from None
        except ValueError as e:
            if str(e).startswith(op + ":") and type(e) is ValueError:
                raise
            raise ValueError(_retitled(e, op)) from None
        except IndexError as e:
            if keep_index_errors:  # nncore.functional, as PyTorch: a target or index out of range
                raise IndexError(_retitled(e, op)) from None
            raise ValueError(_retitled(e, op)) from None
        except OverflowError as e:
            raise ValueError(_retitled(e, op)) from None
        except AttributeError as e:  # an argument of a type the code did not expect
            raise TypeError(f"{op}: an argument has the wrong type ({e})") from None
        except MemoryError as e:
            raise ValueError(f"{op}: the output is too large to allocate ({e or 'out of memory'})") from None

    return wrapper
