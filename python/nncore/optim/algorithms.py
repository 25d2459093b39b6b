"""SGD, Adam, AdamW, RMSprop and Adagrad: PyTorch's update rules, applied in
place to each parameter's array (no graph, no new parameter arrays). Each runs
the fused kernel of nncore.ops.optim (one pass over each parameter) on float32
contiguous arrays; other arrays take the xp code. They
call nncore._C directly: the options were checked when the optimizer was made,
and the Python checks of nncore.ops would cost more than a small parameter's update."""

import math

from .optimizer import Optimizer, required
from .. import _C
from .._arrays import stream_of
from ..tensor import _buffer, _xp, float32


def _scratch(w):
    """A temporary shaped like w (large ones from the host cache: no page faults per step)."""
    return _buffer(w.shape, w.dtype, w)


def _fused(*arrays):
    """The fused kernels take float32 C-contiguous arrays of one shape and one array type."""
    first = arrays[0]
    return all(a is not None and a.__class__ is first.__class__ and a.dtype == float32 and a.flags.c_contiguous
               and a.shape == first.shape for a in arrays)


def _check(name, value, low=0.0):
    if value is not required and not value >= low:
        raise ValueError(f"invalid {name}: {value}")


class SGD(Optimizer):
    """p -= lr * d, d = g + wd p, with momentum buf = mu buf + (1 - dampening) d
    (first step buf = d) and nesterov d + mu buf."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        for name, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            _check(name, v)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _step(self):
        for group in self.param_groups:
            lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p, g, state in self._params_with_grad(group):
                w = p.data
                buf = state.get("momentum_buffer") if mu else None
                if _fused(w, g) if buf is None else _fused(w, g, buf):
                    first_step = bool(mu) and buf is None
                    if first_step:
                        buf = state["momentum_buffer"] = _xp(w).empty_like(w)  # the kernel writes buf = d
                    _C.sgd_step(w, g, buf, lr, mu, damp, wd, bool(nesterov), bool(group["maximize"]), first_step,
                                stream_of(w))
                    p._bump()
                    continue
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * w
                if mu:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= mu
                        buf += g if damp == 0 else (1 - damp) * g
                    g = g + mu * buf if nesterov else buf
                step = _scratch(w)
                _xp(w).multiply(g, lr, out=step)
                w -= step
                p._bump()


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        _check("lr", lr)
        _check("eps", eps)
        _check("weight_decay", weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas: {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _step(self):
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, g, state in self._params_with_grad(group):
                w = p.data
                xp = _xp(w)
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(w)
                    state["exp_avg_sq"] = xp.zeros_like(w)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = xp.zeros_like(w)
                state["step"] += 1
                t = state["step"]
                vmax = state.get("max_exp_avg_sq") if group["amsgrad"] else None
                arrays = (w, g, state["exp_avg"], state["exp_avg_sq"]) + ((vmax,) if group["amsgrad"] else ())
                if _fused(*arrays):
                    decoupled = self._decoupled and wd
                    _C.adam_step(w, g, state["exp_avg"], state["exp_avg_sq"], vmax, b1, b2, eps,
                                 0.0 if self._decoupled else wd, 1 - lr * wd if decoupled else 1.0,
                                 lr / (1 - b1 ** t), math.sqrt(1 - b2 ** t), bool(group["maximize"]), stream_of(w))
                    p._bump()
                    continue
                if group["maximize"]:
                    g = -g
                if wd:
                    if self._decoupled:
                        w *= 1 - lr * wd
                    else:
                        g = g + wd * w
                m, v = state["exp_avg"], state["exp_avg_sq"]
                bias1 = 1 - b1 ** t
                bias2_sqrt = math.sqrt(1 - b2 ** t)
                tmp, step = _scratch(w), _scratch(w)
                xp.subtract(g, m, out=tmp)                    # m += (1 - b1) (g - m)
                tmp *= 1 - b1
                m += tmp
                xp.multiply(g, g, out=tmp)                    # v = b2 v + (1 - b2) g^2
                tmp *= 1 - b2
                v *= b2
                v += tmp
                if group["amsgrad"]:
                    vmax = state["max_exp_avg_sq"]
                    xp.maximum(vmax, v, out=vmax)
                    xp.sqrt(vmax, out=tmp)
                else:
                    xp.sqrt(v, out=tmp)
                tmp /= bias2_sqrt                             # denom = sqrt(v) / sqrt(1 - b2^t) + eps
                tmp += eps
                xp.divide(m, tmp, out=step)                   # p -= lr / (1 - b1^t) * m / denom
                step *= lr / bias1
                w -= step
                p._bump()


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr wd before the Adam step."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Optimizer):
    """s = a s + (1-a) g^2; p -= lr g / (sqrt(s - centred mean^2) + eps), optionally with momentum."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        for name, v in (("lr", lr), ("eps", eps), ("momentum", momentum), ("weight_decay", weight_decay),
                        ("alpha", alpha)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _step(self):
        for group in self.param_groups:
            lr, alpha, eps, wd, mu = (group["lr"], group["alpha"], group["eps"], group["weight_decay"],
                                      group["momentum"])
            for p, g, state in self._params_with_grad(group):
                w = p.data
                xp = _xp(w)
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(w)
                    if mu > 0:
                        state["momentum_buffer"] = xp.zeros_like(w)
                    if group["centered"]:
                        state["grad_avg"] = xp.zeros_like(w)
                state["step"] += 1
                ga = state.get("grad_avg") if group["centered"] else None
                buf = state.get("momentum_buffer") if mu > 0 else None
                arrays = (w, g, state["square_avg"]) + ((ga,) if group["centered"] else ()) + ((buf,) if mu > 0 else ())
                if _fused(*arrays):
                    _C.rmsprop_step(w, g, state["square_avg"], ga, buf, lr, alpha, eps, wd, mu, bool(group["maximize"]),
                                    stream_of(w))
                    p._bump()
                    continue
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * w
                sq = state["square_avg"]
                sq *= alpha
                sq += (1 - alpha) * g * g
                if group["centered"]:
                    ga = state["grad_avg"]
                    ga += (1 - alpha) * (g - ga)
                    avg = xp.sqrt(sq - ga * ga) + eps
                else:
                    avg = xp.sqrt(sq) + eps
                if mu > 0:
                    buf = state["momentum_buffer"]
                    buf *= mu
                    buf += g / avg
                    w -= lr * buf
                else:
                    w -= lr * g / avg
                p._bump()


class Adagrad(Optimizer):
    """sum += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 maximize=False):
        for name, v in (("lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay), ("eps", eps),
                        ("initial_accumulator_value", initial_accumulator_value)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": _xp(p.data).full_like(p.data, group["initial_accumulator_value"])}

    def _step(self):
        for group in self.param_groups:
            lr, decay, wd, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
            for p, g, state in self._params_with_grad(group):
                w = p.data
                xp = _xp(w)
                if "sum" not in state:
                    state["step"] = 0
                    state["sum"] = xp.full_like(w, group["initial_accumulator_value"])
                state["step"] += 1
                clr = lr / (1 + (state["step"] - 1) * decay)
                if _fused(w, g, state["sum"]):
                    _C.adagrad_step(w, g, state["sum"], clr, eps, wd, bool(group["maximize"]), stream_of(w))
                    p._bump()
                    continue
                if group["maximize"]:
                    g = -g
                if wd:
                    g = g + wd * w
                s = state["sum"]
                s += g * g
                w -= clr * g / (xp.sqrt(s) + eps)
                p._bump()
