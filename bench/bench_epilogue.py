"""conv2d / linear + bias + activation: nncore's fused epilogue (F.fused_conv2d,
F.fused_linear: one kernel pass, one autograd node) against nncore unfused
(F.conv2d / F.linear, then F.relu) and PyTorch (conv2d / linear, then relu),
forward and forward+backward through autograd, 1 and 2 threads. FLOPs as in
bench_conv2d.py (fwd+bwd counts 3x). Allocator mode: nncore's outputs come from
its host cache; PyTorch allocates through its own CPU allocator.

`python bench/bench_epilogue.py` prints interleaved A/B ratios (fastest of 3
round medians) for the same cases."""

import time

import numpy as np
import pytest

import nncore
import nncore.functional as F
from nncore.autograd import no_grad

from benchutil import need_peer, run

# name: ("conv", N, C, H, W, K, kernel, padding) or ("linear", N, in, out)
CASES = {
    "lenet2": ("conv", 64, 20, 12, 12, 50, 5, 0),
    "vgg3x3": ("conv", 32, 64, 32, 32, 64, 3, 1),
    "linear784": ("linear", 64, 784, 512),
    "linear256": ("linear", 64, 256, 1024),
}
IMPLS = ["fused", "unfused", "torch"]


def operands(case):
    rng = np.random.default_rng(0)
    if case[0] == "conv":
        _, N, C, H, W, K, k, pad = case
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        w = (rng.standard_normal((K, C, k, k), dtype=np.float32) / np.sqrt(C * k * k)).astype(np.float32)
        P, Q = H + 2 * pad - k + 1, W + 2 * pad - k + 1
        out_shape, flops = (N, K, P, Q), 2.0 * N * K * P * Q * C * k * k
    else:
        _, N, fin, fout = case
        x = rng.standard_normal((N, fin), dtype=np.float32)
        w = (rng.standard_normal((fout, fin), dtype=np.float32) / np.sqrt(fin)).astype(np.float32)
        out_shape, flops = (N, fout), 2.0 * N * fin * fout
    b = rng.standard_normal(out_shape[1], dtype=np.float32) * 0.1
    gy = rng.standard_normal(out_shape, dtype=np.float32)
    return x, w, b, gy, flops


def make_fn(impl, case, backward):
    x, w, b, gy, flops = operands(case)
    conv = case[0] == "conv"
    pad = case[-1] if conv else 0
    if impl == "torch":
        torch = need_peer("torch")
        TF = torch.nn.functional
        tx, tw, tb, tgy = (torch.from_numpy(a) for a in (x, w, b, gy))
        layer = (lambda: TF.conv2d(tx, tw, tb, 1, pad)) if conv else (lambda: TF.linear(tx, tw, tb))
        if backward:
            tx.requires_grad_(), tw.requires_grad_(), tb.requires_grad_()

            def fn():
                tx.grad = tw.grad = tb.grad = None
                torch.relu(layer()).backward(tgy)
        else:
            def fn():
                with torch.no_grad():
                    return torch.relu(layer())
        return fn, (3 if backward else 1) * flops

    tx, tw, tb = (nncore.tensor(a, requires_grad=backward) for a in (x, w, b))
    tgy = nncore.tensor(gy)
    if impl == "fused":
        layer = (lambda: F.fused_conv2d(tx, tw, tb, 1, pad, activation="relu")) if conv else \
            (lambda: F.fused_linear(tx, tw, tb, "relu"))
    else:
        layer = (lambda: F.relu(F.conv2d(tx, tw, tb, 1, pad))) if conv else (lambda: F.relu(F.linear(tx, tw, tb)))
    if backward:
        def fn():
            tx.grad = tw.grad = tb.grad = None
            layer().backward(tgy)
    else:
        def fn():
            with no_grad():
                return layer()
    return fn, (3 if backward else 1) * flops


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CASES))
def test_epilogue_forward(benchmark, threads, impl, name):
    benchmark.group = f"{name}+bias+relu fwd {CASES[name]} threads={threads}"
    fn, flops = make_fn(impl, CASES[name], backward=False)
    run(benchmark, fn, flops=flops)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CASES))
def test_epilogue_forward_backward(benchmark, threads, impl, name):
    benchmark.group = f"{name}+bias+relu fwd+bwd {CASES[name]} threads={threads}"
    fn, flops = make_fn(impl, CASES[name], backward=True)
    run(benchmark, fn, flops=flops)


def _interleaved(fns, rounds=3, calls=20):
    """Fastest of `rounds` medians per function, the functions taking turns call by call."""
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for _ in range(rounds):
        times = [[] for _ in fns]
        for _ in range(calls):
            for i, fn in enumerate(fns):
                t0 = time.perf_counter()
                fn()
                times[i].append(time.perf_counter() - t0)
        best = [min(b, float(np.median(t))) for b, t in zip(best, times)]
    return best


def main():
    import resource

    torch = need_peer("torch")
    for threads in (1, 2):
        nncore.set_num_threads(threads)
        torch.set_num_threads(threads)
        for name, case in CASES.items():
            for backward in (False, True):
                fns = [make_fn(impl, case, backward)[0] for impl in IMPLS]
                faults = []
                for fn in fns:
                    fn()
                    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                    for _ in range(10):
                        fn()
                    faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10)
                fused, unfused, peer = _interleaved(fns)
                print(f"t{threads} {name:10s} {'fwd+bwd' if backward else 'fwd    '} fused {fused * 1e3:7.3f} ms  "
                      f"unfused {unfused * 1e3:7.3f} ms  torch {peer * 1e3:7.3f} ms  "
                      f"unfused/fused {unfused / fused:5.2f}  torch/fused {peer / fused:5.2f}  "
                      f"faults/call fused {faults[0]:.0f} unfused {faults[1]:.0f} torch {faults[2]:.0f}", flush=True)


if __name__ == "__main__":
    main()
