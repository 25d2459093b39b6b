"""ops.box_area / box_iou / nms / batched_nms against float64 NumPy references,
every CPU twin; NMS indices must match the plain greedy loop exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import ops

from support import isa, poisoned


# --- references (float64, the same operations in the same order as the kernels) ---

def ref_area(boxes):
    b = boxes.astype(np.float64)
    with np.errstate(over="ignore"):  # huge boxes: inf areas, as in the kernels
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def ref_iou_pair(a, b):
    """IoU of two boxes; 0 when both have zero area."""
    a = [float(v) for v in a]
    b = [float(v) for v in b]
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = w * h
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def ref_iou_one_to_many(box, boxes, area, areas):
    """IoU of one box with each of `boxes`, the pair formula applied elementwise."""
    w = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0)
    h = np.maximum(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0)
    with np.errstate(over="ignore", invalid="ignore"):  # huge boxes: inf - inf is NaN, IoU 0
        inter = w * h
        union = (area + areas) - inter
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def ref_iou(boxes1, boxes2):
    b1 = boxes1.astype(np.float64)
    b2 = boxes2.astype(np.float64)
    a1, a2 = ref_area(b1), ref_area(b2)
    out = np.empty((len(b1), len(b2)))
    for i in range(len(b1)):
        out[i] = ref_iou_one_to_many(b1[i], b2, a1[i], a2)
    return out


def ref_nms(boxes, scores, thr, idxs=None, score_threshold=None, top_k=None, max_output=None):
    """The greedy loop: candidates by decreasing score (ties: lower index first),
    kept unless a kept box of the same class has IoU > thr with them."""
    b = boxes.astype(np.float64)
    area = ref_area(b)
    n = len(b)
    labels = np.zeros(n, np.int64) if idxs is None else idxs
    cand = [i for i in range(n) if score_threshold is None or float(scores[i]) > score_threshold]
    cand.sort(key=lambda i: (-float(scores[i]), i))
    if top_k is not None:  # per class
        taken = {}
        capped = []
        for i in cand:
            c = int(labels[i])
            if taken.get(c, 0) < top_k:
                taken[c] = taken.get(c, 0) + 1
                capped.append(i)
        cand = capped
    kept_by_class = {}
    keep = []
    for i in cand:
        kept = kept_by_class.setdefault(int(labels[i]), [])
        if kept:
            k = np.array(kept)
            if np.any(ref_iou_one_to_many(b[i], b[k], area[i], area[k]) > thr):
                continue
        kept.append(i)
        keep.append(i)
    if max_output is not None:
        keep = keep[:max_output]
    return np.array(keep, np.int64)


# --- inputs ---

def random_boxes(rng, n, dtype=np.float32, span=1000.0, side=(10.0, 100.0)):
    centre = rng.uniform(0, span, (n, 2))
    size = rng.uniform(side[0], side[1], (n, 2))
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(dtype)


def clustered_boxes(rng, n, dtype=np.float32):
    """Boxes jittered around a few centres, sizes from 0.5 to 400 (several grid levels)."""
    centres = rng.uniform(0, 500, (5, 2))
    centre = centres[rng.integers(0, 5, n)] + rng.normal(0, 3, (n, 2))
    size = np.exp(rng.uniform(np.log(0.5), np.log(400), (n, 2)))
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(dtype)


def integer_boxes(rng, n, dtype=np.float32):
    """Small integer boxes: touching edges, equal boxes, zero-area boxes."""
    x1 = rng.integers(0, 8, (n, 2))
    size = rng.integers(0, 4, (n, 2))
    return np.concatenate([x1, x1 + size], axis=1).astype(dtype)


def row_boxes(rng, n, dtype=np.float32):
    """Boxes sharing one y range: IoU is the 1-D overlap ratio, so the NMS search
    window along x is tight (a too-narrow window shows here first)."""
    x1 = rng.uniform(0, 200, n)
    w = rng.choice(np.array([1.0, 2.0, 3.0, 4.5, 8.0, 20.0]), n) * rng.choice([1.0, 1.01, 0.99], n)
    y = np.zeros(n)
    return np.stack([x1, y, x1 + w, y + 1], axis=1).astype(dtype)


THRESHOLDS = [0.0, 0.3, 0.5, 0.7, 1.0]


# --- box_area, box_iou ---

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 17, 100])
def test_box_area(rng, dtype, n):
    boxes = random_boxes(rng, n, dtype)
    out = poisoned((n,), dtype)
    ops.box_area(boxes, out=out)
    np.testing.assert_allclose(out, ref_area(boxes), rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert ops.box_area(boxes).dtype == dtype


SIZES = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 47]


def test_box_iou_sizes_around_the_vectors(each_isa, rng):
    for n in SIZES:
        m = SIZES[(SIZES.index(n) * 5 + 3) % len(SIZES)]
        b1, b2 = random_boxes(rng, n, span=200), random_boxes(rng, m, span=200)
        out = poisoned((n, m))
        ops.box_iou(b1, b2, out=out)
        assert np.all(np.isfinite(out)), "unwritten (NaN-poisoned) output elements"
        np.testing.assert_allclose(out, ref_iou(b1, b2), rtol=1e-5, atol=1e-6)


def test_box_iou_pair_formula_by_loops(rng):
    b1 = integer_boxes(rng, 9)
    b2 = clustered_boxes(rng, 11)
    want = np.array([[ref_iou_pair(a, b) for b in b2] for a in b1])
    np.testing.assert_allclose(ops.box_iou(b1, b2), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ops.box_iou(b1.astype(np.float64), b2.astype(np.float64)), want)


def test_box_iou_twins_are_bit_identical(rng):
    b1, b2 = clustered_boxes(rng, 131), random_boxes(rng, 77, span=300)
    with isa("scalar"):
        want = ops.box_iou(b1, b2).copy()
    for name in ("avx2", "avx512"):
        if name in nncore.build_info()["isa_compiled"]:
            try:
                with isa(name):
                    got = ops.box_iou(b1, b2)
            except ValueError:  # the processor lacks it
                continue
            np.testing.assert_array_equal(got, want)


def test_box_iou_float64_is_exact_and_large_shapes(rng):
    b1, b2 = random_boxes(rng, 300, np.float64), random_boxes(rng, 20, np.float64)
    np.testing.assert_array_equal(ops.box_iou(b1, b2), ref_iou(b1, b2))
    b1, b2 = random_boxes(rng, 1000), random_boxes(rng, 1000)
    np.testing.assert_allclose(ops.box_iou(b1, b2), ref_iou(b1, b2), rtol=1e-5, atol=1e-6)


def test_box_iou_special_pairs():
    b = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 0, 4, 2], [5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 4, 4]], np.float32)
    got = ops.box_iou(b, b)
    assert got[0, 0] == 1 and got[0, 1] == pytest.approx(1 / 7) and got[0, 2] == 0  # touching edges: 0
    assert got[3, 4] == 0 and got[3, 3] == 0  # zero area on both sides: 0, not NaN
    assert got[0, 5] == pytest.approx(0.25)
    np.testing.assert_array_equal(got, got.T)


def test_box_iou_results_identical_across_threads(rng):
    b1, b2 = random_boxes(rng, 700), random_boxes(rng, 300)
    before = nncore.get_num_threads()
    try:
        nncore.set_num_threads(2)
        first = ops.box_iou(b1, b2).copy()
        nncore.set_num_threads(1)
        np.testing.assert_array_equal(first, ops.box_iou(b1, b2))
    finally:
        nncore.set_num_threads(before)


# --- nms ---

@pytest.mark.parametrize("n", [0, 1, 2, 17, 1000])
@pytest.mark.parametrize("thr", THRESHOLDS)
def test_nms_random_sizes_exact(each_isa, rng, n, thr):
    boxes = random_boxes(rng, n, span=300 if n > 100 else 100)
    scores = rng.random(n).astype(np.float32)
    got = ops.nms(boxes, scores, thr)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ref_nms(boxes, scores, thr))


@pytest.mark.parametrize("kind", ["clustered", "integer", "duplicates", "rows", "columns"])
@pytest.mark.parametrize("thr", THRESHOLDS + [-0.5])
def test_nms_hard_inputs_exact(each_isa, rng, kind, thr):
    n = 600
    if kind == "clustered":
        boxes = clustered_boxes(rng, n)
        scores = rng.random(n).astype(np.float32)
    elif kind == "integer":
        boxes = integer_boxes(rng, n)
        scores = rng.integers(0, 5, n).astype(np.float32)  # many equal scores
    elif kind in ("rows", "columns"):
        boxes = row_boxes(rng, n)
        if kind == "columns":
            boxes = boxes[:, [1, 0, 3, 2]].copy()
        scores = rng.random(n).astype(np.float32)
    else:
        base = random_boxes(rng, 40, span=150)
        boxes = base[rng.integers(0, 40, n)]  # every box many times over
        scores = rng.integers(0, 3, n).astype(np.float32)
    np.testing.assert_array_equal(ops.nms(boxes, scores, thr), ref_nms(boxes, scores, thr))


def test_nms_equal_scores_lower_index_first(rng):
    boxes = random_boxes(rng, 200, span=2000)  # mostly apart
    scores = np.zeros(200, np.float32)
    scores[::2] = -0.0  # -0 and +0 are equal scores
    got = ops.nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(got, ref_nms(boxes, scores, 0.5))
    assert np.all(np.diff(got) > 0)
    dup = np.tile(np.array([[1, 1, 5, 5]], np.float32), (5, 1))
    np.testing.assert_array_equal(ops.nms(dup, np.ones(5, np.float32), 0.5), [0])
    np.testing.assert_array_equal(ops.nms(dup, np.ones(5, np.float32), 1.0), [0, 1, 2, 3, 4])


@pytest.mark.parametrize("thr", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_nms_finds_suppressors_at_the_edge_of_reach(each_isa, rng, thr):
    """Pairs in one row whose IoU is just above thr, at the largest centre distance
    that allows it, among enough far-away boxes to use the grid."""
    s = thr / (1 + thr)
    boxes, scores = [], []
    for pair in range(12):
        w_q = rng.uniform(5, 50)
        w_k = w_q * [thr * 1.001, 0.5 + thr / 2, 1.0, 1.3, 0.999 / thr][pair % 5]
        ox = s * (w_q + w_k) * (1 + 1e-9)  # the overlap that makes IoU just exceed thr
        if ox >= min(w_q, w_k):
            continue
        d = (w_q + w_k) / 2 - ox  # centre distance with that overlap
        x = 1000.0 * pair
        cq = x + w_q / 2
        boxes += [[cq - w_q / 2, 0, cq + w_q / 2, 3], [cq + d - w_k / 2, 0, cq + d + w_k / 2, 3]]
        scores += [0.5, 0.9] if pair % 2 else [0.9, 0.5]
    filler = random_boxes(rng, 60, np.float64, span=300) + np.array([0, 500, 0, 500])
    boxes = np.concatenate([np.array(boxes), filler])
    scores = np.concatenate([scores, rng.random(60) * 0.4])
    want = ref_nms(boxes, scores, thr)
    assert len(want) < len(boxes) - 5  # the pairs do suppress
    np.testing.assert_array_equal(ops.nms(boxes, scores, thr), want)
    np.testing.assert_array_equal(ops.nms(boxes.astype(np.float32), scores.astype(np.float32), thr),
                                  ref_nms(boxes.astype(np.float32), scores.astype(np.float32), thr))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nms_large_exact(rng, dtype):
    boxes = random_boxes(rng, 5000, dtype)
    scores = rng.random(5000).astype(dtype)
    np.testing.assert_array_equal(ops.nms(boxes, scores, 0.5), ref_nms(boxes, scores, 0.5))


def test_nms_extreme_coordinates(rng):
    big = random_boxes(rng, 100, np.float64, span=1e150, side=(1e148, 1e149))
    tiny = random_boxes(rng, 100, np.float64, span=1e-150, side=(1e-152, 1e-151))
    far = np.array([[-1e300, -1e300, -1e300 + 1e290, -1e300 + 1e290], [1e300, 1e300, 1e300, 1e300],
                    [-1e300, -1e300, 1e300, 1e300], [-1e300, -1e300, 0, 0], [-1e150, -1e150, 1e150, 1e150]])
    boxes = np.concatenate([big, tiny, far])
    scores = rng.random(len(boxes))
    few = np.concatenate([big[:5], tiny[:5], far])  # few boxes: the one-bucket path
    for thr in (0.0, 0.5):
        np.testing.assert_array_equal(ops.nms(boxes, scores, thr), ref_nms(boxes, scores, thr))
        np.testing.assert_array_equal(ops.nms(few, scores[:len(few)], thr), ref_nms(few, scores[:len(few)], thr))


def test_nms_far_apart_clusters_and_points(rng):
    """Dense clusters far apart (the hashed grid) and zero-area boxes (never
    suppress, never suppressed for threshold >= 0)."""
    parts = [random_boxes(rng, 400, span=50, side=(1, 8)) + np.float32(offset)
             for offset in (0, 1e5, -3e5, 7e6)]
    points = np.repeat(rng.uniform(0, 50, (300, 2)), 2, axis=1)[:, [0, 2, 1, 3]].astype(np.float32)
    lines = random_boxes(rng, 100, span=50)
    lines[:, 3] = lines[:, 1]
    huge = random_boxes(rng, 60, span=1e5, side=(1e3, 1e6)) - np.float32(2e5)
    boxes = np.concatenate(parts + [points, lines, huge])
    scores = rng.random(len(boxes)).astype(np.float32)
    for thr in (0.0, 0.3, 0.5):
        got = ops.nms(boxes, scores, thr)
        np.testing.assert_array_equal(got, ref_nms(boxes, scores, thr))
        assert set(range(1600, 2000)) <= set(got.tolist())
    many_points = np.repeat(rng.uniform(0, 10, (20000, 2)), 2, axis=1)[:, [0, 2, 1, 3]]
    assert len(ops.nms(many_points, rng.random(20000), 0.5)) == 20000  # fast: points skip the grid


def test_nms_twins_and_threads_agree(rng):
    boxes, scores = clustered_boxes(rng, 3000), rng.random(3000).astype(np.float32)
    idxs = rng.integers(0, 5, 3000)
    with isa("scalar"):
        want = ops.nms(boxes, scores, 0.4).copy()
        want_batched = ops.batched_nms(boxes, scores, idxs, 0.4).copy()
    before = nncore.get_num_threads()
    try:
        for threads in (1, 2):
            nncore.set_num_threads(threads)
            np.testing.assert_array_equal(ops.nms(boxes, scores, 0.4), want)
            np.testing.assert_array_equal(ops.batched_nms(boxes, scores, idxs, 0.4), want_batched)
    finally:
        nncore.set_num_threads(before)


# --- batched_nms and the detection options ---

@pytest.mark.parametrize("labels", ["dense", "sparse", "one"])
@pytest.mark.parametrize("thr", [0.0, 0.5, 1.0])
def test_batched_nms_exact(each_isa, rng, labels, thr):
    n = 3000
    boxes = random_boxes(rng, n, span=400)
    scores = rng.integers(0, 50, n).astype(np.float32)  # equal scores across and within classes
    if labels == "dense":
        idxs = rng.integers(0, 21, n)
    elif labels == "sparse":
        idxs = rng.choice(np.array([-(2**62), -7, 3, 2**40, 2**62]), n)
    else:
        idxs = np.full(n, 9, np.int64)
    got = ops.batched_nms(boxes, scores, idxs, thr)
    np.testing.assert_array_equal(got, ref_nms(boxes, scores, thr, idxs=idxs))
    if labels == "one":
        np.testing.assert_array_equal(got, ops.nms(boxes, scores, thr))


@pytest.mark.parametrize("score_threshold", [None, 0.3])
@pytest.mark.parametrize("top_k", [None, 0, 1, 40])
@pytest.mark.parametrize("max_output", [None, 0, 5, 10**6])
def test_detection_options(rng, score_threshold, top_k, max_output):
    n = 500
    boxes = random_boxes(rng, n, span=300)
    scores = rng.random(n).astype(np.float32)
    idxs = rng.integers(0, 4, n)
    opts = dict(score_threshold=score_threshold, top_k=top_k, max_output=max_output)
    np.testing.assert_array_equal(ops.nms(boxes, scores, 0.45, **opts), ref_nms(boxes, scores, 0.45, **opts))
    np.testing.assert_array_equal(ops.batched_nms(boxes, scores, idxs, 0.45, **opts),
                                  ref_nms(boxes, scores, 0.45, idxs=idxs, **opts))


def test_empty_inputs_give_empty_outputs():
    e = np.empty((0, 4), np.float32)
    assert ops.box_area(e).shape == (0,)
    assert ops.box_iou(e, np.ones((3, 4), np.float32)).shape == (0, 3)
    assert ops.box_iou(np.ones((3, 4), np.float32), e).shape == (3, 0)
    for got in (ops.nms(e, np.empty(0, np.float32), 0.5),
                ops.batched_nms(e, np.empty(0, np.float32), np.empty(0, np.int64), 0.5),
                ops.nms(np.ones((3, 4), np.float32), np.ones(3, np.float32), 0.5, score_threshold=2.0)):
        assert got.shape == (0,) and got.dtype == np.int64


def test_strided_and_dlpack_inputs(rng):
    boxes = random_boxes(rng, 300, span=200)
    scores = rng.random(300).astype(np.float32)
    wide = np.zeros((300, 8), np.float32)
    wide[:, ::2] = boxes
    want = ref_nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(ops.nms(wide[:, ::2], np.repeat(scores, 2)[::2], 0.5), want)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5), want)


def test_torchvision_agrees(rng):
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    boxes = random_boxes(rng, 2000, span=500)
    scores = rng.random(2000).astype(np.float32)  # distinct scores: torchvision's order is ours
    idxs = rng.integers(0, 21, 2000)
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    np.testing.assert_array_equal(ops.nms(boxes, scores, 0.5), tv.ops.nms(tb, ts, 0.5).numpy())
    np.testing.assert_array_equal(ops.batched_nms(boxes, scores, idxs, 0.5),
                                  tv.ops.batched_nms(tb, ts, torch.from_numpy(idxs), 0.5).numpy())
    np.testing.assert_allclose(ops.box_iou(boxes[:300], boxes[300:]), tv.ops.box_iou(tb[:300], tb[300:]).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_torch_box_iou_formula_agrees(rng):
    torch = pytest.importorskip("torch")
    b1, b2 = torch.from_numpy(random_boxes(rng, 50, span=200)), torch.from_numpy(random_boxes(rng, 60, span=200))
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    want = inter / (area1[:, None] + area2 - inter)
    np.testing.assert_allclose(ops.box_iou(b1, b2), want.numpy(), rtol=1e-5, atol=1e-6)


# --- the front door ---

def test_bad_values_name_argument_and_row():
    good = np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]], np.float32)
    s = np.ones(3, np.float32)
    for bad_value, col in ((np.nan, 0), (np.inf, 2), (-np.inf, 1)):
        b = good.copy()
        b[2, col] = bad_value
        with pytest.raises(ValueError, match=r"nms: boxes row 2 is \("):
            ops.nms(b, s, 0.5)
        with pytest.raises(ValueError, match="box_iou: boxes2 row 2"):
            ops.box_iou(good, b)
        with pytest.raises(ValueError, match="box_area: boxes row 2"):
            ops.box_area(b)
    flipped = good.copy()
    flipped[1] = [1, 1, 0.5, 2]
    with pytest.raises(ValueError, match="batched_nms: boxes row 1 .*x1 <= x2"):
        ops.batched_nms(flipped, s, np.zeros(3, np.int64), 0.5)
    flipped[1] = [1, 1, 2, 0.5]
    with pytest.raises(ValueError, match="box_iou: boxes1 row 1"):
        ops.box_iou(flipped, good)
    with pytest.raises(ValueError, match=r"nms: scores\[1\] is nan"):
        ops.nms(good, np.array([1, np.nan, 1], np.float32), 0.5)
    with pytest.raises(ValueError, match=r"nms: scores\[0\] is inf"):
        ops.nms(good, np.array([np.inf, 1, 1], np.float32), 0.5)


def test_bad_arguments():
    b = np.ones((3, 4), np.float32)
    s = np.ones(3, np.float32)
    i = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="iou_threshold must be a finite number, got nan"):
        ops.nms(b, s, float("nan"))
    with pytest.raises(ValueError, match="iou_threshold must be a finite number"):
        ops.batched_nms(b, s, i, float("inf"))
    with pytest.raises(TypeError, match="iou_threshold must be a real number, got bool"):
        ops.nms(b, s, True)
    with pytest.raises(TypeError, match="iou_threshold must be a real number, got str"):
        ops.nms(b, s, "0.5")
    with pytest.raises(TypeError, match="nms: scores must have the dtype of boxes"):
        ops.nms(b, s.astype(np.float64), 0.5)
    with pytest.raises(TypeError, match="nms: boxes must be float32 or float64, got int64"):
        ops.nms(b.astype(np.int64), s, 0.5)
    with pytest.raises(ValueError, match=r"nms: scores must have shape \(3,\), got \(2,\)"):
        ops.nms(b, s[:2], 0.5)
    with pytest.raises(ValueError, match=r"nms: boxes must be 2-D \(N, 4\)"):
        ops.nms(np.ones((3, 5), np.float32), s, 0.5)
    with pytest.raises(TypeError, match="batched_nms: idxs must be int64, got int32"):
        ops.batched_nms(b, s, i.astype(np.int32), 0.5)
    with pytest.raises(ValueError, match=r"batched_nms: idxs must have shape \(3,\), got \(4,\)"):
        ops.batched_nms(b, s, np.zeros(4, np.int64), 0.5)
    with pytest.raises(TypeError, match="batched_nms: idxs must be an int64 array"):
        ops.batched_nms(b, s, None, 0.5)
    with pytest.raises(ValueError, match="top_k must be >= 0 or None, got -1"):
        ops.nms(b, s, 0.5, top_k=-1)
    with pytest.raises(ValueError, match="max_output must be >= 0 or None, got -2"):
        ops.batched_nms(b, s, i, 0.5, max_output=-2)
    with pytest.raises(TypeError, match="top_k must be an int or None, got float"):
        ops.nms(b, s, 0.5, top_k=2.0)
    with pytest.raises(ValueError, match="score_threshold must be a number or None, got nan"):
        ops.nms(b, s, 0.5, score_threshold=float("nan"))
    with pytest.raises(TypeError, match="box_iou: boxes2 must have the dtype of boxes1"):
        ops.box_iou(b, b.astype(np.float64))
    with pytest.raises(ValueError, match=r"box_iou: out must have shape \(3, 3\)"):
        ops.box_iou(b, b, out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="out is read-only"):
        out = np.empty(3, np.float32)
        out.flags.writeable = False
        ops.box_area(b, out=out)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        ops.box_area([[0, 0, 1, 1]])


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.float16, np.bool_])
_shape = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@settings(max_examples=150, deadline=None)
@given(sb=_shape, ss=_shape, si=_shape, db=_dtypes, ds=_dtypes, di=_dtypes, step=st.sampled_from([1, -1, 2]),
       thr=st.sampled_from([0.5, -1.0, 2.0, float("nan"), float("inf"), True, None]),
       op=st.sampled_from(["nms", "batched_nms", "box_iou", "box_area"]))
def test_front_door_never_crashes(sb, ss, si, db, ds, di, step, thr, op):
    boxes = np.arange(int(np.prod(sb)), dtype=np.float64).reshape(sb).astype(db)
    if boxes.ndim >= 1:
        boxes = boxes[::step]
    scores = np.ones(ss, ds)
    idxs = np.zeros(si, di)
    try:
        if op == "nms":
            got = ops.nms(boxes, scores, thr)
            want = ref_nms(boxes, scores, thr)
        elif op == "batched_nms":
            got = ops.batched_nms(boxes, scores, idxs, thr)
            want = ref_nms(boxes, scores, thr, idxs=idxs)
        elif op == "box_iou":
            got, want = ops.box_iou(boxes, scores), ref_iou(boxes, scores)
        else:
            got, want = ops.box_area(boxes), ref_area(boxes)
    except (ValueError, TypeError):
        return
    np.testing.assert_allclose(got, want, rtol=1e-6)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 2**32 - 1), classes=st.integers(1, 4),
       thr=st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.5, 2 / 3, 0.9, 1.0]), f64=st.booleans())
def test_nms_matches_greedy_on_integer_boxes(n, seed, classes, thr, f64):
    """Small integer boxes hit exact ties of IoU and threshold, touching edges and equal scores."""
    rng = np.random.default_rng(seed)
    dtype = np.float64 if f64 else np.float32
    boxes = integer_boxes(rng, n, dtype) if seed % 2 else row_boxes(rng, n, dtype).round()
    scores = rng.integers(0, 4, n).astype(dtype)
    idxs = rng.integers(0, classes, n)
    np.testing.assert_array_equal(ops.nms(boxes, scores, thr), ref_nms(boxes, scores, thr))
    np.testing.assert_array_equal(ops.batched_nms(boxes, scores, idxs, thr),
                                  ref_nms(boxes, scores, thr, idxs=idxs))


def test_c_level_checks_layout_and_outputs():
    """The wrappers copy strided inputs; _C itself refuses them and bad outputs."""
    b = np.ones((6, 4), np.float32)
    s = np.ones(6, np.float32)
    out = np.empty(6, np.int64)
    with pytest.raises(ValueError, match="nms: boxes must be C-contiguous"):
        nncore._C.nms(np.ones((6, 8), np.float32)[:, ::2], s, out, 0.5, None, None, None)
    with pytest.raises(ValueError, match="nms: scores must be C-contiguous"):
        nncore._C.nms(b, np.ones(12, np.float32)[::2], out, 0.5, None, None, None)
    with pytest.raises(TypeError, match="nms: out must be int64, got int32"):
        nncore._C.nms(b, s, np.empty(6, np.int32), 0.5, None, None, None)
    with pytest.raises(ValueError, match=r"nms: out must have shape \(6,\), got \(5,\)"):
        nncore._C.nms(b, s, np.empty(5, np.int64), 0.5, None, None, None)
    with pytest.raises(ValueError, match="batched_nms: out must not share memory with idxs"):
        idxs = np.zeros(6, np.int64)
        nncore._C.batched_nms(b, s, idxs, idxs, 0.5, None, None, None)
    with pytest.raises(ValueError, match="box_iou: out must be C-contiguous"):
        nncore._C.box_iou(b, b, np.empty((6, 12), np.float32)[:, ::2])
