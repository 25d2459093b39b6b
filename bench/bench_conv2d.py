"""conv2d forward and forward+backward: nncore against PyTorch (oneDNN) on the
PERF.md conv shapes, 1 and 2 threads. FLOPs = 2 N K P Q C R S / groups
(fwd+bwd counts 3x). Allocator mode: nncore's outputs come from its host cache;
PyTorch allocates through its own CPU allocator (faults_per_call says what that costs)."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

# name: (N, C, H, W, K, kernel, stride, padding, groups)
SHAPES = {
    "lenet1": (64, 1, 28, 28, 20, 5, 1, 0, 1),
    "lenet2": (64, 20, 12, 12, 50, 5, 1, 0, 1),
    "stem7x7": (8, 3, 224, 224, 64, 7, 2, 3, 1),
    "res3x3_64": (8, 64, 56, 56, 64, 3, 1, 1, 1),
    "res3x3_128": (8, 128, 28, 28, 128, 3, 1, 1, 1),
    "res3x3_256": (8, 256, 14, 14, 256, 3, 1, 1, 1),
    "res3x3_512": (8, 512, 7, 7, 512, 3, 1, 1, 1),
    "pw1x1": (8, 256, 14, 14, 512, 1, 1, 0, 1),
    "dcgan4x4s2": (64, 64, 32, 32, 128, 4, 2, 1, 1),
    "ssd_head": (8, 512, 38, 38, 16, 3, 1, 1, 1),
    "batch1": (1, 64, 56, 56, 64, 3, 1, 1, 1),
}


def operands(shape):
    N, C, H, W, K, k, stride, pad, groups = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = (rng.standard_normal((K, C // groups, k, k), dtype=np.float32) / np.sqrt(C // groups * k * k)).astype(np.float32)
    b = rng.standard_normal(K, dtype=np.float32)
    P = (H + 2 * pad - k) // stride + 1
    Q = (W + 2 * pad - k) // stride + 1
    gy = rng.standard_normal((N, K, P, Q), dtype=np.float32)
    flops = 2.0 * N * K * P * Q * (C // groups) * k * k
    return x, w, b, gy, flops


def make_fn(impl, shape, backward):
    N, C, H, W, K, k, stride, pad, groups = shape
    x, w, b, gy, flops = operands(shape)
    if impl == "nncore":
        out = np.empty(gy.shape, np.float32)

        def fn():
            y = ops.conv2d(x, w, b, stride, pad, 1, groups, out=out)
            if backward:
                return ops.conv2d_backward(gy, x, w, stride, pad, 1, groups)
            return y
    else:
        torch = need_peer("torch")
        F = torch.nn.functional
        tx, tw, tb, tgy = (torch.from_numpy(a) for a in (x, w, b, gy))
        if backward:
            tx.requires_grad_(), tw.requires_grad_(), tb.requires_grad_()

            def fn():
                tx.grad = tw.grad = tb.grad = None
                F.conv2d(tx, tw, tb, stride, pad, 1, groups).backward(tgy)
        else:
            def fn():
                with torch.no_grad():
                    return F.conv2d(tx, tw, tb, stride, pad, 1, groups)
    return fn, (3 if backward else 1) * flops


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_conv2d_forward(benchmark, threads, impl, name):
    benchmark.group = f"conv2d fwd {name} {SHAPES[name]} threads={threads}"
    fn, flops = make_fn(impl, SHAPES[name], backward=False)
    run(benchmark, fn, flops=flops)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_conv2d_forward_backward(benchmark, threads, impl, name):
    benchmark.group = f"conv2d fwd+bwd {name} {SHAPES[name]} threads={threads}"
    fn, flops = make_fn(impl, SHAPES[name], backward=True)
    run(benchmark, fn, flops=flops)
