"""Reverse-mode automatic differentiation: the graph node each differentiable op
records, the backward walk, grad mode (no_grad / enable_grad) and gradcheck.

An op computes its output array, then calls `tensor._make(out, inputs, backward,
saved)`: when grad mode is on and an input requires grad, the output gets a Node
holding `backward(grad_out) -> tuple of input grads` (arrays, None for "no grad")
and the version of every tensor that backward will read, so an in-place change to
one of them is caught at backward time instead of giving a wrong gradient.
"""

import contextlib
import sys

import numpy as np


class _GradMode:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """Ops inside record nothing: outputs have requires_grad=False."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self):
        super().__init__(True)


class Node:
    """One recorded op: its inputs (Tensors), its backward function and the
    version counters (and their values at record time) of what backward reads."""

    __slots__ = ("backward_fn", "inputs", "saved", "versions", "name", "hooks")

    def __init__(self, backward_fn, inputs, saved, versions):
        self.backward_fn = backward_fn
        self.inputs = inputs
        self.saved = saved
        self.versions = versions
        self.name = None
        self.hooks = None

    def op_name(self):
        if self.name is None and self.backward_fn is not None:
            self.name = self.backward_fn.__qualname__.split(".")[0]
        return self.name or "op"

    def __repr__(self):
        return f"<{self.op_name()}Backward>"


def _as_array(g):
    if isinstance(g, np.generic):
        return np.asarray(g)
    return g


def _run_hooks(hooks, g):
    """Each hook sees the gradient (a Tensor) and may return a replacement."""
    from .tensor import Tensor

    for hook in hooks:
        result = hook(Tensor._wrap(g))
        if result is not None:
            g = result.data if isinstance(result, Tensor) else result
    return g


def _check_versions(node):
    for counter, expected in zip(node.saved, node.versions):
        if counter[0] != expected:
            raise RuntimeError(
                f"backward: a tensor saved by {node.op_name()} for its gradient was modified by an "
                f"in-place operation after it was used (it is at version {counter[0]}, "
                f"expected version {expected}); use an out-of-place op or .clone() it first")


_end_callbacks = []


def queue_callback(fn):
    """Runs fn() once, when the backward pass now under way has finished (as
    PyTorch's engine callbacks; DistributedDataParallel waits for its gradient
    reductions there)."""
    _end_callbacks.append(fn)


def _finish_leaf(t, g):
    """The last contribution to leaf t has arrived: hooks, then into t.grad, then
    the post-accumulate hooks (which may read t.grad)."""
    from .tensor import Tensor

    hooks = getattr(t, "_hooks", None)
    if hooks:
        g = _run_hooks(hooks, g)
    if t.grad is None:
        # keep g itself only when nothing else can see it (a fresh array, not a
        # view, referenced only here); otherwise a private copy, since g may be
        # shared with other leaves, a saved closure or the caller
        if isinstance(g, np.ndarray) and g.flags.writeable and not isinstance(g.base, np.ndarray) \
                and sys.getrefcount(g) <= 3:
            t.grad = Tensor._wrap(g)
        else:
            t.grad = Tensor._wrap(g.copy())
    else:
        t.grad.data += g
    post = getattr(t, "_post_hooks", None)
    if post:
        for hook in tuple(post):
            hook(t)


def run_backward(root, grad, retain_graph=False):
    """Propagates `grad` (an array shaped like root) from root to every leaf that
    requires grad; each node runs once, after all of its consumers, and each
    leaf's .grad is final as soon as its last consumer has run."""
    leaf_grads = {}
    leaf_pending = {}
    root_node = root._node
    try:
        if root_node is None:
            if root.requires_grad:
                _finish_leaf(root, grad)
        else:
            _walk(root_node, grad, retain_graph, leaf_grads, leaf_pending)
        while leaf_grads:
            t, g = leaf_grads.popitem()[1]
            if t.requires_grad:
                _finish_leaf(t, g)
    finally:
        callbacks = _end_callbacks[:]
        _end_callbacks.clear()
    for fn in callbacks:
        fn()


