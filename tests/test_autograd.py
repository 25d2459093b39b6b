"""Autograd: gradcheck (float64 finite differences) on every differentiable
Tensor op, broadcasting, accumulation, graph freeing, grad mode and version
counters; PyTorch as a second oracle where it is installed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import gradcheck


pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def t64(rng, *shape, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return nncore.tensor(a, requires_grad=True)


# (name, function of the inputs, input shapes, positive inputs)
OPS = [
    ("add_broadcast", lambda a, b: a + b, [(3, 4), (4,)], False),
    ("add_scalar", lambda a: 2.5 + a, [(3,)], False),
    ("sub_broadcast", lambda a, b: a - b, [(2, 1, 4), (3, 1)], False),
    ("rsub", lambda a: 1.0 - a, [(5,)], False),
    ("mul_broadcast", lambda a, b: a * b, [(3, 4), (3, 1)], False),
    ("div", lambda a, b: a / b, [(3, 4), (4,)], True),
    ("rdiv", lambda a: 2.0 / a, [(3, 4)], True),
    ("neg", lambda a: -a, [(3,)], False),
    ("pow_scalar", lambda a: a ** 3, [(3, 4)], False),
    ("pow_frac", lambda a: a ** 0.5, [(3, 4)], True),
    ("pow_tensor", lambda a, b: a ** b, [(3, 4), (4,)], True),
    ("rpow", lambda a: 2.0 ** a, [(3,)], False),
    ("matmul_2d", lambda a, b: a @ b, [(3, 5), (5, 4)], False),
    ("matmul_3d", lambda a, b: a @ b, [(2, 3, 5), (2, 5, 4)], False),
    ("matmul_bcast", lambda a, b: a @ b, [(2, 3, 5), (5, 4)], False),
    ("matmul_4d", lambda a, b: a @ b, [(2, 1, 3, 5), (3, 5, 2)], False),
    ("matmul_vec", lambda a, b: a @ b, [(5,), (5, 4)], False),
    ("matvec", lambda a, b: a @ b, [(3, 5), (5,)], False),
    ("exp", lambda a: a.exp(), [(3, 4)], False),
    ("log", lambda a: a.log(), [(3, 4)], True),
    ("log1p", lambda a: a.log1p(), [(3, 4)], True),
    ("sqrt", lambda a: a.sqrt(), [(3, 4)], True),
    ("rsqrt", lambda a: a.rsqrt(), [(3, 4)], True),
    ("abs", lambda a: a.abs(), [(3, 4)], False),
    ("sin_cos", lambda a: a.sin() * a.cos(), [(3, 4)], False),
    ("tanh", lambda a: a.tanh(), [(3, 4)], False),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)], False),
    ("relu", lambda a: a.relu(), [(3, 4)], False),
    ("clamp", lambda a: a.clamp(-0.3, 0.4), [(3, 4)], False),
    ("clamp_min", lambda a: nncore.clamp(a, min=0.1), [(3, 4)], False),
    ("sum_all", lambda a: a.sum(), [(3, 4)], False),
    ("sum_dim", lambda a: a.sum(1), [(3, 4, 2)], False),
    ("sum_dims_keep", lambda a: a.sum((0, 2), keepdim=True), [(3, 4, 2)], False),
    ("mean_dim", lambda a: a.mean(-1), [(3, 4)], False),
    ("mean_all", lambda a: a.mean(), [(3, 4)], False),
    ("var_dim", lambda a: a.var(1), [(3, 4)], False),
    ("var_biased_keep", lambda a: a.var(0, unbiased=False, keepdim=True), [(3, 4)], False),
    ("std", lambda a: a.std(), [(3, 4)], False),
    ("max_dim", lambda a: a.max(1)[0], [(3, 4)], False),
    ("max_all", lambda a: a.max(), [(3, 4)], False),
    ("min_dim_keep", lambda a: a.min(0, keepdim=True).values, [(3, 4)], False),
    ("maximum", lambda a, b: nncore.maximum(a, b), [(3, 4), (3, 4)], False),
    ("logsumexp", lambda a: a.logsumexp(1), [(3, 4)], False),
    ("prod", lambda a: a.prod(1), [(3, 4)], False),
    ("norm", lambda a: a.norm(), [(3, 4)], False),
    ("reshape", lambda a: a.reshape(4, 3) * 2, [(3, 4)], False),
    ("view", lambda a: a.view(-1, 2) * 2, [(3, 4)], False),
    ("flatten", lambda a: a.flatten(1), [(2, 3, 4)], False),
    ("transpose", lambda a: a.transpose(0, 2) * 2, [(2, 3, 4)], False),
    ("T", lambda a: a.T * 2, [(3, 4)], False),
    ("permute", lambda a: a.permute(2, 0, 1) * 2, [(2, 3, 4)], False),
    ("squeeze", lambda a: a.squeeze(1) * 2, [(3, 1, 4)], False),
    ("unsqueeze", lambda a: a.unsqueeze(-1) * 2, [(3, 4)], False),
    ("expand", lambda a: a.expand(2, 3, 4) * 2, [(3, 1)], False),
    ("repeat", lambda a: a.repeat(2, 3), [(3, 4)], False),
    ("flip", lambda a: a.flip(1) * 2, [(3, 4)], False),
    ("getitem_basic", lambda a: a[1:, ::2] * 2, [(3, 4)], False),
    ("getitem_int", lambda a: a[1] * 2, [(3, 4)], False),
    ("getitem_repeated", lambda a: a[[0, 2, 0, 0]] * 2, [(3, 4)], False),
    ("getitem_pairs", lambda a: a[[0, 1, 0], [2, 2, 2]] * 2, [(3, 4)], False),
    ("getitem_mask", lambda a: a[a.detach() > 0] * 2, [(3, 4)], False),
    ("getitem_mixed", lambda a: a[:, [3, 0, 3]] * 2, [(3, 4)], False),
    ("gather", lambda a: a.gather(1, nncore.tensor([[0, 0], [3, 1], [2, 2]])) * 2, [(3, 4)], False),
    ("cat", lambda a, b: nncore.cat([a, b, a], 1), [(3, 4), (3, 2)], False),
    ("stack", lambda a, b: nncore.stack([a, b], 1), [(3, 4), (3, 4)], False),
    ("split", lambda a: a.split([1, 3], 1)[1] * 2, [(3, 4)], False),
    ("chunk", lambda a: a.chunk(2, 0)[0] * 2, [(3, 4)], False),
    ("where", lambda a, b: nncore.where(a.detach() > 0, a, b), [(3, 4), (4,)], False),
    ("pad", lambda a: nncore.functional.pad(a, (1, 2, 0, 1), value=0.5), [(2, 3, 4)], False),
    ("pad_crop", lambda a: nncore.functional.pad(a, (-1, 2)), [(2, 3, 4)], False),
    ("pad_reflect", lambda a: nncore.functional.pad(a, (2, 1), mode="reflect"), [(2, 3, 4)], False),
    ("pad_replicate", lambda a: nncore.functional.pad(a, (1, 1, 2, 0), mode="replicate"), [(2, 3, 4)], False),
    ("clone", lambda a: a.clone() * 2, [(3,)], False),
    ("masked_fill", lambda a: a.masked_fill(a.detach() > 0, 1.5), [(3, 4)], False),
    ("sort", lambda a: a.sort(1, descending=True)[0] * 2, [(3, 4)], False),
    ("topk", lambda a: a.topk(2, 0)[0] * 2, [(3, 4)], False),
    ("cumsum", lambda a: a.cumsum(1), [(3, 4)], False),
    ("floor", lambda a: a.floor() + a, [(3, 4)], False),
    ("index_select", lambda a: a.index_select(1, nncore.tensor([2, 0, 2])) * 2, [(3, 4)], False),
    ("movedim", lambda a: a.movedim(0, 2) * 2, [(2, 3, 4)], False),
    ("unflatten", lambda a: a.unflatten(1, (2, 2)) * 2, [(3, 4)], False),
    ("min_all", lambda a: a.min(), [(3, 4)], False),
    ("minimum", lambda a, b: nncore.minimum(a, b), [(3, 4), (3, 4)], False),
    ("unbind", lambda a: a.unbind(1)[2] * 2, [(3, 4)], False),
    ("t", lambda a: a.t() * 2, [(3, 4)], False),
    ("amax", lambda a: a.amax(1), [(3, 4)], False),
    ("contiguous", lambda a: a.t().contiguous() * 2, [(3, 4)], False),
    ("copy_into_buffer", lambda a: nncore.zeros(2, 3, 4, dtype=nncore.float64).copy_(a) * 2, [(3, 4)], False),
    ("inplace_chain", lambda a: (a * 1).mul_(a).add_(a).div_(2.0).exp_(), [(3, 4)], False),
]


CALLS_NNCORE = {
    "minimum", "copy_into_buffer", "inplace_chain", "index_select", "gather", "getitem_mask", "where",
    "masked_fill", "clamp_min", "maximum", "cat", "stack", "pad", "pad_crop", "pad_reflect", "pad_replicate"
}


@pytest.mark.parametrize("name,fn,shapes,positive", OPS, ids=[o[0] for o in OPS])
def test_gradcheck(rng, name, fn, shapes, positive):
    inputs = [t64(rng, *s, positive=positive) for s in shapes]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name,fn,shapes,positive", OPS, ids=[o[0] for o in OPS])
def test_against_torch(rng, name, fn, shapes, positive):
    torch = pytest.importorskip("torch")
    arrays = [np.abs(rng.standard_normal(s)) + 0.5 if positive else rng.standard_normal(s) for s in shapes]
    ours = [nncore.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if name in CALLS_NNCORE:
        pytest.skip("the op is written with nncore functions")
    out = fn(*ours)
    ref = fn(*theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = rng.standard_normal(ref.shape)
    (out * nncore.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_gradcheck_catches_a_wrong_gradient(rng):
    from nncore.tensor import _make

    def bad_square(x):
        return _make(x.data ** 2, (x,), lambda g: (g * x.data,))  # should be 2 x

    with pytest.raises(nncore.autograd.GradcheckError, match="differ"):
        gradcheck(bad_square, [t64(rng, 4)])
    assert gradcheck(bad_square, [t64(rng, 4)], raise_exception=False) is False


def test_broadcast_gradient_is_reduced_to_input_shape(rng):
    a = nncore.randn(2, 1, 4, requires_grad=True)
    b = nncore.randn(3, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 4) and b.grad.shape == (3, 1)
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.numpy().sum(), (2, 1, 4)), rtol=1e-6)


def test_repeated_indices_accumulate():
    a = nncore.zeros(4, requires_grad=True)
    a[nncore.tensor([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0, 3, 0, 1])


def test_leaves_accumulate_across_backward_calls():
    a = nncore.tensor([1.0, 2.0], requires_grad=True)
    (a * 3).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_subgraph_runs_once_and_sums():
    a = nncore.tensor([1.5], requires_grad=True)
    b = a.exp()
    c = b * b + b
    c.backward()
    np.testing.assert_allclose(a.grad.numpy(), [2 * np.exp(3.0) + np.exp(1.5)], rtol=1e-6)


def test_graph_is_freed_unless_retained():
    a = nncore.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), [4, 8])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_needs_gradient_for_non_scalars():
    a = nncore.randn(3, requires_grad=True)
    y = a * 2
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()
    y.backward(nncore.ones(3))
    np.testing.assert_allclose(a.grad.numpy(), [2, 2, 2])
    with pytest.raises(RuntimeError, match="does not require grad"):
        nncore.ones(3).sum().backward()


def test_grad_is_private_per_leaf():
    a = nncore.randn(3, requires_grad=True)
    b = nncore.randn(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 5
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3, np.float32))


def test_no_grad_and_enable_grad():
    a = nncore.randn(3, requires_grad=True)
    with nncore.no_grad():
        y = a * 2
        assert not y.requires_grad and y.grad_fn is None
        with nncore.enable_grad():
            assert (a * 2).requires_grad
    assert (a * 2).requires_grad

    @nncore.no_grad()
    def f(x):
        return x * 2

    assert not f(a).requires_grad
    assert nncore.is_grad_enabled()


def test_comparisons_and_argmax_are_not_differentiable():
    a = nncore.randn(3, 4, requires_grad=True)
    for out in (a > 0, a == a, a.argmax(1), a.argmin(), a.max(1).indices):
        assert not out.requires_grad and out.grad_fn is None


def test_inplace_change_to_saved_tensor_raises():
    a = nncore.randn(3, requires_grad=True)
    b = nncore.randn(3)
    y = (a * b).sum()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_inplace_change_to_saved_output_raises():
    a = nncore.randn(3, requires_grad=True)
    e = a.exp()
    y = e.sum()
    with nncore.no_grad():
        e.add_(1)
    with pytest.raises(RuntimeError, match="exp"):
        y.backward()


def test_inplace_on_a_view_bumps_the_base_version():
    a = nncore.randn(3, 4, requires_grad=True)
    b = nncore.randn(3, 4)
    y = (a * b).sum()
    with nncore.no_grad():
        b[0].zero_()
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_inplace_on_a_leaf_that_requires_grad_raises():
    a = nncore.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        a.add_(1)
    with nncore.no_grad():
        a.add_(1)


def test_inplace_ops_on_non_leaves_are_recorded(rng):
    a = nncore.tensor(rng.standard_normal(4), requires_grad=True)
    h = a * 2
    h.mul_(a)       # h = 2 a^2
    h += 1
    h.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 4 * a.numpy(), rtol=1e-12)


def test_setitem_records_the_written_value(rng):
    a = nncore.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    buf = nncore.zeros(4, 3, dtype=nncore.float64)
    buf[1] = a[0] * 3
    buf[2:] = a.exp()
    (buf * nncore.tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    w = np.arange(12.0).reshape(4, 3)
    want = np.zeros((2, 3))
    want[0] += 3 * w[1]
    want += np.exp(a.numpy()) * w[2:]
    np.testing.assert_allclose(a.grad.numpy(), want, rtol=1e-12)


def test_gradcheck_on_setitem(rng):
    def fn(a, v):
        out = a * 1
        out[1:, [0, 2]] = v
        return out

    assert gradcheck(fn, [t64(rng, 3, 4), t64(rng, 2, 2)])


def test_detach_shares_memory_not_history():
    a = nncore.randn(3, requires_grad=True)
    d = (a * 2).detach()
    assert not d.requires_grad and d.is_leaf
    b = a.detach()
    b.data[0] = 7
    assert a.data[0] == 7


def test_autograd_grad_returns_without_accumulating():
    a = nncore.tensor([1.0, 2.0], requires_grad=True)
    (g,) = nncore.grad((a * a).sum(), [a])
    np.testing.assert_allclose(g.numpy(), [2, 4])
    assert a.grad is None


def test_float32_gradients_stay_float32():
    a = nncore.randn(3, requires_grad=True)
    (a * nncore.randn(3, dtype=nncore.float64)).sum().backward()
    assert a.grad.dtype == np.float32


def test_deep_chain_does_not_recurse():
    a = nncore.tensor([1.0], requires_grad=True)
    y = a
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    assert a.grad.item() == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.data())
def test_broadcast_add_mul_match_numpy(shape, data):
    """Random broadcast-compatible shapes: gradients equal the NumPy sums."""
    other = [data.draw(st.sampled_from([1, s])) for s in shape]
    other = other[data.draw(st.integers(0, len(other))):]
    rng = np.random.default_rng(len(shape))
    x = nncore.tensor(rng.standard_normal(shape), requires_grad=True)
    y = nncore.tensor(rng.standard_normal(other), requires_grad=True)
    out = x * y + x
    w = rng.standard_normal(out.shape)
    (out * nncore.tensor(w)).sum().backward()
    gx = np.broadcast_to(w * y.numpy() + w, out.shape)
    gy = w * x.numpy()
    lead = len(out.shape) - len(other)
    gy = gy.sum(axis=tuple(range(lead))) if lead else gy
    gy = gy.sum(axis=tuple(i for i, s in enumerate(other) if s == 1), keepdims=True).reshape(other)
    np.testing.assert_allclose(x.grad.numpy(), gx.reshape(x.shape), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), gy, rtol=1e-12, atol=1e-12)


class Cube(nncore.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad * ctx.scale, None


class SplitHalves(nncore.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        n = x.shape[0] // 2
        return x[:n] * 2, x[n:].exp()

    @staticmethod
    def backward(ctx, g_first, g_second):
        (x,) = ctx.saved_tensors
        return nncore.cat([g_first * 2, g_second * x[g_first.shape[0]:].exp()])


def test_custom_function(rng):
    x = t64(rng, 5)
    assert gradcheck(lambda x: Cube.apply(x, 0.5), [x])
    y = Cube.apply(x, 2.0)
    assert y.grad_fn is not None and "Cube" in repr(y.grad_fn)
    with nncore.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_custom_function_with_two_outputs(rng):
    x = t64(rng, 6)
    assert gradcheck(lambda x: SplitHalves.apply(x), [x])


def test_hooks_and_retain_grad():
    a = nncore.tensor([1.0, 2.0], requires_grad=True)
    h = a * 3
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = a.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(seen[0], 2 * h.detach().numpy())
    np.testing.assert_allclose(a.grad.numpy(), 10 * 3 * 2 * h.detach().numpy())
    handle.remove()
    a.grad = None
    a.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1, 1])
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="require grad"):
        nncore.ones(2).register_hook(lambda g: g)
