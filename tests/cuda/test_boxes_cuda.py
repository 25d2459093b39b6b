"""CUDA box ops: box_area / box_iou bit-identical to the CPU twin, nms and
batched_nms giving exactly the CPU's indices (same float64 IoU, same order)."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda


def boxes_and_scores(rng, kind, n, dtype=np.float32):
    if kind == "uniform":
        centre = rng.uniform(0, 1000, (n, 2))
        side = rng.uniform(10, 100, (n, 2))
        scores = rng.random(n)
    elif kind == "clustered":
        centre = rng.uniform(0, 500, (5, 2))[rng.integers(0, 5, n)] + rng.normal(0, 3, (n, 2))
        side = np.exp(rng.uniform(np.log(0.5), np.log(400), (n, 2)))
        scores = rng.random(n)
    else:  # integer boxes, equal scores, duplicates
        centre = rng.integers(0, 8, (n, 2)).astype(np.float64)
        side = rng.integers(0, 4, (n, 2)).astype(np.float64)
        scores = rng.integers(0, 4, n).astype(np.float64)
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1)
    return boxes.astype(dtype), scores.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_iou_and_area_bit_identical_to_cpu(dtype):
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (17, 33), (1000, 1000), (8732, 20), (0, 5)]:
        b1, _ = boxes_and_scores(rng, "clustered", n, dtype)
        b2, _ = boxes_and_scores(rng, "uniform", m, dtype)
        got = ops.box_iou(cp.asarray(b1), cp.asarray(b2))
        assert isinstance(got, cp.ndarray) and got.dtype == dtype
        np.testing.assert_array_equal(cp.asnumpy(got), ops.box_iou(b1, b2))
        np.testing.assert_array_equal(cp.asnumpy(ops.box_area(cp.asarray(b1))), ops.box_area(b1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["uniform", "clustered", "integer"])
@pytest.mark.parametrize("thr", [-0.5, 0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_indices_identical_to_cpu(dtype, kind, thr):
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 17, 1000, 5000):
        boxes, scores = boxes_and_scores(rng, kind, n, dtype)
        got = ops.nms(cp.asarray(boxes), cp.asarray(scores), thr)
        assert isinstance(got, cp.ndarray) and got.dtype == np.int64
        np.testing.assert_array_equal(cp.asnumpy(got), ops.nms(boxes, scores, thr))


@pytest.mark.parametrize("score_threshold", [None, 0.3])
@pytest.mark.parametrize("top_k", [None, 1, 40])
@pytest.mark.parametrize("max_output", [None, 7])
def test_batched_nms_and_options_identical_to_cpu(score_threshold, top_k, max_output):
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(2)
    opts = dict(score_threshold=score_threshold, top_k=top_k, max_output=max_output)
    for kind in ("uniform", "integer"):
        boxes, scores = boxes_and_scores(rng, kind, 3000)
        scores = scores / max(scores.max(), 1)
        idxs = rng.choice(np.array([-(2**40), 0, 3, 20, 2**62]), 3000)
        db, ds, di = cp.asarray(boxes), cp.asarray(scores), cp.asarray(idxs)
        np.testing.assert_array_equal(cp.asnumpy(ops.nms(db, ds, 0.5, **opts)), ops.nms(boxes, scores, 0.5, **opts))
        np.testing.assert_array_equal(cp.asnumpy(ops.batched_nms(db, ds, di, 0.5, **opts)),
                                      ops.batched_nms(boxes, scores, idxs, 0.5, **opts))


def test_large_nms_identical_to_cpu():
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(3)
    boxes, scores = boxes_and_scores(rng, "uniform", 50000)
    idxs = rng.integers(0, 21, 50000)
    np.testing.assert_array_equal(cp.asnumpy(ops.nms(cp.asarray(boxes), cp.asarray(scores), 0.5)),
                                  ops.nms(boxes, scores, 0.5))
    np.testing.assert_array_equal(
        cp.asnumpy(ops.batched_nms(cp.asarray(boxes), cp.asarray(scores), cp.asarray(idxs), 0.5)),
        ops.batched_nms(boxes, scores, idxs, 0.5))


def test_bad_values_on_the_device_name_the_row():
    cp = pytest.importorskip("cupy")
    boxes = cp.asarray(np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 1, 3]], np.float32))
    with pytest.raises(ValueError, match=r"nms: boxes row 2 is \(2, 2, 1, 3\)"):
        ops.nms(boxes, cp.ones(3, cp.float32), 0.5)
    good = cp.asarray(np.array([[0, 0, 1, 1], [1, 1, 2, 2]], np.float32))
    with pytest.raises(ValueError, match=r"nms: scores\[1\] is nan"):
        ops.nms(good, cp.asarray(np.array([1, np.nan], np.float32)), 0.5)
    with pytest.raises(ValueError, match="must be on the device of boxes"):
        ops.nms(good, np.ones(2, np.float32), 0.5)
