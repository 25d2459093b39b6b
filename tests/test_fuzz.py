"""Property-based fuzz of every nncore.ops entry and every nncore.functional
function (issue 15). Hypothesis starts from a valid call (tests/fuzz_specs.py),
leaves it as it is or replaces one argument by a hostile value (None, bools,
ints beyond int64, NaN, inf, strings, wrong dtypes, ranks, strides, zero-size
arrays), and runs the call in a forked child, so a crash or a hang is caught.
Every call must either
  - return, and then match the float64 reference (nncore.ops: the same call
    in float64, whose portable twin the kernel tests check against NumPy) or
    PyTorch (nncore.functional, when PyTorch is installed; a result where
    PyTorch refuses fails unless README's table of differences lists it), or
  - raise TypeError or ValueError (IndexError too for the functional API, as
    PyTorch) whose message starts with the function's name and, when one
    argument was replaced, names it.
NNCORE_FUZZ_EXAMPLES sets the examples per function (default 25); the calls
are the same every run (derandomized), so the suite passes or fails the same
way everywhere; NNCORE_FUZZ_EXPLORE=1 draws new ones each run, to look for more."""

import inspect
import os
import pickle
import select
import signal
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_specs as specs
import nncore
from nncore import functional as F
from nncore import ops

try:  # imported once here, so each forked child has it instead of importing it again
    import torch as _torch  # noqa: F401
except ImportError:
    _torch = None

EXAMPLES = int(os.environ.get("NNCORE_FUZZ_EXAMPLES", "25"))
TIMEOUT = 30.0

# Deliberate differences from PyTorch (README's table): (function, argument) pairs
# where nncore returns a result for a value PyTorch refuses.
ACCEPTS_MORE = {
    # a scalar beyond float32 on float32 data: PyTorch cannot convert it, nncore computes with inf
    ("multi_margin_loss", "margin"),
    ("normalize", "eps"),
    ("hinge_embedding_loss", "margin"),
    # non-constant F.pad modes pad any number of trailing axes; PyTorch only the spatial ones
    ("pad", "input"),
    ("pad", "pad"),
    # NumPy integers count as ints (PyTorch wants Python ints or sequences here)
    ("adaptive_avg_pool2d", "output_size"),
}


