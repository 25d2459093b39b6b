"""nncore.metrics: VOC average precision on hand-made precision/recall curves, and mAP with
difficult objects, duplicates and classes without truths."""

import math

import numpy as np
import pytest

from nncore.metrics import average_precision, mean_average_precision

# five detections by decreasing score: TP, FP, TP, FP, TP with 4 positives
RECALL = np.array([0.25, 0.25, 0.5, 0.5, 0.75])
PRECISION = np.array([1.0, 0.5, 2 / 3, 0.5, 0.6])


def test_voc07_eleven_point_ap_by_hand():
    # t = 0, 0.1, 0.2 -> 1; t = 0.3, 0.4, 0.5 -> 2/3; t = 0.6, 0.7 -> 0.6; t = 0.8, 0.9, 1.0 -> 0
    assert average_precision(RECALL, PRECISION, voc07=True) == pytest.approx((3 + 2 + 1.2) / 11)


def test_area_ap_by_hand():
    # envelope: 1 up to recall 0.25, 2/3 up to 0.5, 0.6 up to 0.75, then 0
    assert average_precision(RECALL, PRECISION, voc07=False) == pytest.approx(0.25 + 0.25 * 2 / 3 + 0.25 * 0.6)


def test_perfect_and_empty_curves():
    assert average_precision([0.5, 1.0], [1.0, 1.0]) == pytest.approx(1.0)
    assert average_precision([0.5, 1.0], [1.0, 1.0], voc07=False) == pytest.approx(1.0)
    assert average_precision([], []) == 0.0


def test_average_precision_bad_input():
    with pytest.raises(ValueError, match="non-decreasing"):
        average_precision([0.5, 0.25], [1.0, 1.0])
    with pytest.raises(ValueError, match="differ in length"):
        average_precision([0.5], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        average_precision([np.nan], [1.0])


def det(boxes, scores, labels):
    return {"boxes": np.array(boxes, float).reshape(-1, 4), "scores": np.array(scores, float),
            "labels": np.array(labels, np.int64)}


def gt(boxes, labels, difficult=None):
    out = {"boxes": np.array(boxes, float).reshape(-1, 4), "labels": np.array(labels, np.int64)}
    if difficult is not None:
        out["difficult"] = np.array(difficult, bool)
    return out


def test_mean_average_precision_by_hand():
    truths = [gt([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], [1, 1, 2], [False, False, True]),
              gt([[0, 0, 10, 10]], [1])]
    detections = [
        det([[0, 0, 10, 10], [0, 1, 10, 11], [50, 50, 60, 60], [70, 70, 80, 80]], [0.9, 0.8, 0.7, 0.6], [1, 1, 2, 2]),
        det([[1, 0, 11, 10], [40, 40, 45, 45]], [0.95, 0.5], [1, 1])]
    r = mean_average_precision(detections, truths)
    # class 1 by score: 0.95 TP (IoU 0.82), 0.9 TP, 0.8 duplicate FP, 0.5 FP; 3 positives
    # recall 1/3, 2/3, 2/3, 2/3; precision 1, 1, 2/3, 1/2 -> 11-point: 7 thresholds up to 0.6 reach 1, rest 0
    assert r["ap"][1] == pytest.approx(7 / 11)
    # class 2: the only truth is difficult: the 0.7 detection on it is ignored, the 0.6 one is a FP; no positives
    assert math.isnan(r["ap"][2]) and r["positives"] == {1: 3, 2: 0}
    assert r["map"] == pytest.approx(7 / 11)
    area = mean_average_precision(detections, truths, voc07=False)
    assert area["ap"][1] == pytest.approx(2 / 3)


def test_mean_average_precision_strict_threshold_and_missing_classes():
    truths = [gt([[0, 0, 10, 10]], [1])]
    # IoU exactly 0.5 is not > 0.5
    r = mean_average_precision([det([[0, 0, 10, 20]], [0.9], [1])], truths)
    assert r["ap"][1] == 0.0
    r = mean_average_precision([det([[0, 0, 10, 10]], [0.9], [1])], truths, classes=[1, 2])
    assert r["ap"][1] == 1.0 and math.isnan(r["ap"][2]) and r["map"] == 1.0
    r = mean_average_precision([det([], [], [])], [gt([], [])])
    assert math.isnan(r["map"]) and r["ap"] == {}


def test_mean_average_precision_bad_input():
    truths = [gt([[0, 0, 10, 10]], [1])]
    with pytest.raises(ValueError, match="1 detection lists for 2 images"):
        mean_average_precision([det([], [], [])], truths * 2)
    with pytest.raises(ValueError, match="x2 < x1"):
        mean_average_precision([det([[10, 0, 0, 10]], [0.5], [1])], truths)
    with pytest.raises(ValueError, match="non-finite"):
        mean_average_precision([det([[np.nan, 0, 1, 1]], [0.5], [1])], truths)
    with pytest.raises(TypeError, match="must be a dict"):
        mean_average_precision([np.zeros((1, 6))], truths)
