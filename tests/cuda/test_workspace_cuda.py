"""CUDA workspaces come from CuPy's allocator (cupy.cuda.alloc) and go back to
it; an allocation failure reaches the caller as CuPy's own exception."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda


def workloads(cupy, rng):
    x = cupy.asarray(rng.standard_normal((9, 33)).astype(np.float32))
    t = cupy.asarray(rng.integers(0, 33, 9))
    boxes = rng.random((200, 4)).astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    scores = rng.random(200).astype(np.float32)
    pool_x = cupy.asarray(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    y, idx = ops.max_pool2d(pool_x, 2, return_indices=True)
    return [
        lambda: ops.cross_entropy(x, t),
        lambda: ops.nms(cupy.asarray(boxes), cupy.asarray(scores), 0.5),
        lambda: ops.max_pool2d_backward(cupy.ones_like(y), idx, pool_x.shape, 2),
    ]


def test_workspaces_come_from_cupy_alloc(cupy, rng, monkeypatch):
    requested = []
    real_alloc = cupy.cuda.alloc

    def counting_alloc(nbytes):
        requested.append(nbytes)
        return real_alloc(nbytes)

    monkeypatch.setattr(cupy.cuda, "alloc", counting_alloc)
    for run in workloads(cupy, rng):
        before = len(requested)
        run()
        assert len(requested) > before


def test_allocation_failure_reaches_the_caller(cupy, rng, monkeypatch):
    class OutOfDeviceMemory(Exception):
        pass

    def failing_alloc(nbytes):
        raise OutOfDeviceMemory(f"{nbytes} bytes")

    runs = workloads(cupy, rng)
    monkeypatch.setattr(cupy.cuda, "alloc", failing_alloc)
    for run in runs:
        with pytest.raises(OutOfDeviceMemory):
            run()
