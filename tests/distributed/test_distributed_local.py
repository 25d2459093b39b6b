"""nncore.distributed without launching processes: the sampler's shards, a job
of one, the autograd hooks DistributedDataParallel stands on, and clear errors."""

import numpy as np
import pytest

import nncore
from nncore import autograd, nn
from nncore.data import DataLoader, TensorDataset

dist = pytest.importorskip("nncore.distributed")


@pytest.mark.parametrize("n,replicas", [(0, 2), (1, 3), (10, 3), (12, 4), (7, 7), (5, 8)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards_cover_the_data(n, replicas, drop_last):
    ds = TensorDataset(np.arange(n))
    shards = [list(dist.DistributedSampler(ds, replicas, r, seed=3, drop_last=drop_last)) for r in range(replicas)]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1
    flat = [i for s in shards for i in s]
    if drop_last:
        assert len(flat) == n - n % replicas and len(set(flat)) == len(flat)
    else:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas
    assert all(0 <= i < max(n, 1) for i in flat)


def test_sampler_epochs_and_batches_interleave_like_one_process():
    ds = TensorDataset(np.arange(24))
    one = dist.DistributedSampler(ds, 1, 0, seed=5)
    order = list(one)
    shards = [list(dist.DistributedSampler(ds, 3, r, seed=5)) for r in range(3)]
    for step in range(4):  # global batch 6 = 3 ranks x 2
        got = sorted(i for s in shards for i in s[2 * step:2 * step + 2])
        assert got == sorted(order[6 * step:6 * step + 6])
    one.set_epoch(1)
    assert list(one) != order and sorted(one) == sorted(order)
    with pytest.raises(ValueError, match="rank"):
        dist.DistributedSampler(ds, 2, 2)


def test_loader_takes_a_sampler():
    ds = TensorDataset(np.arange(10))
    loader = DataLoader(ds, 3, sampler=dist.DistributedSampler(ds, 2, 1, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1, 3, 5], [7, 9]] and len(loader) == 2
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(ds, 3, shuffle=True, sampler=[0, 1])


def test_post_accumulate_hooks_see_final_gradients_before_backward_ends(rng):
    a = nncore.tensor(rng.standard_normal(3), requires_grad=True)
    b = nncore.tensor(rng.standard_normal(3), requires_grad=True)
    seen = []
    a.register_post_accumulate_grad_hook(lambda t: seen.append(("a", t.grad.numpy().copy())))
    b.register_post_accumulate_grad_hook(lambda t: seen.append(("b", t.grad.numpy().copy())))
    y = ((a * b).sum() * 2 + (a * a).sum()).exp()
    scale = float(y.item())
    y.backward()
    assert sorted(k for k, _ in seen) == ["a", "b"]
    got = dict(seen)
    np.testing.assert_allclose(got["a"], scale * (2 * b.numpy() + 2 * a.numpy()), rtol=1e-12)
    np.testing.assert_allclose(got["b"], scale * 2 * a.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        (a * 2).register_post_accumulate_grad_hook(print)


def test_queued_callbacks_run_once_after_the_backward():
    x = nncore.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    def hook(t):
        autograd.queue_callback(lambda: calls.append(float(t.grad.numpy().sum())))

    x.register_post_accumulate_grad_hook(hook)
    (x * x).sum().backward()
    assert calls == [6.0]
    (x * 3).sum().backward()
    assert calls == [6.0, 12.0]


def test_job_of_one_process(rng):
    dist.init()
    assert dist.world_size() == 1 and dist.rank() == 0
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = a.copy()
    dist.all_reduce_([b], op="mean")
    np.testing.assert_array_equal(a, b)
    model = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-5)
    assert len(ddp._buckets) == 4 and ddp.bytes_per_step == 4 * (15 + 3 + 6 + 2)
    x = nncore.tensor(a)
    ddp(x).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_array_equal(g, p.grad.numpy())
    assert list(ddp.state_dict()) == list(model.state_dict())
    with pytest.raises(ValueError, match="op"):
        dist.all_reduce_([b], op="max")
    with pytest.raises(TypeError, match="arrays\\[0\\]"):
        dist.all_reduce_([np.array(["x"])])
    with pytest.raises(TypeError, match="Module"):
        dist.DistributedDataParallel(lambda x: x)


def test_sync_batchnorm_in_one_process_equals_batchnorm(rng):
    dist.init()
    x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    synced = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    synced.load_state_dict(plain.state_dict())
    dist.convert_sync_batchnorm(synced)
    assert type(synced[1]).__name__ == "SyncBatchNorm"
    xa, xb = nncore.tensor(x, requires_grad=True), nncore.tensor(x, requires_grad=True)
    ya, yb = plain(xa), synced(xb)
    np.testing.assert_allclose(yb.numpy(), ya.numpy(), rtol=1e-4, atol=1e-5)
    w = nncore.tensor(rng.standard_normal(ya.shape).astype(np.float32))
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    np.testing.assert_allclose(xb.grad.numpy(), xa.grad.numpy(), rtol=1e-3, atol=1e-5)
    for pa, pb in zip(plain.parameters(), synced.parameters()):
        np.testing.assert_allclose(pb.grad.numpy(), pa.grad.numpy(), rtol=1e-3, atol=1e-5)
    for key in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(synced.state_dict()[key].numpy(), plain.state_dict()[key].numpy(), rtol=1e-5)
