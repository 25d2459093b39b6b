"""2-D pooling: nncore against PyTorch (CPU), forward and forward+backward,
1 and 2 threads, with a plain copy of the input in each group as the
bandwidth yardstick of the same run, and in its own group copies of 26 MB
and 512 MB (the latter far beyond any cache: the DRAM figure).

GB/s in extra_info counts the bytes a pass must move (inputs read once,
outputs written once; int64 indices 8 bytes), the same formula for both
sides, so it reads as a fraction of the copy figure. Allocator mode: nncore
allocates its outputs from its host cache (no page faults on repeated calls),
PyTorch from its CPU allocator; faults_per_call shows both."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

SHAPES = [(32, 64, 56, 56), (8, 128, 28, 28)]

# name: (kind, kwargs for nncore and torch)
CASES = {
    "max 2x2/2": ("max", dict(kernel_size=2)),
    "max 3x3/2 p1": ("max", dict(kernel_size=3, stride=2, padding=1)),
    "avg 2x2/2": ("avg", dict(kernel_size=2)),
    "lp p=2 2x2/2": ("lp", dict(kernel_size=2)),
}


def out_shape(shape, kw):
    k, s, p = kw["kernel_size"], kw.get("stride", kw["kernel_size"]), kw.get("padding", 0)
    return shape[:2] + tuple((n + 2 * p - k) // s + 1 for n in shape[2:])


def bytes_moved(kind, shape, kw, with_backward):
    x = int(np.prod(shape)) * 4
    y = int(np.prod(out_shape(shape, kw))) * 4
    if kind == "max":
        fwd = x + y + (2 * y if with_backward else 0)  # indices are int64
        return fwd + (y + 2 * y + x if with_backward else 0)
    if kind == "avg":
        return x + y + (y + x if with_backward else 0)
    return x + y + (y + x + y + x if with_backward else 0)  # lp backward reads gy, x, y


def nncore_fn(kind, x, gy, kw, with_backward):
    if kind == "max":
        if not with_backward:
            return lambda: ops.max_pool2d(x, **kw)

        def fwd_bwd():
            y, idx = ops.max_pool2d(x, return_indices=True, **kw)
            return ops.max_pool2d_backward(gy, idx, x.shape, **kw)

        return fwd_bwd
    if kind == "avg":
        if not with_backward:
            return lambda: ops.avg_pool2d(x, **kw)
        return lambda: (ops.avg_pool2d(x, **kw), ops.avg_pool2d_backward(gy, x.shape, **kw))
    if not with_backward:
        return lambda: ops.lp_pool2d(x, 2, **kw)

    def lp_fwd_bwd():
        y = ops.lp_pool2d(x, 2, **kw)
        return ops.lp_pool2d_backward(gy, x, y, 2, **kw)

    return lp_fwd_bwd


def torch_fn(torch, kind, x, gy, kw, with_backward):
    F = torch.nn.functional
    f = {"max": F.max_pool2d, "avg": F.avg_pool2d, "lp": lambda t, **a: F.lp_pool2d(t, 2, **a)}[kind]
    tx, tgy = torch.from_numpy(x), torch.from_numpy(gy)
    if not with_backward:
        return lambda: f(tx, **kw)
    tx = tx.clone().requires_grad_()

    def fwd_bwd():
        tx.grad = None
        f(tx, **kw).backward(tgy)

    return fwd_bwd


@pytest.mark.parametrize("impl", ["nncore", "torch", "copy"])
@pytest.mark.parametrize("pass_", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_pool2d(benchmark, threads, impl, pass_, case, shape):
    kind, kw = CASES[case]
    with_backward = pass_ == "fwd+bwd"
    benchmark.group = f"{case} {pass_} {shape} threads={threads}"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal(out_shape(shape, kw), dtype=np.float32)
    moved = bytes_moved(kind, shape, kw, with_backward)
    if impl == "copy":
        # the yardstick: copy the input (read + write), PyTorch's parallel copy when present
        torch = need_peer("torch") if threads > 1 else None
        if torch is not None:
            src, dst = torch.from_numpy(x), torch.empty(shape)
            run(benchmark, lambda: dst.copy_(src), bytes_moved=2 * x.nbytes)
        else:
            dst = np.empty_like(x)
            run(benchmark, lambda: np.copyto(dst, x), bytes_moved=2 * x.nbytes)
        return
    if impl == "nncore":
        fn = nncore_fn(kind, x, gy, kw, with_backward)
    else:
        fn = torch_fn(need_peer("torch"), kind, x, gy, kw, with_backward)
    run(benchmark, fn, bytes_moved=moved)
    if impl == "nncore":
        got = fn()
        got = got[-1] if isinstance(got, tuple) else got
        assert np.all(np.isfinite(got))


@pytest.mark.parametrize("megabytes", [26, 512])
def test_copy_bandwidth(benchmark, threads, megabytes):
    """The machine's copy bandwidth (bytes read + written): NumPy's copy on one
    thread, PyTorch's parallel copy on two."""
    benchmark.group = f"copy bandwidth threads={threads}"
    n = megabytes * 2**20 // 4
    src = np.ones(n, np.float32)
    if threads > 1:
        torch = need_peer("torch")
        s, d = torch.from_numpy(src), torch.zeros(n)
        run(benchmark, lambda: d.copy_(s), bytes_moved=2 * src.nbytes)
    else:
        dst = np.zeros_like(src)
        run(benchmark, lambda: np.copyto(dst, src), bytes_moved=2 * src.nbytes)
