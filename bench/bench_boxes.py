"""Boxes: box_iou, nms and batched_nms (21 classes), nncore against a NumPy
vectorised greedy NMS (written here), PyTorch ops for box_iou, and torchvision
when it is installed. Boxes as in PERF.md: centres uniform in [0, 1000)^2, sides
10-100, scores uniform, IoU threshold 0.5. Allocator mode: nncore's box_iou writes
into a preallocated out=, the peers allocate (their temporaries dominate anyway);
nms outputs come from nncore's host cache."""

import numpy as np
import pytest

from nncore import ops

from benchutil import need_peer, run

THRESHOLD = 0.5


def make_boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 1000, (n, 2))
    side = rng.uniform(10, 100, (n, 2))
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1).astype(np.float32)
    scores = rng.random(n, dtype=np.float32)
    labels = rng.integers(0, 21, n)
    return boxes, scores, labels


def numpy_box_iou(b1, b2):
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = np.maximum(b1[:, None, :2], b2[None, :, :2])
    rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2 - inter)


def torch_box_iou(torch, b1, b2):
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2 - inter)


def numpy_nms(boxes, scores, threshold):
    """The vectorised greedy loop: keep the best remaining box, drop every
    remaining box with IoU > threshold against it, repeat. float64 IoU, so the
    result is the one nncore must give exactly."""
    b = boxes.astype(np.float64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x2 - x1) * (y2 - y1)
    order = np.lexsort((np.arange(len(b)), -scores.astype(np.float64)))  # score desc, index asc
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0.0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0.0)
        inter = w * h
        iou = inter / ((area[i] + area[rest]) - inter)
        order = rest[iou <= threshold]
    return np.array(keep, np.int64)


def numpy_batched_nms(boxes, scores, labels, threshold):
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        keep.append(members[numpy_nms(boxes[members], scores[members], threshold)])
    keep = np.concatenate(keep) if keep else np.empty(0, np.int64)
    return keep[np.lexsort((keep, -scores[keep].astype(np.float64)))]


def run_slow(benchmark, fn):
    """A peer taking seconds per call: one timed round (skipped in smoke runs)."""
    if benchmark.disabled:
        pytest.skip("slow peer: only timed in --benchmark-only runs")
    return benchmark.pedantic(fn, rounds=1, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("impl", ["nncore", "numpy", "torch"])
@pytest.mark.parametrize("nm", [(1000, 1000), (8732, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_box_iou(benchmark, threads, impl, nm):
    n, m = nm
    benchmark.group = f"box_iou {n}x{m} threads={threads}"
    b1, _, _ = make_boxes(n, seed=1)
    b2, _, _ = make_boxes(m, seed=2)
    out = np.empty((n, m), np.float32)
    if impl == "nncore":
        fn = lambda: ops.box_iou(b1, b2, out=out)
    elif impl == "numpy":
        fn = lambda: numpy_box_iou(b1, b2)
    else:
        torch = need_peer("torch")
        t1, t2 = torch.from_numpy(b1), torch.from_numpy(b2)
        fn = lambda: torch_box_iou(torch, t1, t2)
    got = run(benchmark, fn, bytes_moved=4.0 * n * m)
    if impl == "nncore":
        np.testing.assert_allclose(got, numpy_box_iou(b1.astype(np.float64), b2.astype(np.float64)),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", ["nncore", "numpy", "torchvision"])
@pytest.mark.parametrize("n", [1000, 10000, 50000])
def test_nms(benchmark, threads, impl, n):
    benchmark.group = f"nms {n} boxes threads={threads}"
    boxes, scores, _ = make_boxes(n)
    if impl == "nncore":
        got = run(benchmark, lambda: ops.nms(boxes, scores, THRESHOLD))
        benchmark.extra_info["kept"] = len(got)
        if n <= 10000:
            np.testing.assert_array_equal(got, numpy_nms(boxes, scores, THRESHOLD))
    elif impl == "numpy":
        if threads > 1:
            pytest.skip("single-threaded peer")
        fn = lambda: numpy_nms(boxes, scores, THRESHOLD)
        got = run(benchmark, fn) if n <= 1000 else run_slow(benchmark, fn)
    else:
        torch = need_peer("torch")
        tv = pytest.importorskip("torchvision")
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        fn = lambda: tv.ops.nms(tb, ts, THRESHOLD)
        got = run(benchmark, fn) if n <= 10000 else run_slow(benchmark, fn)
    benchmark.extra_info["kept"] = len(got)


@pytest.mark.parametrize("impl", ["nncore", "numpy", "torchvision"])
@pytest.mark.parametrize("n", [10000, 50000])
def test_batched_nms(benchmark, threads, impl, n):
    benchmark.group = f"batched_nms 21 classes {n} boxes threads={threads}"
    boxes, scores, labels = make_boxes(n)
    if impl == "nncore":
        got = run(benchmark, lambda: ops.batched_nms(boxes, scores, labels, THRESHOLD))
        if n <= 10000:
            np.testing.assert_array_equal(got, numpy_batched_nms(boxes, scores, labels, THRESHOLD))
    elif impl == "numpy":
        if threads > 1:
            pytest.skip("single-threaded peer")
        got = run_slow(benchmark, lambda: numpy_batched_nms(boxes, scores, labels, THRESHOLD))
    else:
        torch = need_peer("torch")
        tv = pytest.importorskip("torchvision")
        tb, ts, tl = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels)
        got = run(benchmark, lambda: tv.ops.batched_nms(tb, ts, tl, THRESHOLD))
    benchmark.extra_info["kept"] = len(got)


def make_ssd_detections(seed=0):
    """SSD300's Detect input: 8732 prior boxes shared by 20 object classes, softmax scores."""
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 300, (8732, 4))
    priors = np.concatenate([np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])],
                            axis=1).astype(np.float32)
    logits = rng.normal(0, 2, (8732, 21))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    boxes = np.tile(priors, (20, 1))
    scores = probs[:, 1:].T.reshape(-1).astype(np.float32)
    labels = np.repeat(np.arange(1, 21), 8732)
    return boxes, scores, labels


def numpy_ssd_detect(boxes, scores, labels, threshold, score_threshold, top_k, max_output):
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero((labels == c) & (scores > score_threshold))
        members = members[np.lexsort((members, -scores[members].astype(np.float64)))][:top_k]
        keep.append(members[numpy_nms(boxes[members], scores[members], threshold)])
    keep = np.concatenate(keep)
    return keep[np.lexsort((keep, -scores[keep].astype(np.float64)))][:max_output]


@pytest.mark.parametrize("impl", ["nncore", "numpy"])
def test_ssd_detect(benchmark, threads, impl):
    """batched_nms with SSD's options: score > 0.01, top 200 per class, IoU 0.45, 200 results."""
    benchmark.group = f"ssd detect 8732 priors x 20 classes threads={threads}"
    boxes, scores, labels = make_ssd_detections()
    opts = dict(score_threshold=0.01, top_k=200, max_output=200)
    if impl == "nncore":
        got = run(benchmark, lambda: ops.batched_nms(boxes, scores, labels, 0.45, **opts))
        np.testing.assert_array_equal(got, numpy_ssd_detect(boxes, scores, labels, 0.45, **opts))
    else:
        if threads > 1:
            pytest.skip("single-threaded peer")
        got = run(benchmark, lambda: numpy_ssd_detect(boxes, scores, labels, 0.45, **opts))
    benchmark.extra_info["kept"] = len(got)
