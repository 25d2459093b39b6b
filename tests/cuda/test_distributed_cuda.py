"""nncore.distributed on GPU arrays: without CUDA-aware MPI, buckets are staged
through pinned host buffers and copied back (a job of one process here)."""

import numpy as np
import pytest

import nncore
from nncore import distributed as dist
from nncore import nn

pytestmark = pytest.mark.cuda
pytest.importorskip("mpi4py")


@pytest.fixture
def staged(monkeypatch):
    dist.init()
    monkeypatch.setitem(dist._state, "cuda_aware", False)


def test_all_reduce_stages_device_buckets_through_the_host(cupy, staged, rng):
    host = [rng.standard_normal(s).astype(np.float32) for s in [(5,), (3, 4), (700,)]]
    device = [cupy.asarray(a) for a in host]
    dist.all_reduce_(device, op="sum", bucket_bytes=64)
    for d, h in zip(device, host):
        assert dist._is_cuda(d)
        np.testing.assert_array_equal(cupy.asnumpy(d), h)


def test_ddp_on_device_keeps_gradients_on_the_device(cupy, staged, rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to("cuda")
    ddp = dist.DistributedDataParallel(model)
    x = nncore.tensor(rng.standard_normal((6, 4)).astype(np.float32)).to("cuda")
    ddp(x).sum().backward()
    grads = [cupy.asnumpy(p.grad.data) for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters()):
        assert dist._is_cuda(p.grad.data)
        np.testing.assert_allclose(g, cupy.asnumpy(p.grad.data), rtol=1e-6)
