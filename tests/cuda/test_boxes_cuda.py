"""CUDA box ops: box_area / box_iou bit-identical to the CPU twin with outputs
poisoned, nms and batched_nms giving exactly the CPU's indices (same float64
IoU, same tie rule: equal scores, lower index first), at box counts around
warp, block and 64-box tile multiples."""

import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.cuda

# one thread per box (area) or per column of boxes2 (IoU), 256 a block
THREAD_SIZES = [1, 31, 32, 33, 255, 256, 257, 1023, 1025]
# 64-box tiles of the suppression mask
TILE_SIZES = [0, 1, 2, 63, 64, 65, 127, 128, 129, 700]


def boxes_and_scores(rng, kind, n, dtype=np.float32):
    if kind == "uniform":
        centre = rng.uniform(0, 1000, (n, 2))
        side = rng.uniform(10, 100, (n, 2))
        scores = rng.random(n)
    elif kind == "clustered":
        centre = rng.uniform(0, 500, (5, 2))[rng.integers(0, 5, n)] + rng.normal(0, 3, (n, 2))
        side = np.exp(rng.uniform(np.log(0.5), np.log(400), (n, 2)))
        scores = rng.random(n)
    else:  # integer boxes (IoU exactly at thresholds), equal and signed-zero scores, duplicates
        centre = rng.integers(0, 8, (n, 2)).astype(np.float64)
        side = rng.integers(0, 4, (n, 2)).astype(np.float64)
        scores = rng.choice(np.array([-1.5, -0.0, 0.0, 0.5, 2.0]), n)
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1)
    return boxes.astype(dtype), scores.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_area_bit_identical_to_cpu(rng, cupy, poisoned, assert_matches, dtype):
    for n in [0] + THREAD_SIZES:
        boxes, _ = boxes_and_scores(rng, "clustered", n, dtype)
        out = poisoned((n,), dtype)
        assert ops.box_area(cupy.asarray(boxes), out=out) is out
        assert_matches(out, ops.box_area(boxes), err_msg=str(n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_iou_bit_identical_to_cpu(rng, cupy, poisoned, assert_matches, dtype):
    for i, m in enumerate([0] + THREAD_SIZES):
        n = [0, 1, 2, 3, 5, 7][i % 6]
        b1, _ = boxes_and_scores(rng, "clustered", n, dtype)
        b2, _ = boxes_and_scores(rng, ("uniform", "integer")[i % 2], m, dtype)
        same = min(n, m) // 2
        b1[:same] = b2[:same]  # IoU 1 (or 0 / 0 for empty boxes)
        out = poisoned((n, m), dtype)
        assert ops.box_iou(cupy.asarray(b1), cupy.asarray(b2), out=out) is out
        assert_matches(out, ops.box_iou(b1, b2), err_msg=f"{n} x {m}")


def test_box_iou_more_rows_than_the_grid_has(rng, cupy, poisoned, assert_matches):
    """The grid holds at most 65535 rows of boxes1; each block then loops."""
    b1, _ = boxes_and_scores(rng, "uniform", 65537)
    b2, _ = boxes_and_scores(rng, "uniform", 2)
    b2[1] = b1[-1]
    out = poisoned((65537, 2), np.float32)
    ops.box_iou(cupy.asarray(b1), cupy.asarray(b2), out=out)
    assert_matches(out, ops.box_iou(b1, b2))
    assert float(out[-1, 1]) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["uniform", "clustered", "integer"])
@pytest.mark.parametrize("thr", [-0.5, 0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_indices_identical_to_cpu(rng, cupy, poison_outputs, assert_matches, dtype, kind, thr):
    for n in TILE_SIZES:
        boxes, scores = boxes_and_scores(rng, kind, n, dtype)
        got = ops.nms(cupy.asarray(boxes), cupy.asarray(scores), thr)
        assert_matches(got, ops.nms(boxes, scores, thr), err_msg=str(n))


def test_equal_scores_keep_the_lower_index_first(cupy, assert_matches):
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[20, 20, 30, 30]] * 3, np.float32)
    for scores in ([1, 1, 1, 1, 1, 1], [0.0, -0.0, 0.0, -0.0, 0.0, -0.0], [2, 1, 2, 1, 2, 1]):
        scores = np.array(scores, np.float32)
        want = ops.nms(boxes, scores, 0.5)
        assert_matches(ops.nms(cupy.asarray(boxes), cupy.asarray(scores), 0.5), want)
        assert_matches(ops.nms(cupy.asarray(boxes), cupy.asarray(scores), 1.0), ops.nms(boxes, scores, 1.0))
    assert want.tolist() == [0, 4]


@pytest.mark.parametrize("score_threshold", [None, -1.0, 0.3])
@pytest.mark.parametrize("top_k", [None, 1, 40, 5000])
@pytest.mark.parametrize("max_output", [None, 0, 7])
def test_batched_nms_and_options_identical_to_cpu(rng, cupy, poison_outputs, assert_matches, score_threshold, top_k,
                                                  max_output):
    opts = dict(score_threshold=score_threshold, top_k=top_k, max_output=max_output)
    for kind, n in (("uniform", 1500), ("integer", 129)):
        boxes, scores = boxes_and_scores(rng, kind, n)
        scores = scores / max(np.abs(scores).max(), 1)
        idxs = rng.choice(np.array([-(2**40), -1, 0, 3, 20, 2**62]), n)
        db, ds, di = cupy.asarray(boxes), cupy.asarray(scores), cupy.asarray(idxs)
        assert_matches(ops.nms(db, ds, 0.5, **opts), ops.nms(boxes, scores, 0.5, **opts), err_msg=kind)
        assert_matches(ops.batched_nms(db, ds, di, 0.5, **opts), ops.batched_nms(boxes, scores, idxs, 0.5, **opts),
                       err_msg=kind)


def test_large_nms_identical_to_cpu(rng, cupy, poison_outputs, assert_matches):
    """4000 candidates: a 63 x 63 grid of 64-box mask tiles, classes interleaved."""
    boxes, scores = boxes_and_scores(rng, "uniform", 4000)
    idxs = rng.integers(0, 21, 4000)
    db, ds = cupy.asarray(boxes), cupy.asarray(scores)
    assert_matches(ops.nms(db, ds, 0.5), ops.nms(boxes, scores, 0.5))
    assert_matches(ops.batched_nms(db, ds, cupy.asarray(idxs), 0.5), ops.batched_nms(boxes, scores, idxs, 0.5))


def test_bad_values_on_the_device_name_the_row(cupy):
    boxes = cupy.asarray(np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 1, 3]], np.float32))
    with pytest.raises(ValueError, match=r"nms: boxes row 2 is \(2, 2, 1, 3\)"):
        ops.nms(boxes, cupy.ones(3, cupy.float32), 0.5)
    good = cupy.asarray(np.array([[0, 0, 1, 1], [1, 1, 2, 2]], np.float32))
    with pytest.raises(ValueError, match=r"nms: scores\[1\] is nan"):
        ops.nms(good, cupy.asarray(np.array([1, np.nan], np.float32)), 0.5)
    with pytest.raises(ValueError, match="must be on the device of boxes"):
        ops.nms(good, np.ones(2, np.float32), 0.5)
