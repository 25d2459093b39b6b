"""nncore.Tensor: factories, dtypes, conversions, devices, DLPack, indexing
and in-place ops (forward values; gradients are in test_autograd.py)."""

import numpy as np
import pytest

import nncore


def test_tensor_infers_torch_like_dtypes():
    assert nncore.tensor([1.0, 2.0]).dtype == np.float32
    assert nncore.tensor([1, 2]).dtype == np.int64
    assert nncore.tensor(True).dtype == np.bool_
    assert nncore.tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert nncore.tensor([[1, 2]], dtype=nncore.float64).dtype == np.float64
    assert nncore.tensor([]).shape == (0,)


def test_tensor_copies_but_from_numpy_shares():
    a = np.arange(3.0)
    t = nncore.tensor(a)
    a[0] = 9
    assert t[0].item() == 0
    s = nncore.from_numpy(a)
    a[1] = 7
    assert s[1].item() == 7


@pytest.mark.parametrize("factory", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_take_sizes_either_way(factory):
    fn = getattr(nncore, factory)
    a, b = fn(2, 3), fn((2, 3))
    assert a.shape == b.shape == (2, 3) and a.dtype == np.float32
    assert fn(2, dtype=nncore.float64).dtype == np.float64
    assert fn(4, requires_grad=True).requires_grad


def test_fill_factories():
    np.testing.assert_array_equal(nncore.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(nncore.ones(3).numpy(), np.ones(3))
    np.testing.assert_array_equal(nncore.full((2,), 1.5).numpy(), [1.5, 1.5])
    np.testing.assert_array_equal(nncore.arange(5).numpy(), np.arange(5))
    assert nncore.arange(5).dtype == np.int64 and nncore.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_allclose(nncore.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(nncore.eye(3).numpy(), np.eye(3))
    x = nncore.randn(3, 2, dtype=nncore.float64)
    for like in ("zeros_like", "ones_like", "rand_like", "randn_like", "empty_like"):
        y = getattr(nncore, like)(x)
        assert y.shape == x.shape and y.dtype == x.dtype
    assert nncore.full_like(x, 2.0).numpy().sum() == 12
    r = nncore.randint(0, 5, (100,))
    assert r.dtype == np.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert sorted(nncore.randperm(6).tolist()) == list(range(6))


def test_manual_seed_repeats_random_streams():
    nncore.manual_seed(123)
    a = nncore.randn(5).numpy().copy()
    b = nncore.rand(5).numpy().copy()
    nncore.manual_seed(123)
    np.testing.assert_array_equal(nncore.randn(5).numpy(), a)
    np.testing.assert_array_equal(nncore.rand(5).numpy(), b)
    r = nncore.rand(10000).numpy()
    assert 0 <= r.min() and r.max() < 1


def test_facts_and_conversions():
    t = nncore.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.device == "cpu" and str(t.device) == "cpu" and t.device.type == "cpu"
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert t[1, 2].item() == 6.0 and isinstance(t[1, 2].item(), float)
    assert isinstance(t.numpy(), np.ndarray)
    with pytest.raises(ValueError, match="1"):
        t.item()
    assert t.double().dtype == np.float64 and t.long().dtype == np.int64
    assert t.to(nncore.float64).dtype == np.float64 and t.to("cpu") is t
    assert t.to("cpu", nncore.float64).dtype == np.float64
    assert float(t.sum()) == 21.0 and int(t[0, 0]) == 1
    assert nncore.Size([2, 3]).numel() == 6


def test_to_dtype_is_differentiable():
    a = nncore.randn(3, requires_grad=True)
    a.double().sum().backward()
    assert a.grad.dtype == np.float32


def test_dlpack_roundtrip_shares_memory():
    t = nncore.arange(6.0).reshape(2, 3)
    arr = np.from_dlpack(t)
    arr[0, 0] = 42
    assert t[0, 0].item() == 42
    back = nncore.from_dlpack(arr)
    back.data[1, 1] = -1
    assert t[1, 1].item() == -1
    torch = pytest.importorskip("torch")
    tt = torch.arange(4.0)
    ours = nncore.from_dlpack(tt)
    tt[2] = 9
    assert ours[2].item() == 9
    assert torch.from_dlpack(t)[0, 0].item() == 42


def test_cuda_request_without_gpu_is_a_clear_error():
    if nncore.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(Exception):
        nncore.zeros(2).to("cuda")
    with pytest.raises(ValueError, match="device"):
        nncore.zeros(2).to(device="tpu")


def test_repr_reads_like_torch():
    assert repr(nncore.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(nncore.ones(2, requires_grad=True))
    assert "grad_fn=<mulBackward>" in repr(nncore.ones(2, requires_grad=True) * 2)
    assert "dtype=float64" in repr(nncore.ones(2, dtype=nncore.float64))


@pytest.mark.parametrize("index", [
    (1,), (slice(None), 2), (slice(1, None), slice(None, None, 2)), (Ellipsis, 1), (None, 0),
    ([0, 2, 2],), (slice(None), [3, 0]), ([0, 1], [1, 2]), (-1, -1),
])
def test_indexing_matches_numpy(rng, index):
    a = rng.standard_normal((3, 4, 2))
    t = nncore.tensor(a)
    np.testing.assert_array_equal(t[index if len(index) > 1 else index[0]].numpy(),
                                  a[index if len(index) > 1 else index[0]])


def test_tensor_and_bool_mask_indices():
    a = nncore.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(a[nncore.tensor([2, 0])].numpy(), a.numpy()[[2, 0]])
    np.testing.assert_array_equal(a[a > 5].numpy(), np.arange(6, 12))


def test_comparisons_return_bool_tensors():
    a = nncore.tensor([1.0, 2.0, 3.0])
    assert (a > 1.5).dtype == np.bool_
    assert (a == nncore.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    assert a.argmax().item() == 2
    assert a.equal(nncore.tensor([1.0, 2.0, 3.0])) and a.allclose(a + 1e-9)


def test_inplace_ops_change_values_and_versions():
    a = nncore.zeros(3)
    v = a._version
    a.add_(2).mul_(3).sub_(1).div_(5)
    np.testing.assert_allclose(a.numpy(), [1, 1, 1])
    a += 1
    a *= 2
    a[0] = 10
    a.clamp_(max=5)
    np.testing.assert_allclose(a.numpy(), [5, 4, 4])
    assert a._version > v
    a.zero_()
    assert a.numpy().sum() == 0
    a.fill_(2).copy_(nncore.tensor([1.0, 2.0, 3.0]))
    assert a.tolist() == [1, 2, 3]
    a.uniform_(-1, 1)
    assert (a.numpy() >= -1).all()


def test_views_share_memory_and_version():
    a = nncore.zeros(2, 3)
    v = a.view(6)
    r = a.reshape(3, 2)
    tr = a.t()
    v[0] = 5
    assert a[0, 0].item() == 5 and r[0, 0].item() == 5 and tr[0, 0].item() == 5
    assert a._version == v._version == 1
    with pytest.raises(RuntimeError, match="view"):
        a.t().view(6)


def test_split_chunk_unbind_shapes():
    a = nncore.arange(10).reshape(2, 5)
    assert [p.shape[1] for p in a.split(2, 1)] == [2, 2, 1]
    assert [p.shape[1] for p in a.chunk(2, 1)] == [3, 2]
    assert [p.shape for p in a.unbind(0)] == [(5,), (5,)]
    with pytest.raises(ValueError, match="add up"):
        a.split([1, 1], 1)


def test_reductions_match_numpy(rng):
    a = rng.standard_normal((3, 4, 5))
    t = nncore.tensor(a)
    np.testing.assert_allclose(t.sum((0, 2)).numpy(), a.sum((0, 2)))
    np.testing.assert_allclose(t.mean(1, keepdim=True).numpy(), a.mean(1, keepdims=True))
    np.testing.assert_allclose(t.var(2).numpy(), a.var(2, ddof=1))
    np.testing.assert_allclose(t.std(0, unbiased=False).numpy(), a.std(0))
    values, indices = t.max(1)
    np.testing.assert_array_equal(values.numpy(), a.max(1))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(1))
    np.testing.assert_allclose(t.logsumexp(2).numpy(), np.log(np.exp(a).sum(2)))


def test_bad_arguments_raise_clear_errors():
    a = nncore.zeros(2, 3)
    with pytest.raises(IndexError, match="out of range"):
        a.sum(5)
    with pytest.raises(TypeError, match="dim"):
        a.sum(1.5)
    with pytest.raises(ValueError, match="permutation"):
        a.permute(0, 0)
    with pytest.raises(RuntimeError, match="floating"):
        nncore.zeros(2, dtype=nncore.int64).requires_grad_()
    with pytest.raises(ValueError, match="matmul"):
        nncore.tensor(1.0) @ a
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(a)


def test_sort_topk_cumsum_and_rounding(rng):
    a = rng.standard_normal((3, 5))
    t = nncore.tensor(a)
    values, indices = t.sort(1, descending=True)
    np.testing.assert_array_equal(indices.numpy(), np.argsort(-a, 1, kind="stable"))
    np.testing.assert_array_equal(values.numpy(), -np.sort(-a, 1))
    top = t.topk(2, 1)
    np.testing.assert_array_equal(top.values.numpy(), -np.sort(-a, 1)[:, :2])
    assert top.indices.dtype == np.int64
    np.testing.assert_array_equal(nncore.argsort(t, 0).numpy(), np.argsort(a, 0, kind="stable"))
    np.testing.assert_allclose(t.cumsum(0).numpy(), np.cumsum(a, 0))
    np.testing.assert_array_equal(t.floor().numpy(), np.floor(a))
    np.testing.assert_array_equal(nncore.ceil(t).numpy(), np.ceil(a))


def test_new_factories_follow_the_source_tensor():
    src = nncore.ones(2, dtype=nncore.float64)
    assert src.new_zeros(3, 4).shape == (3, 4) and src.new_zeros(3).dtype == np.float64
    assert src.new_ones((2,)).numpy().tolist() == [1, 1]
    assert src.new_full((2,), 3.0).numpy().tolist() == [3, 3]
    assert src.new_tensor([1, 2]).dtype == np.float64
    assert src.new_empty(5).shape == (5,)
