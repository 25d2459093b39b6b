"""Softmax family: nncore against PyTorch, 1 and 2 threads.

cross_entropy forward and forward+backward at (4096, 1000) and SSD's
(69856, 21); softmax / log_softmax at the same shapes. nncore's fwd+bwd is the
fused one-pass cross_entropy_with_grad ("nncore"), and the two-pass
cross_entropy + cross_entropy_backward ("nncore-2pass"); PyTorch's is
F.cross_entropy(...).backward(). Allocator mode: each side allocates its
outputs its usual way (nncore: its host cache; PyTorch: its CPU allocator);
faults_per_call in extra_info says what that costs. GB/s counts the bytes the
op must move at least (logits read, gradient written, int64 targets read);
test_dram_bandwidth measures this machine's copy bandwidth for the floor."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

SHAPES = [(4096, 1000), (69856, 21)]
ids = lambda s: "x".join(map(str, s))  # noqa: E731


def inputs(shape):
    rng = np.random.default_rng(0)
    n, c = shape
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    t = rng.integers(0, c, n).astype(np.int64)
    return x, t


def test_dram_bandwidth(benchmark):
    """numpy copy of 256 MiB, counted as bytes read + written (STREAM copy)."""
    benchmark.group = "dram bandwidth"
    src = np.ones(1 << 26, np.float32)
    dst = np.empty_like(src)
    run(benchmark, lambda: np.copyto(dst, src), bytes_moved=2 * src.nbytes)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_cross_entropy_forward(benchmark, threads, impl, shape):
    benchmark.group = f"cross_entropy fwd {ids(shape)} threads={threads}"
    x, t = inputs(shape)
    if impl == "nncore":
        fn = lambda: ops.cross_entropy(x, t)  # noqa: E731
    else:
        torch = need_peer("torch")
        tx, tt = torch.from_numpy(x), torch.from_numpy(t)

        def fn():
            with torch.no_grad():
                return torch.nn.functional.cross_entropy(tx, tt)
    loss = run(benchmark, fn, bytes_moved=x.nbytes + t.nbytes)
    if impl == "nncore":
        x64 = x.astype(np.float64)
        m = x64.max(1, keepdims=True)
        lse = np.log(np.exp(x64 - m).sum(1)) + m[:, 0]
        assert abs(float(loss) - (lse - x64[np.arange(len(t)), t]).mean()) < 1e-4


@pytest.mark.parametrize("impl", ["nncore", "nncore-2pass", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_cross_entropy_forward_backward(benchmark, threads, impl, shape):
    benchmark.group = f"cross_entropy fwd+bwd {ids(shape)} threads={threads}"
    x, t = inputs(shape)
    if impl == "nncore":
        fn = lambda: ops.cross_entropy_with_grad(x, t)[1]  # noqa: E731
    elif impl == "nncore-2pass":
        def fn():
            ops.cross_entropy(x, t)
            return ops.cross_entropy_backward(1.0, x, t)
    else:
        torch = need_peer("torch")
        tx, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)

        def fn():
            tx.grad = None
            torch.nn.functional.cross_entropy(tx, tt).backward()
            return tx.grad
    grad = run(benchmark, fn, bytes_moved=2 * x.nbytes + t.nbytes)
    if impl != "torch":
        x64 = x.astype(np.float64)
        p = np.exp(x64 - x64.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(t)), t] -= 1
        assert np.max(np.abs(grad - p / len(t))) < 1e-6


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_softmax(benchmark, threads, impl, log, shape):
    benchmark.group = f"{'log_softmax' if log else 'softmax'} {ids(shape)} threads={threads}"
    x, _ = inputs(shape)
    if impl == "nncore":
        f = ops.log_softmax if log else ops.softmax
        fn = lambda: f(x, -1)  # noqa: E731
    else:
        torch = need_peer("torch")
        tx = torch.from_numpy(x)
        f = torch.log_softmax if log else torch.softmax
        fn = lambda: f(tx, -1)  # noqa: E731
    run(benchmark, fn, bytes_moved=2 * x.nbytes)
