"""Detection metrics as the Pascal VOC devkit computes them: average precision from a
precision/recall curve (VOC2007's 11-point interpolation, or the area under the interpolated
curve as VOC2010+ does) and mean average precision over classes, with "difficult" objects
neither rewarded nor penalised.

Boxes are (x1, y1, x2, y2) in any one unit per image, IoU without VOC's "+1" pixel widths."""

import numpy as np

__all__ = ["average_precision", "mean_average_precision"]


def _curve(values, name):
    a = np.asarray(values, np.float64)
    if a.ndim != 1:
        raise ValueError(f"average_precision: {name} must be 1-D, got shape {a.shape}")
    if a.size and (not np.isfinite(a).all() or a.min() < 0 or a.max() > 1):
        raise ValueError(f"average_precision: {name} must hold values in [0, 1]")
    return a


def average_precision(recall, precision, voc07=True):
    """AP of a precision/recall curve (recall (K,) non-decreasing, precision (K,), the values after
    each detection in decreasing score order).

    voc07=True: mean over t in {0, 0.1, ..., 1} of the best precision at recall >= t (0 where the
    curve never reaches t). voc07=False: the area under the curve whose precision at each recall is
    the best precision at that recall or beyond (VOC2010+). An empty curve has AP 0."""
    rec, prec = _curve(recall, "recall"), _curve(precision, "precision")
    if rec.shape != prec.shape:
        raise ValueError(f"average_precision: recall {rec.shape} and precision {prec.shape} differ in length")
    if rec.size and np.any(np.diff(rec) < 0):
        raise ValueError("average_precision: recall must be non-decreasing (detections in decreasing score order)")
    if voc07:
        best = [prec[rec >= t].max() if (rec >= t).any() else 0.0 for t in np.linspace(0.0, 1.0, 11)]
        return float(sum(best) / 11.0)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]          # the envelope: best precision to the right
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _iou(box, boxes):
    """IoU (G,) of one box with each of boxes (G, 4), float64."""
    w = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0)
    h = np.maximum(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0)
    inter = w * h
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _image_arrays(item, i, what, keys):
    if not isinstance(item, dict) or any(k not in item for k in keys):
        raise TypeError(f"mean_average_precision: {what}[{i}] must be a dict with {', '.join(map(repr, keys))}")
    boxes = np.asarray(item["boxes"], np.float64).reshape(-1, 4)
    labels = np.asarray(item["labels"]).reshape(-1)
    if labels.shape[0] != boxes.shape[0] or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"mean_average_precision: {what}[{i}] needs integer labels, one per box")
    if not np.isfinite(boxes).all():
        raise ValueError(f"mean_average_precision: {what}[{i}] has non-finite box coordinates")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"mean_average_precision: {what}[{i}] has a box with x2 < x1 or y2 < y1")
    out = {"boxes": boxes, "labels": labels.astype(np.int64)}
    if "scores" in keys:
        out["scores"] = np.asarray(item["scores"], np.float64).reshape(-1)
        if out["scores"].shape[0] != boxes.shape[0] or not np.isfinite(out["scores"]).all():
            raise ValueError(f"mean_average_precision: {what}[{i}] needs one finite score per box")
    else:
        difficult = item.get("difficult")
        out["difficult"] = (np.zeros(boxes.shape[0], bool) if difficult is None
                            else np.asarray(difficult, bool).reshape(-1))
        if out["difficult"].shape[0] != boxes.shape[0]:
            raise ValueError(f"mean_average_precision: {what}[{i}] needs one difficult flag per box")
    return out


def mean_average_precision(detections, ground_truths, iou_threshold=0.5, voc07=True, classes=None):
    """VOC mAP. detections: one dict per image with "boxes" (K, 4), "scores" (K,), "labels" (K,);
    ground_truths: one dict per image with "boxes" (G, 4), "labels" (G,) and optionally
    "difficult" (G,) bool.

    Per class, detections of all images are visited by decreasing score (stable); a detection is a
    true positive when its best-overlapping truth of that class in its image has IoU > iou_threshold
    and was not matched before; matching a difficult truth makes it neither true nor false positive;
    everything else is a false positive. Recall counts the non-difficult truths.

    classes: the labels to score (default: every label among the truths). Returns
    {"map": mean AP over the classes that have a non-difficult truth, "ap": {label: AP (NaN for a
    class without non-difficult truths)}, "positives": {label: count}}."""
    if len(detections) != len(ground_truths):
        raise ValueError(f"mean_average_precision: {len(detections)} detection lists for {len(ground_truths)} "
                         f"images")
    dets = [_image_arrays(d, i, "detections", ("boxes", "scores", "labels")) for i, d in enumerate(detections)]
    gts = [_image_arrays(g, i, "ground_truths", ("boxes", "labels")) for i, g in enumerate(ground_truths)]
    if classes is None:
        classes = sorted(set(np.concatenate([g["labels"] for g in gts] + [np.zeros(0, np.int64)]).tolist()))
    ap, positives = {}, {}
    for c in classes:
        truths = [(g["boxes"][g["labels"] == c], g["difficult"][g["labels"] == c]) for g in gts]
        npos = int(sum((~d).sum() for _, d in truths))
        image = np.concatenate([np.full(int((d["labels"] == c).sum()), i) for i, d in enumerate(dets)]
                               + [np.zeros(0, int)])
        boxes = np.concatenate([d["boxes"][d["labels"] == c] for d in dets] + [np.zeros((0, 4))])
        scores = np.concatenate([d["scores"][d["labels"] == c] for d in dets] + [np.zeros(0)])
        order = np.argsort(-scores, kind="stable")
        used = [np.zeros(len(b), bool) for b, _ in truths]
        tp, fp = np.zeros(len(order)), np.zeros(len(order))
        for k, j in enumerate(order):
            gt_boxes, difficult = truths[image[j]]
            if len(gt_boxes) == 0:
                fp[k] = 1
                continue
            overlaps = _iou(boxes[j], gt_boxes)
            best = int(overlaps.argmax())
            if overlaps[best] > iou_threshold:
                if difficult[best]:
                    continue
                if not used[image[j]][best]:
                    tp[k] = 1
                    used[image[j]][best] = True
                else:
                    fp[k] = 1
            else:
                fp[k] = 1
        positives[c] = npos
        if npos == 0:
            ap[c] = float("nan")
            continue
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        recall = tp / npos
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        ap[c] = average_precision(recall, precision, voc07)
    scored = [v for v in ap.values() if not np.isnan(v)]
    return {"map": float(np.mean(scored)) if scored else float("nan"), "ap": ap, "positives": positives}
