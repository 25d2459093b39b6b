"""GPU benchmarks for scripts/gpu_check.sh: nncore's CUDA twins against PyTorch
(cuDNN/cuBLAS with TF32 off) and torchvision's CUDA ops, at PERF.md's shapes
with batch 32 for convolution. Skipped without a GPU."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

CONV = {
    "res3x3_64": (32, 64, 56, 56, 64, 3, 1, 1),
    "res3x3_256": (32, 256, 14, 14, 256, 3, 1, 1),
    "stem7x7": (32, 3, 224, 224, 64, 7, 2, 3),
    "pw1x1": (32, 256, 14, 14, 512, 1, 1, 0),
}


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


def timed(benchmark, fn, sync, *, flops=None, bytes_moved=None):
    def call():
        fn()
        sync()

    benchmark(call)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.min > 0:
        if flops is not None:
            benchmark.extra_info["GFLOP/s"] = round(flops / stats.stats.min / 1e9, 1)
        if bytes_moved is not None:
            benchmark.extra_info["GB/s"] = round(bytes_moved / stats.stats.min / 1e9, 1)


def torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("name", list(CONV))
def test_conv2d_forward_cuda(benchmark, cupy, impl, name):
    n, c, h, w, k, r, s, p = CONV[name]
    benchmark.group = f"cuda conv2d fwd {name} {CONV[name]}"
    x = cupy.random.standard_normal((n, c, h, w), dtype=np.float32)
    wt = cupy.random.standard_normal((k, c, r, r), dtype=np.float32)
    q = (h + 2 * p - r) // s + 1
    flops = 2.0 * n * k * q * q * c * r * r
    if impl == "nncore":
        fn, sync = (lambda: ops.conv2d(x, wt, stride=s, padding=p)), cupy.cuda.get_current_stream().synchronize
    else:
        torch = torch_cuda()
        tx, tw = torch.from_dlpack(x), torch.from_dlpack(wt)
        fn, sync = (lambda: torch.nn.functional.conv2d(tx, tw, stride=s, padding=p)), torch.cuda.synchronize
    timed(benchmark, fn, sync, flops=flops)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
def test_max_pool2d_cuda(benchmark, cupy, impl):
    benchmark.group = "cuda max_pool2d 2x2/2 (32, 64, 56, 56)"
    x = cupy.random.standard_normal((32, 64, 56, 56), dtype=np.float32)
    moved = x.nbytes * 1.25
    if impl == "nncore":
        fn, sync = (lambda: ops.max_pool2d(x, 2)), cupy.cuda.get_current_stream().synchronize
    else:
        torch = torch_cuda()
        tx = torch.from_dlpack(x)
        fn, sync = (lambda: torch.nn.functional.max_pool2d(tx, 2)), torch.cuda.synchronize
    timed(benchmark, fn, sync, bytes_moved=moved)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("shape", [(4096, 1000), (69856, 21)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_cross_entropy_fwd_bwd_cuda(benchmark, cupy, impl, shape):
    benchmark.group = f"cuda cross_entropy fwd+bwd {shape[0]}x{shape[1]}"
    logits = cupy.random.standard_normal(shape, dtype=np.float32)
    target = cupy.random.randint(0, shape[1], shape[0]).astype(np.int64)
    moved = logits.nbytes * 2
    if impl == "nncore":
        fn, sync = (lambda: ops.cross_entropy_with_grad(logits, target)), cupy.cuda.get_current_stream().synchronize
    else:
        torch = torch_cuda()
        tl, tt = torch.from_dlpack(logits).requires_grad_(), torch.from_dlpack(target)

        def fn():
            tl.grad = None
            torch.nn.functional.cross_entropy(tl, tt).backward()

        sync = torch.cuda.synchronize
    timed(benchmark, fn, sync, bytes_moved=moved)


def boxes(cupy, n, seed=0):
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 1000, (n, 2))
    side = rng.uniform(10, 100, (n, 2))
    host = np.concatenate([centre - side / 2, centre + side / 2], axis=1).astype(np.float32)
    return cupy.asarray(host), cupy.asarray(rng.random(n).astype(np.float32))


@pytest.mark.parametrize("impl", ["nncore", "torchvision"])
@pytest.mark.parametrize("n", [10000, 50000])
def test_nms_cuda(benchmark, cupy, impl, n):
    benchmark.group = f"cuda nms {n} boxes"
    b, s = boxes(cupy, n)
    if impl == "nncore":
        fn, sync = (lambda: ops.nms(b, s, 0.5)), cupy.cuda.get_current_stream().synchronize
    else:
        torch = torch_cuda()
        torchvision = pytest.importorskip("torchvision")
        tb, ts = torch.from_dlpack(b), torch.from_dlpack(s)
        fn, sync = (lambda: torchvision.ops.nms(tb, ts, 0.5)), torch.cuda.synchronize
    timed(benchmark, fn, sync)


@pytest.mark.parametrize("impl", ["nncore", "torchvision"])
@pytest.mark.parametrize("nm", [(1000, 1000), (8732, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_box_iou_cuda(benchmark, cupy, impl, nm):
    benchmark.group = f"cuda box_iou {nm[0]}x{nm[1]}"
    a, _ = boxes(cupy, nm[0], 1)
    b, _ = boxes(cupy, nm[1], 2)
    if impl == "nncore":
        fn, sync = (lambda: ops.box_iou(a, b)), cupy.cuda.get_current_stream().synchronize
    else:
        torch = torch_cuda()
        torchvision = pytest.importorskip("torchvision")
        ta, tb = torch.from_dlpack(a), torch.from_dlpack(b)
        fn, sync = (lambda: torchvision.ops.box_iou(ta, tb)), torch.cuda.synchronize
    timed(benchmark, fn, sync, bytes_moved=nm[0] * nm[1] * 4)
