"""CUDA gemm against the CPU twin, at sizes around warp and tile multiples."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

SIZES = [1, 31, 32, 33, 63, 64, 65, 127, 1023]


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_cpu(cupy, rng, poisoned, trans_a, trans_b, dtype):
    for m in SIZES:
        n = SIZES[(SIZES.index(m) + 3) % len(SIZES)]
        k = SIZES[(SIZES.index(m) + 5) % len(SIZES)]
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
        c = rng.standard_normal((m, n)).astype(dtype)
        want = ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-1.5, out=c.copy())
        out = poisoned((m, n), dtype)
        out[...] = cupy.asarray(c)  # beta reads it; the guards around it catch writes past its ends
        got = ops.gemm(cupy.asarray(a), cupy.asarray(b), trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-1.5,
                       out=out)
        assert got is out
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=tol, atol=tol * np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset,extra", [(0, 0), (1, 0), (0, 1), (2, 3), (4, 4)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True)])
def test_strided_and_unaligned_views(cupy, rng, poisoned, dtype, offset, extra, trans_a, trans_b):
    """Row steps and base addresses that are, and are not, whole 16-byte vectors:
    the kernel reads 4 elements at once only where that is aligned."""
    m, n, k, batch = 37, 70, 45, 3

    def view(rows, cols):
        parent = cupy.asarray(rng.standard_normal((batch, rows + 1, cols + offset + extra)).astype(dtype))
        return parent[:, 1:, offset:offset + cols]

    a = view(k, m) if trans_a else view(m, k)
    b = view(n, k) if trans_b else view(k, n)
    a_op = a.swapaxes(1, 2) if trans_a else a
    b_op = b.swapaxes(1, 2) if trans_b else b
    got = ops.gemm(a_op, b_op, out=poisoned((batch, m, n), dtype))
    want = np.matmul(cupy.asnumpy(a_op).astype(np.float64), cupy.asnumpy(b_op).astype(np.float64))
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=tol, atol=tol * np.sqrt(k))


def test_poisoned_output_fully_written(cupy, rng):
    a = cupy.asarray(rng.standard_normal((65, 33)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((33, 127)).astype(np.float32))
    out = cupy.full((65, 127), np.nan, np.float32)
    ops.gemm(a, b, out=out)
    assert bool(cupy.isfinite(out).all())


def test_batched_and_returns_cupy(cupy, rng):
    a = rng.standard_normal((3, 17, 9)).astype(np.float32)
    b = rng.standard_normal((9, 5)).astype(np.float32)
    got = ops.matmul(cupy.asarray(a), cupy.asarray(b))
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(got), ops.matmul(a, b), rtol=1e-4, atol=1e-4)


def test_runs_on_current_stream(cupy, rng):
    a = cupy.asarray(rng.standard_normal((256, 256)).astype(np.float32))
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        out = ops.gemm(a, a)
    stream.synchronize()
    np.testing.assert_allclose(cupy.asnumpy(out), cupy.asnumpy(a) @ cupy.asnumpy(a), rtol=1e-3, atol=1e-3)


def test_mixed_devices_rejected(cupy):
    with pytest.raises(ValueError, match="must be on the device of a"):
        ops.gemm(cupy.ones((2, 2), np.float32), np.ones((2, 2), np.float32), out=cupy.empty((2, 2), np.float32))


def test_dlpack_from_torch_cuda(cupy, rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    a = torch.randn(8, 4, device="cuda")
    b = torch.randn(4, 3, device="cuda")
    got = ops.matmul(a, b)
    np.testing.assert_allclose(cupy.asnumpy(got), (a @ b).cpu().numpy(), rtol=1e-4, atol=1e-4)
