"""CUDA batch_norm against the CPU twin, outputs poisoned: a block per channel
(256 threads) over N*L values fewer than, equal to and more than the block
(1, 7, 255, 256, 257, 3136 ...), running statistics updated on the device,
both backward formulas, no-affine and eval paths, the training-mode check."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

# (N, C, L)
SHAPES = [(2, 1, 1), (7, 3, 1), (5, 17, 7), (1, 2, 255), (16, 4, 16), (1, 3, 257), (17, 64, 1), (2, 5, 49),
          (3, 2, 3136), (64, 33, 1)]


def inputs(rng, n, c, l):
    x = (rng.standard_normal((n, c, l)) * 2 + rng.uniform(-3, 3, (1, c, 1))).astype(np.float32)
    g = rng.standard_normal((n, c, l)).astype(np.float32)
    w = rng.uniform(0.5, 2, c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    rm = (rng.standard_normal(c) * 0.5).astype(np.float32)
    rv = rng.uniform(0.5, 2, c).astype(np.float32)
    return x, g, w, b, rm, rv


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_cpu(rng, cupy, poisoned, assert_matches, training, affine):
    for n, c, l in SHAPES:
        x, g, w, b, rm, rv = inputs(rng, n, c, l)
        if not affine:
            w = b = None
        d = (lambda a: None if a is None else cupy.asarray(a))
        drm, drv = d(rm), d(rv)
        want = ops.batch_norm(x, rm, rv, w, b, training, 0.3, 1e-5)
        out, sm, si = poisoned((n, c, l), np.float32), poisoned((c,), np.float32), poisoned((c,), np.float32)
        got = ops.batch_norm(d(x), drm, drv, d(w), d(b), training, 0.3, 1e-5, out=out, save_mean=sm, save_invstd=si)
        assert got[0] is out
        msg = f"{(n, c, l)} training={training} affine={affine}"
        for ours, theirs in zip(got, want):
            assert_matches(ours, theirs, 2e-5, 2e-5, err_msg=msg)
        assert_matches(drm, rm, 2e-6, 2e-6, err_msg=msg)
        assert_matches(drv, rv, 2e-6, 2e-6, err_msg=msg)
        want_grads = ops.batch_norm_backward(g, x, w, want[1], want[2], training)
        gi, gw, gb = poisoned((n, c, l), np.float32), poisoned((c,), np.float32), poisoned((c,), np.float32)
        got_grads = ops.batch_norm_backward(d(g), d(x), d(w), sm, si, training, grad_input=gi, grad_weight=gw,
                                            grad_bias=gb)
        for ours, theirs in zip(got_grads, want_grads):
            assert_matches(ours, theirs, 5e-5, 5e-5, err_msg=msg)


def test_batch_norm_checks_on_the_device(rng, cupy):
    x = cupy.asarray(rng.standard_normal((1, 3, 1)).astype(np.float32))
    with pytest.raises(ValueError, match="more than 1 value"):
        ops.batch_norm(x, None, None, training=True)
    with pytest.raises(ValueError, match="running_mean"):
        ops.batch_norm(x, np.zeros(3, np.float32), np.ones(3, np.float32))
