"""ops.gemm / ops.matmul against a float64 NumPy reference, every twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import ops

from support import isa, poisoned


def reference(a, b, trans_a, trans_b, alpha, beta, c):
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    if trans_a:
        a64 = a64.swapaxes(-1, -2)
    if trans_b:
        b64 = b64.swapaxes(-1, -2)
    prod = alpha * (a64 @ b64)
    return prod if beta == 0 else prod + beta * c.astype(np.float64)


def magnitude(a, b, trans_a, trans_b, alpha=1.0, beta=0.0, c=None):
    """|alpha| |op(a)| @ |op(b)| + |beta c|: the scale float32 rounding error is relative to."""
    return reference(np.abs(a), np.abs(b), trans_a, trans_b, abs(alpha), abs(beta),
                     None if c is None else np.abs(c))


def operands(rng, m, n, k, trans_a, trans_b, dtype=np.float32, batch=None):
    lead = () if batch is None else (batch,)
    a = rng.standard_normal(lead + ((k, m) if trans_a else (m, k))).astype(dtype)
    b = rng.standard_normal(lead + ((n, k) if trans_b else (k, n))).astype(dtype)
    return a, b


def assert_close(got, want, k, scale, dtype=np.float32):
    eps = np.finfo(dtype).eps
    # rounding error of a length-k dot product grows like sqrt(k) * eps * sum |terms|
    tol = 4 * eps * np.sqrt(max(k, 1)) * (scale + 1e-30)
    assert np.all(np.isfinite(got)), "unwritten (NaN-poisoned) output elements"
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / (scale + 1e-30))


SIZES = [1, 2, 3, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33, 47]


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_sizes_around_the_tiles(each_isa, rng, trans_a, trans_b):
    for m in SIZES:
        n = SIZES[(SIZES.index(m) * 7 + 3) % len(SIZES)]
        k = SIZES[(SIZES.index(m) * 5 + 1) % len(SIZES)]
        a, b = operands(rng, m, n, k, trans_a, trans_b)
        out = poisoned((m, n))
        ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b, out=out)
        assert_close(out, reference(a, b, trans_a, trans_b, 1.0, 0.0, None), k, magnitude(a, b, trans_a, trans_b))


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_random_shapes_up_to_300(each_isa, rng, trans_a, trans_b):
    for _ in range(6):
        m, n, k = rng.integers(1, 301, size=3)
        alpha = float(rng.uniform(-2, 2))
        beta = float(rng.choice([0.0, 1.0, rng.uniform(-2, 2)]))
        a, b = operands(rng, m, n, k, trans_a, trans_b)
        c = rng.standard_normal((m, n)).astype(np.float32)
        want = reference(a, b, trans_a, trans_b, alpha, beta, c)
        scale = magnitude(a, b, trans_a, trans_b, alpha, beta, c)
        ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=c)
        assert_close(c, want, k, scale)


def test_large_blocks_cross_every_cache_block(each_isa, rng):
    # spans several MC, KC and NC blocks of both SIMD twins, with ragged edges
    m, n, k = 517, 3203, 611
    a, b = operands(rng, m, n, k, False, False)
    out = poisoned((m, n))
    ops.gemm(a, b, out=out)
    assert_close(out, reference(a, b, False, False, 1.0, 0.0, None), k, magnitude(a, b, False, False))


def test_beta_zero_ignores_nan_in_out(each_isa, rng):
    a, b = operands(rng, 20, 19, 18, False, False)
    out = poisoned((20, 19))
    ops.gemm(a, b, beta=0.0, out=out)
    assert np.all(np.isfinite(out))


def test_k_zero_scales_out_by_beta(each_isa, rng):
    a = np.empty((5, 0), np.float32)
    b = np.empty((0, 7), np.float32)
    c = rng.standard_normal((5, 7)).astype(np.float32)
    want = 0.5 * c
    ops.gemm(a, b, beta=0.5, out=c)
    np.testing.assert_allclose(c, want)
    assert np.array_equal(ops.gemm(a, b), np.zeros((5, 7), np.float32))


@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (0, 0, 0)])
def test_empty_outputs(each_isa, shape):
    m, n, k = shape
    out = ops.gemm(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
    assert out.shape == (m, n)


def test_float64_uses_portable_twin_exactly(rng):
    a, b = operands(rng, 37, 29, 41, False, True, dtype=np.float64)
    out = ops.gemm(a, b, trans_b=True)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, a @ b.T, rtol=1e-12, atol=1e-12)


def test_simd_twins_match_scalar(rng):
    a, b = operands(rng, 123, 77, 301, True, False)
    with isa("scalar"):
        want = ops.gemm(a, b, trans_a=True).copy()
    for name in ("avx2", "avx512"):
        if name not in nncore.build_info()["isa_compiled"]:
            continue
        if ["scalar", "avx2", "avx512"].index(name) > ["scalar", "avx2", "avx512"].index(
                nncore.build_info()["isa_supported"]):
            continue
        with isa(name):
            got = ops.gemm(a, b, trans_a=True)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_results_identical_across_runs_and_threads(rng):
    a, b = operands(rng, 300, 280, 260, False, False)
    before = nncore.get_num_threads()
    try:
        nncore.set_num_threads(2)
        first = ops.gemm(a, b).copy()
        assert np.array_equal(first, ops.gemm(a, b))
        nncore.set_num_threads(1)
        assert np.array_equal(first, ops.gemm(a, b))
    finally:
        nncore.set_num_threads(before)


def test_transposed_views_cost_no_copy_and_are_right(rng):
    a = rng.standard_normal((40, 30)).astype(np.float32)
    b = rng.standard_normal((50, 40)).astype(np.float32)
    got = ops.gemm(a.T, b.T)  # a.T: (30, 40), b.T: (40, 50), both F-ordered views
    assert_close(got, a.T.astype(np.float64) @ b.T.astype(np.float64), 40, np.abs(a.T) @ np.abs(b.T))


def test_strided_rows_are_accepted(rng):
    big = rng.standard_normal((30, 64)).astype(np.float32)
    a = big[:, 5:25]  # rows with stride 64, 20 columns
    b = rng.standard_normal((20, 9)).astype(np.float32)
    assert_close(ops.gemm(a, b), a.astype(np.float64) @ b, 20, np.abs(a).astype(np.float64) @ np.abs(b))


@pytest.mark.parametrize("a_batched, b_batched", [(True, True), (True, False), (False, True)])
def test_batched_matmul(each_isa, rng, a_batched, b_batched):
    a = rng.standard_normal((3, 13, 17) if a_batched else (13, 17)).astype(np.float32)
    b = rng.standard_normal((3, 17, 11) if b_batched else (17, 11)).astype(np.float32)
    got = ops.matmul(a, b)
    assert got.shape == (3, 13, 11)
    assert_close(got, a.astype(np.float64) @ b.astype(np.float64), 17, np.abs(a).astype(np.float64) @ np.abs(b))


def test_torch_agrees(rng):
    torch = pytest.importorskip("torch")
    a, b = operands(rng, 65, 33, 129, False, False)
    want = torch.from_numpy(a) @ torch.from_numpy(b)
    np.testing.assert_allclose(ops.gemm(a, b), want.numpy(), rtol=1e-4, atol=1e-4)


def test_dlpack_inputs_are_accepted(rng):
    torch = pytest.importorskip("torch")
    a = torch.randn(6, 5)
    b = torch.randn(5, 4)
    got = ops.matmul(a, b)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, (a @ b).numpy(), rtol=1e-5, atol=1e-5)


# --- the front door ---------------------------------------------------------

def test_errors_name_argument_and_expectation():
    f = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="gemm: a must be float32 or float64, got int64"):
        ops.gemm(np.ones((3, 4), np.int64), f.T)
    with pytest.raises(TypeError, match="gemm: b must have the dtype of a"):
        ops.gemm(f, np.ones((4, 2), np.float64))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        ops.gemm(f, f)
    with pytest.raises(ValueError, match="gemm: a must be 2-D"):
        ops.gemm(np.ones(3, np.float32), f)
    with pytest.raises(ValueError, match=r"gemm: out must have shape \(3, 3\)"):
        ops.gemm(f, f.T.copy(), out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="out is read-only"):
        out = np.empty((3, 3), np.float32)
        out.flags.writeable = False
        ops.gemm(f, f.T.copy(), out=out)
    with pytest.raises(ValueError, match="must not share memory"):
        sq = np.ones((4, 4), np.float32)
        ops.gemm(sq, sq.copy(), out=sq)
    with pytest.raises(ValueError, match="contiguous along its last axis"):
        ops.gemm(np.ones((4, 8), np.float32)[:, ::2], f)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        ops.gemm([[1.0]], f)
    with pytest.raises(ValueError, match="beta != 0 reads out"):
        ops.gemm(f, f.T.copy(), beta=1.0)
    with pytest.raises(ValueError, match="batch sizes"):
        ops.matmul(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32))


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.complex64])
_shape = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)


@settings(max_examples=150, deadline=None)
@given(sa=_shape, sb=_shape, da=_dtypes, db=_dtypes, ta=st.booleans(), tb=st.booleans(),
       step=st.integers(-2, 2).filter(lambda s: s != 0))
def test_front_door_never_crashes(sa, sb, da, db, ta, tb, step):
    a = np.ones(sa, da)
    b = np.ones(sb, db)
    if a.ndim >= 1:
        a = a[..., ::step]
    try:
        out = ops.gemm(a, b, trans_a=ta, trans_b=tb)
    except (ValueError, TypeError):
        return
    want = reference(a, b, ta, tb, 1.0, 0.0, None)
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-5)


# Narrow N (at most two 32-column panels, alpha 1): A is read in place by rows or
# by columns, only a last partial row tile packed; a last panel of at most 16 (AVX2: 8)
# columns runs the half-width kernel; a last partial row tile the 1/3 or 2/3-height one.
# M past one 192-row block and K past one 512-deep k block; beta != 0 reads C back.
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 0.5), (-0.75, 0.0)])
def test_narrow_n_and_row_remainders(each_isa, rng, trans_a, trans_b, alpha, beta):
    cases = [(12, 16, 9), (25, 8, 33), (37, 17, 520), (200, 31, 64), (401, 33, 17), (64, 48, 600),
             (26, 64, 70), (13, 65, 40), (34, 1, 515), (100, 5, 7)]
    for m, n, k in cases:
        a, b = operands(rng, m, n, k, trans_a, trans_b)
        c = rng.standard_normal((m, n)).astype(np.float32)
        out = c.copy() if beta else poisoned((m, n))
        ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out)
        want = reference(a, b, trans_a, trans_b, alpha, beta, c)
        assert_close(out, want, k, magnitude(a, b, trans_a, trans_b, alpha, beta, c if beta else None))


# Small M with wide N: every B panel packed on its own (transposed B through the
# 128-bit-load transposes) and the row remainders (M mod 12 of 1..11; AVX2: M mod 6).
@pytest.mark.parametrize("trans_b", [False, True])
def test_small_m_wide_n(each_isa, rng, trans_b):
    for m in [1, 4, 5, 8, 9, 11, 13, 20, 32, 64, 70]:
        n, k = 300 + m, 48 + 7 * m
        a, b = operands(rng, m, n, k, False, trans_b)
        out = poisoned((m, n))
        ops.gemm(a, b, trans_b=trans_b, out=out)
        assert_close(out, reference(a, b, False, trans_b, 1.0, 0.0, None), k, magnitude(a, b, False, trans_b))


# A view with a leading dimension larger than its rows: the in-place readers must
# step by lda, not by K (or M), and never touch the columns outside the view.
@pytest.mark.parametrize("trans_a", [False, True])
def test_in_place_a_with_padded_leading_dimension(each_isa, rng, trans_a):
    m, n, k = 50, 24, 70
    full = rng.standard_normal((k, m + 9) if trans_a else (m, k + 9)).astype(np.float32)
    a = full[:, :m] if trans_a else full[:, :k]
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = poisoned((m, n))
    ops.gemm(a, b, trans_a=trans_a, out=out)
    assert_close(out, reference(a, b, trans_a, False, 1.0, 0.0, None), k, magnitude(a, b, trans_a, False))


# The epilogue (bias per column, activation) on the new paths: narrow N with A in
# place, half-width panels, partial row tiles, more than one k block, every thread count.
@pytest.mark.parametrize("kind", ["tanh", "relu6"])
def test_epilogue_on_narrow_and_small_m_paths(each_isa, rng, kind):
    from test_epilogue import ref_act
    before = nncore.get_num_threads()
    try:
        for threads in (1, 2):
            nncore.set_num_threads(threads)
            for m, n, k in [(37, 16, 520), (250, 40, 33), (9, 100, 70), (64, 13, 600), (500, 64, 64)]:
                x = rng.standard_normal((m, k)).astype(np.float32)
                w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
                bias = rng.standard_normal(n).astype(np.float32)
                got = ops.linear(x, w, bias, activation=kind, out=poisoned((m, n)))
                z = x.astype(np.float64) @ w.T.astype(np.float64) + bias
                np.testing.assert_allclose(got, ref_act(z, kind), rtol=1e-4, atol=1e-4 * np.sqrt(k))
    finally:
        nncore.set_num_threads(before)


# Narrow N on two threads: each thread runs the serial driver on its own rows, with
# its own packed B; the result must be bit-identical to one thread and correct.
@pytest.mark.parametrize("trans_a", [False, True])
def test_narrow_n_row_split_matches_one_thread(each_isa, rng, trans_a):
    before = nncore.get_num_threads()
    try:
        for m, n, k in [(700, 20, 300), (1000, 64, 530), (390, 33, 700)]:
            a, b = operands(rng, m, n, k, trans_a, False)
            nncore.set_num_threads(2)
            two = ops.gemm(a, b, trans_a=trans_a, out=poisoned((m, n)))
            nncore.set_num_threads(1)
            one = ops.gemm(a, b, trans_a=trans_a, out=poisoned((m, n)))
            assert np.array_equal(one, two)
            assert_close(two, reference(a, b, trans_a, False, 1.0, 0.0, None), k, magnitude(a, b, trans_a, False))
    finally:
        nncore.set_num_threads(before)
