"""Boxes: area, IoU, non-maximum suppression (torchvision.ops semantics).

Boxes are (N, 4) rows (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, no "+1" in
widths. Every op raises ValueError naming the argument and the first bad row
when a coordinate or score is not finite or a box has x2 < x1 or y2 < y1."""

import numpy as _np

from .. import _C
from .._arrays import as_kernel_array, empty, stream_of, array_module
from ._checks import int_arg, real_arg


def _c_contiguous(x):
    if x.ndim >= 1 and not x.flags.c_contiguous:
        return array_module(x).ascontiguousarray(x)
    return x


def _box_arg(x, op, arg):
    return _c_contiguous(as_kernel_array(x, op, arg))


def _rows(x):
    return x.shape[0] if x.ndim >= 1 else 0


def _real_number(v, op, name):
    return real_arg(v, op, name)


def _count_or_none(v, op, name):
    if v is None:
        return None
    return int_arg(v, op, name, "an int or None")


def box_area(boxes, *, out=None):
    """Areas (N,) of boxes (N, 4): (x2 - x1) * (y2 - y1). float32 or float64."""
    boxes = _box_arg(boxes, "box_area", "boxes")
    if out is None:
        out = empty((_rows(boxes),), boxes.dtype, like=boxes)
    _C.box_area(boxes, out, stream_of(boxes))
    return out


def box_iou(boxes1, boxes2, *, out=None):
    """Pairwise IoU (N, M) of boxes1 (N, 4) and boxes2 (M, 4), like torchvision.ops.box_iou.

    IoU = inter / (area1 + area2 - inter); two boxes of zero area have IoU 0
    (torchvision returns NaN for that 0 / 0). float32 (SIMD twins) or float64.
    """
    boxes1 = _box_arg(boxes1, "box_iou", "boxes1")
    boxes2 = _box_arg(boxes2, "box_iou", "boxes2")
    if out is None:
        out = empty((_rows(boxes1), _rows(boxes2)), boxes1.dtype, like=boxes1)
    _C.box_iou(boxes1, boxes2, out, stream_of(boxes1))
    return out


def _nms_call(op, boxes, scores, idxs, iou_threshold, score_threshold, top_k, max_output):
    boxes = _box_arg(boxes, op, "boxes")
    scores = _box_arg(scores, op, "scores")
    iou_threshold = _real_number(iou_threshold, op, "iou_threshold")
    if score_threshold is not None:
        score_threshold = _real_number(score_threshold, op, "score_threshold")
    top_k = _count_or_none(top_k, op, "top_k")
    max_output = _count_or_none(max_output, op, "max_output")
    out = empty((_rows(boxes),), _np.int64, like=boxes)
    if idxs is None:
        count = _C.nms(boxes, scores, out, iou_threshold, score_threshold, top_k, max_output, stream_of(boxes))
    else:
        idxs = _box_arg(idxs, op, "idxs")
        count = _C.batched_nms(boxes, scores, idxs, out, iou_threshold, score_threshold, top_k, max_output,
                               stream_of(boxes))
    return out[:count]


def nms(boxes, scores, iou_threshold, *, score_threshold=None, top_k=None, max_output=None):
    """Greedy non-maximum suppression, like torchvision.ops.nms.

    boxes (N, 4) and scores (N,) share a float dtype. Candidates are visited in
    decreasing score order (equal scores: lower index first, on every device);
    a candidate is kept unless a kept box has IoU > iou_threshold with it.
    Returns the kept indices (K,) int64 in that order.

    Options for detection heads (SSD's Detect, torchvision's postprocess), applied
    in this order:
      score_threshold: only boxes with score > score_threshold are candidates.
      top_k: only the top_k highest-scoring candidates enter NMS.
      max_output: return at most max_output indices (the highest-scoring kept).
    IoU is computed in float64 for both dtypes, so the result equals a float64
    O(N * K) greedy loop exactly.
    """
    return _nms_call("nms", boxes, scores, None, iou_threshold, score_threshold, top_k, max_output)


def batched_nms(boxes, scores, idxs, iou_threshold, *, score_threshold=None, top_k=None, max_output=None):
    """Per-class NMS, like torchvision.ops.batched_nms: boxes only suppress boxes
    with the same label in idxs (N,) int64. Returns kept indices (K,) int64 in
    decreasing score order (equal scores: lower index first).

    score_threshold filters candidates; top_k caps the candidates of each class
    (SSD's per-class top_k = 200); max_output caps the whole result.
    """
    if idxs is None:
        raise TypeError("batched_nms: idxs must be an int64 array (N,), got None")
    return _nms_call("batched_nms", boxes, scores, idxs, iou_threshold, score_threshold, top_k, max_output)