def param_names(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def in_child(job):
    """job() in a forked child: its pickled result, ('hang',) or ('crash', how)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            result = job()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            result = ("raised", type(e).__name__, str(e)[:3000])
        try:
            data = pickle.dumps(result)
        except Exception:  # noqa: BLE001
            data = pickle.dumps(("unpicklable", repr(result)[:300]))
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return ("hang",)
            if select.select([read_fd], [], [], left)[0]:
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return ("crash", f"signal {os.WTERMSIG(status)}")
    if not chunks:
        return ("crash", f"exit status {os.WEXITSTATUS(status)} and no result")
    return pickle.loads(b"".join(chunks))


def _outputs(out):
    items = out if isinstance(out, (tuple, list)) else (out,)
    arrays = []
    for o in items:
        if isinstance(o, nncore.Tensor):
            o = o.data
        if isinstance(o, (np.ndarray, np.generic)):
            arrays.append(np.asarray(o))
    return arrays


def _close(got, want, rtol, atol):
    """None when the arrays agree (NaN where want has NaN); else why not."""
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    if got.dtype.kind in "iub" or want.dtype.kind in "iub":
        return None if np.array_equal(got, want) else "integer results differ"
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isnan(g), np.isnan(w)):
        return "NaN in different places"
    ok = np.isnan(w) | (g == w) | (np.abs(g - w) <= atol + rtol * np.abs(w))
    return None if ok.all() else f"max difference {np.nanmax(np.abs(g - w))} (rtol {rtol}, atol {atol})"


def _as64(v):
    if isinstance(v, np.ndarray) and v.dtype == np.float32:
        return v.astype(np.float64)
    if isinstance(v, tuple) and v and all(isinstance(e, np.ndarray) for e in v):
        return tuple(_as64(e) for e in v)
    return v


def _to_torch(v, torch):
    if isinstance(v, nncore.Tensor):
        t = torch.from_numpy(np.array(v.data))
        return t.requires_grad_(v.requires_grad) if t.is_floating_point() else t
    if isinstance(v, np.ndarray):
        return torch.from_numpy(np.array(v))
    if isinstance(v, type) and issubclass(v, np.generic) or isinstance(v, np.dtype):
        return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}.get(np.dtype(v), v)
    return v


def _torch_composed(torch, name):
    """PyTorch's equivalent of an nncore function it has no single function for:
    F.fused_conv2d / F.fused_linear are the layer, then the activation."""
    tf = torch.nn.functional
    acts = {None: lambda y, a: y, "relu": lambda y, a: tf.relu(y), "relu6": lambda y, a: tf.relu6(y),
            "sigmoid": lambda y, a: torch.sigmoid(y), "tanh": lambda y, a: torch.tanh(y),
            "leaky_relu": lambda y, a: tf.leaky_relu(y, 0.01 if a is None else a),
            "elu": lambda y, a: tf.elu(y, 1.0 if a is None else a)}
    layer = {"fused_conv2d": tf.conv2d, "fused_linear": tf.linear}[name]

    def composed(*args, activation="relu", act_alpha=None, **kwargs):
        return acts[activation](layer(*args, **kwargs), act_alpha)

    return composed


def run_case(kind, name, seed, key, k, tensors):
    """The case in the child: ('raised', type, message) or ('ok', mismatch or None, note)."""
    nncore.set_num_threads(1)  # OpenMP's pool does not survive fork
    r = np.random.default_rng(seed)
    module = ops if kind == "ops" else F
    fn = getattr(module, name)
    args, kwargs = (specs.OPS if kind == "ops" else specs.FUNCTIONAL)[name](r)
    args = list(args)
    if key is not None:
        value = specs.hostile(k, r, tensors)
        if isinstance(key, int):
            args[key] = value
        else:
            kwargs[key] = value
    try:
        out = fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001
        return ("raised", type(e).__name__, str(e)[:3000])
    if kind == "ops":
        if key is not None:
            return ("ok", None, "")
        ref = fn(*[_as64(a) for a in args], **{n: _as64(v) for n, v in kwargs.items()})
        for got, want in zip(_outputs(out), _outputs(ref)):
            bad = _close(got, want, 2e-4, 2e-4)
            if bad:
                return ("ok", f"float32 and float64 calls differ: {bad}", "")
        return ("ok", None, "")
    for o in (out if isinstance(out, tuple) else (out,)):
        if isinstance(o, nncore.Tensor) and o.requires_grad and o.numel():
            o.sum().backward()  # the backward must hold up too
    torch = _torch
    if torch is None:
        return ("ok", None, "no torch")
    torch.set_num_threads(1)
    tf = getattr(torch.nn.functional, name, None) or _torch_composed(torch, name)
    targs = [_to_torch(a, torch) for a in args]
    tkwargs = {n: _to_torch(v, torch) for n, v in kwargs.items()}
    try:
        with torch.no_grad():
            ref = tf(*targs, **tkwargs)
    except BaseException as e:  # noqa: BLE001
        return ("ok", None, f"torch raised {type(e).__name__}: {str(e)[:300]}")
    refs = [t.detach().numpy() for t in (ref if isinstance(ref, tuple) else (ref,)) if hasattr(t, "numpy")]
    for got, want in zip(_outputs(out), refs):
        bad = _close(got, want, 1e-3, 1e-4)
        if bad:
            return ("ok", f"differs from PyTorch: {bad}", "")
    return ("ok", None, "")


def check(kind, name, data):
    fn = getattr(ops if kind == "ops" else F, name)
    args, kwargs = (specs.OPS if kind == "ops" else specs.FUNCTIONAL)[name](np.random.default_rng(0))
    names = param_names(fn)
    keys = [None] + list(range(len(args))) + list(kwargs)
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    key = data.draw(st.sampled_from(keys), label="argument")
    k = data.draw(st.integers(0, specs.N_HOSTILE - 1), label="hostile value")
    tensors = data.draw(st.booleans(), label="arrays as Tensors")
    arg = None if key is None else (names[key] if isinstance(key, int) else key)
    result = in_child(lambda: run_case(kind, name, seed, key, k, tensors))
    what = f"{kind}.{name} with {arg} = hostile value {k} (tensors={tensors}, seed {seed})"
    assert result[0] not in ("hang", "crash"), f"{what}: {result}"
    if result[0] == "raised":
        _, etype, msg = result
        allowed = ("TypeError", "ValueError") + (("IndexError",) if kind == "functional" else ())
        assert etype in allowed, f"{what}: raised {etype}: {msg}"
        assert msg.startswith(name + ":"), f"{what}: message does not start with '{name}:': {msg}"
        # a replaced value may be valid and make another argument wrong: the message names some argument
        named = [n for n in names + ["out", "input", "output", "indices", "shape"] if n in msg[len(name) + 1:]]
        assert named or "too large to allocate" in msg, f"{what}: message names no argument: {msg}"
        return
    assert result[0] == "ok", f"{what}: {result}"
    _, mismatch, note = result
    assert mismatch is None, f"{what}: {mismatch}"
    if note.startswith("torch raised") and key is not None and (name, arg) not in ACCEPTS_MORE:
        pytest.fail(f"{what}: returned a result where PyTorch refuses ({note})")


def fuzz(kind, name):
    # no shrinking: each call costs a fork, and the first failing call is reported as it is
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None,
              derandomize=not os.environ.get("NNCORE_FUZZ_EXPLORE"))
    @given(st.data())
    def run(data):
        check(kind, name, data)

    run()


@pytest.mark.parametrize("name", sorted(specs.OPS))
def test_fuzz_ops(name):
    fuzz("ops", name)


@pytest.mark.parametrize("name", sorted(specs.FUNCTIONAL))
def test_fuzz_functional(name):
    fuzz("functional", name)


def test_every_function_is_fuzzed():
    assert sorted(specs.OPS) == sorted(ops.__all__)
    assert sorted(specs.FUNCTIONAL) == sorted(F.__all__)


def test_a_crash_and_a_hang_are_caught():
    assert in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV))[0] == "crash"
    global TIMEOUT
    before, TIMEOUT = TIMEOUT, 1.0
    try:
        assert in_child(lambda: time.sleep(10))[0] == "hang"
    finally:
        TIMEOUT = before
