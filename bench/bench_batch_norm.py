"""BatchNorm2d in training (and BatchNorm1d on (64, 512)): nncore's layer against
PyTorch's, 1 and 2 threads; and ResNet-18 inference on 32x32 images with and
without nn.utils.fuse_conv_bn_eval.

fwd: the layer's forward in training mode (batch statistics, running update).
fwd+bwd: forward, then backward of a fixed gradient into x, weight and bias.
GB/s counts the traffic of the two-pass algorithm over float32 arrays: fwd reads
x twice and writes y (3 x nbytes); the backward reads g and x twice and writes
grad_input (5 x nbytes), so fwd+bwd is 8 x nbytes. Compare with this machine's
copy bandwidth (test_dram_bandwidth in bench_softmax.py, ~23 GB/s on 1 thread).
Allocator mode: each side allocates its outputs its usual way (nncore: its host
cache; PyTorch: its CPU allocator); faults_per_call in extra_info shows the cost."""

import numpy as np
import pytest

import nncore
from nncore import nn

from benchutil import need_peer, run

SHAPES = [(32, 64, 56, 56), (32, 128, 28, 28), (32, 64, 32, 32), (64, 512)]
ids = lambda s: "x".join(map(str, s))  # noqa: E731


def inputs(shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return x, g


def layer(lib, shape):
    kind = "BatchNorm2d" if len(shape) == 4 else "BatchNorm1d"
    return getattr(lib, kind)(shape[1])


def make_fn(impl, shape, backward):
    x, g = inputs(shape)
    if impl == "nncore":
        bn = layer(nn, shape)
        xt = nncore.tensor(x, requires_grad=backward)
        gt = nncore.tensor(g)

        def fn():
            y = bn(xt)
            if backward:
                xt.grad = None
                bn.zero_grad()
                y.backward(gt)
                return xt.grad
            return y
        return fn
    torch = need_peer("torch")
    bn = layer(torch.nn, shape)
    xt = torch.from_numpy(x).requires_grad_(backward)
    gt = torch.from_numpy(g)

    def fn():
        if not backward:
            with torch.no_grad():
                return bn(xt)
        xt.grad = None
        bn.zero_grad()
        bn(xt).backward(gt)
        return xt.grad
    return fn


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_batch_norm_forward(benchmark, threads, impl, shape):
    benchmark.group = f"batch_norm train fwd {ids(shape)} threads={threads}"
    fn = make_fn(impl, shape, backward=False)
    y = run(benchmark, fn, bytes_moved=3 * 4 * int(np.prod(shape)))
    y = y.numpy() if impl == "nncore" else y.detach().numpy()
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-4)  # the layer's weight is 1 and bias 0
    np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-3)


@pytest.mark.parametrize("impl", ["nncore", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_batch_norm_forward_backward(benchmark, threads, impl, shape):
    benchmark.group = f"batch_norm train fwd+bwd {ids(shape)} threads={threads}"
    fn = make_fn(impl, shape, backward=True)
    gx = run(benchmark, fn, bytes_moved=8 * 4 * int(np.prod(shape)))
    gx = gx.numpy() if impl == "nncore" else gx.numpy()
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(gx.sum(axis=axes), 0, atol=1e-2)  # a training-mode input gradient sums to 0


@pytest.mark.parametrize("impl", ["batchnorm", "fused"])
def test_resnet18_inference_32x32(benchmark, threads, impl):
    """ResNet-18 (width 64, 10 classes) on (32, 3, 32, 32) in eval mode."""
    from nncore.models import resnet

    benchmark.group = f"resnet18 inference 32x32 batch 32 threads={threads}"
    nncore.manual_seed(0)
    model = resnet.resnet18(num_classes=10).eval()
    if impl == "fused":
        model = nn.utils.fuse_conv_bn_eval(model)
    x = nncore.tensor(np.random.default_rng(0).standard_normal((32, 3, 32, 32)).astype(np.float32))

    def fn():
        with nncore.no_grad():
            return model(x)
    assert run(benchmark, fn).shape == (32, 10)


@pytest.mark.cuda
@pytest.mark.parametrize("impl", ["nncore", "torch"])
def test_batch_norm_fwd_bwd_cuda(benchmark, impl):
    """Training forward + backward on the GPU at (32, 64, 56, 56), for scripts/gpu_check.sh."""
    cupy = pytest.importorskip("cupy")
    from nncore import ops

    shape = (32, 64, 56, 56)
    benchmark.group = f"cuda batch_norm train fwd+bwd {ids(shape)}"
    x = cupy.random.standard_normal(shape, dtype=np.float32)
    g = cupy.random.standard_normal(shape, dtype=np.float32)
    w, b = cupy.ones(64, np.float32), cupy.zeros(64, np.float32)
    rm, rv = cupy.zeros(64, np.float32), cupy.ones(64, np.float32)
    if impl == "nncore":
        def fn():
            _, mean, invstd = ops.batch_norm(x, rm, rv, w, b, True)
            ops.batch_norm_backward(g, x, w, mean, invstd, True)
        sync = cupy.cuda.get_current_stream().synchronize
    else:
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("PyTorch without CUDA")
        tx = torch.as_tensor(x, device="cuda").requires_grad_()
        tg, tw, tb = torch.as_tensor(g, device="cuda"), torch.ones(64, device="cuda", requires_grad=True), \
            torch.zeros(64, device="cuda", requires_grad=True)
        trm, trv = torch.zeros(64, device="cuda"), torch.ones(64, device="cuda")

        def fn():
            tx.grad = None
            torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, True).backward(tg)
        sync = torch.cuda.synchronize

    def call():
        fn()
        sync()
    run(benchmark, call, bytes_moved=8 * 4 * int(np.prod(shape)))