def _walk(root_node, grad, retain_graph, leaf_grads, leaf_pending):
    # number of consumers of each node reachable from root, and of each leaf
    pending = {id(root_node): 0}
    stack = [root_node]
    while stack:
        node = stack.pop()
        if node.backward_fn is None:
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (or after its "
                "saved arrays were freed); pass retain_graph=True to the first backward")
        for t in node.inputs:
            child = t._node
            if child is not None:
                key = id(child)
                if key in pending:
                    pending[key] += 1
                else:
                    pending[key] = 1
                    stack.append(child)
            elif t.requires_grad:
                leaf_pending[id(t)] = leaf_pending.get(id(t), 0) + 1
    grads = {id(root_node): grad}
    ready = [root_node]
    while ready:
        node = ready.pop()
        g = grads.pop(id(node), None)
        if g is not None and node.hooks:
            g = _run_hooks(node.hooks, g)
        if g is not None:
            _check_versions(node)
            input_grads = node.backward_fn(g)
        else:
            input_grads = (None,) * len(node.inputs)
        finished = []
        for t, gi in zip(node.inputs, input_grads):
            child = t._node
            if gi is not None and t.requires_grad:
                gi = _as_array(gi)
                data = t.data
                if gi.dtype != data.dtype:
                    gi = gi.astype(data.dtype)
                if gi.shape != data.shape:
                    raise RuntimeError(
                        f"backward: {node.op_name()} returned a gradient of shape {gi.shape} "
                        f"for an input of shape {data.shape}")
                key = id(child) if child is not None else id(t)
                if child is None:
                    prev = leaf_grads.get(key)
                    leaf_grads[key] = (t, gi if prev is None else prev[1] + gi)
                else:
                    prev = grads.get(key)
                    grads[key] = gi if prev is None else prev + gi
            if child is not None:
                key = id(child)
                pending[key] -= 1
                if pending[key] == 0:
                    ready.append(child)
            elif t.requires_grad:
                key = id(t)
                leaf_pending[key] -= 1
                if leaf_pending[key] == 0 and key in leaf_grads:
                    finished.append(key)
        input_grads = gi = None
        if not retain_graph:
            node.op_name()
            node.backward_fn = None
            node.saved = ()
        for key in finished:
            _finish_leaf(*leaf_grads.pop(key))


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):
    """Gradients of outputs w.r.t. inputs, returned instead of accumulated into .grad."""
    from .tensor import Tensor

    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    saved = [(t.grad, t) for t in inputs]
    for t in inputs:
        t.grad = None
    try:
        outputs.backward(grad_outputs, retain_graph=retain_graph)
        result = tuple(t.grad for t in inputs)
    finally:
        for g, t in saved:
            t.grad = g
    return result[0] if single else result


class FunctionCtx:
    """What a Function's forward hands to its backward: save_for_backward(*tensors)
    keeps tensors (their versions are checked at backward time); any other
    attribute may be set freely."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    """A user-defined differentiable op, as torch.autograd.Function:

        class Cube(nncore.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * grad

        y = Cube.apply(x)

    forward runs without recording and returns a Tensor or a tuple of them;
    backward receives one gradient Tensor per output and returns one gradient
    (a Tensor or None) per forward argument.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor, _make, _make_multi

        ctx = FunctionCtx()
        ctx.saved_tensors = ()
        with no_grad():
            result = cls.forward(ctx, *args)
        single = isinstance(result, Tensor)
        outputs = (result,) if single else tuple(result)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = tuple(args[i] for i in positions)

        def function_backward(grads):
            grads = [Tensor._wrap(g) for g in (grads if isinstance(grads, list) else [grads])]
            with no_grad():
                returned = cls.backward(ctx, *grads)
            if not isinstance(returned, tuple):
                returned = (returned,)
            if len(returned) != len(args):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(returned)} gradients, expected "
                                   f"{len(args)} (one per forward argument)")
            return tuple(None if returned[i] is None else returned[i].data for i in positions)

        function_backward.__qualname__ = cls.__name__ + ".backward"
        saved = tuple(t for t in ctx.saved_tensors if isinstance(t, Tensor))
        if single:
            return _make(result.data, inputs, function_backward, saved=saved)
        return _make_multi([o.data for o in outputs], inputs, function_backward, saved=saved)


class GradcheckError(AssertionError):
    pass


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Compares backward's gradients with central finite differences in float64.

    fn(*inputs) returns a Tensor (or a tuple of them); the check projects the
    outputs on fixed random weights w and compares d(sum w * out)/d(input) for
    every input that requires grad. Raises GradcheckError on a mismatch (or
    returns False when raise_exception=False); returns True otherwise.
    """
    from .tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} must be float64, got {t.dtype}")
    rng = np.random.default_rng(seed)

    def outputs_of(result):
        if isinstance(result, Tensor):
            return (result,)
        return tuple(r for r in result if isinstance(r, Tensor) and np.issubdtype(r.dtype, np.floating))

    first = outputs_of(fn(*inputs))
    weights = [rng.standard_normal(o.shape) for o in first]

    def projected(result):
        return sum(float(np.sum(np.asarray(o.detach().cpu().data, np.float64) * w))
                   for o, w in zip(outputs_of(result), weights))

    wanted = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in wanted:
        t.grad = None
    outs = outputs_of(fn(*inputs))
    total = None
    for o, w in zip(outs, weights):
        if not o.requires_grad:
            continue
        term = (o * Tensor._wrap(w.astype(o.dtype))).sum()
        total = term if total is None else total + term
    if total is not None:
        total.backward()
    for index, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = np.zeros(t.shape) if t.grad is None else np.asarray(t.grad.data, np.float64)
        numeric = np.zeros(t.shape)
        t.data = np.ascontiguousarray(t.data)
        flat = t.data.reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            with no_grad():
                plus = projected(fn(*inputs))
            flat[k] = old - eps
            with no_grad():
                minus = projected(fn(*inputs))
            flat[k] = old
            numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            msg = (f"gradcheck: input {index} (shape {t.shape}): analytic and numeric gradients differ "
                   f"at {where}: analytic {analytic[where]!r}, numeric {numeric[where]!r} "
                   f"({int(bad.sum())} of {bad.size} elements differ)")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    for t in wanted:
        t.grad = None
    return True
