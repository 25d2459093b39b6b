"""SSD, the Single Shot MultiBox Detector (Liu et al., 2016), as ssd.pytorch builds it.

Pieces, each usable alone:
  prior_boxes(config)          default boxes (P, 4) in centre-size form (cx, cy, w, h), fractions of the image
  point_form / center_size     (cx, cy, w, h) <-> (x1, y1, x2, y2)
  encode / decode              ground-truth boxes <-> the regression targets of the localisation head
  match                        which ground truth each prior learns (batched: images may hold no boxes)
  MultiBoxLoss                 Smooth-L1 localisation + softmax cross-entropy with 3:1 hard-negative mining
  detect                       softmax, decode, per-class threshold, top-k, batched NMS, top 200 per image
and the models: SSD (a VGG-like base with L2Norm on its first source, extra layers and 3x3 heads),
ssd300(num_classes=21) with ssd.pytorch's layout and parameter names (26,285,486 parameters for 21
classes) and ssd_small(...) for 64 x 64 inputs, which trains on a laptop CPU in minutes.

Labels follow torchvision: 0 is the background, objects are 1 .. num_classes - 1. Boxes are
fractions of the image's width and height, (x1, y1, x2, y2) with x1 < x2 and y1 < y2."""

import math
import numbers

import numpy as np

from .. import nn, ops
from .._arrays import array_module
from ..autograd import no_grad
from ..tensor import Tensor, _make, cat

SSD300_CONFIG = {
    "image_size": 300,
    "feature_maps": (38, 19, 10, 5, 3, 1),
    "steps": (8, 16, 32, 64, 100, 300),
    "min_sizes": (30, 60, 111, 162, 213, 264),
    "max_sizes": (60, 111, 162, 213, 264, 315),
    "aspect_ratios": ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)),
    "clip": True,
}

# ssd_small at 64 x 64: five maps, the paper's linear scales from s_min = 0.15 to s_max = 0.9
SMALL_CONFIG = {
    "image_size": 64,
    "feature_maps": (16, 8, 4, 2, 1),
    "s_min": 0.15,
    "s_max": 0.9,
    "aspect_ratios": ((2,), (2, 3), (2, 3), (2,), (2,)),
    "clip": True,
}

CONFIGS = {"ssd300": SSD300_CONFIG, "small": SMALL_CONFIG}
VARIANCES = (0.1, 0.2)

__all__ = ["CONFIGS", "L2Norm", "MultiBoxLoss", "SMALL_CONFIG", "SSD", "SSD300_CONFIG", "center_size", "decode",
           "detect", "encode", "hard_negatives", "linear_scales", "match", "point_form", "prior_boxes",
           "priors_per_location", "ssd300", "ssd_small"]


# ---------------------------------------------------------------- default boxes
def linear_scales(num_maps, s_min=0.2, s_max=0.9):
    """The paper's scales s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), k = 1..m, as fractions of
    the image; returns (min_scales, max_scales) with max_scales[k] = s_{k+1} and, for the last map,
    the same linear step once more (s_{m+1} = s_max + (s_max - s_min)/(m - 1); 1.0 for one map)."""
    if isinstance(num_maps, bool) or not isinstance(num_maps, numbers.Integral) or num_maps < 1:
        raise ValueError(f"linear_scales: num_maps must be a positive int, got {num_maps!r}")
    if not 0 < s_min <= s_max:
        raise ValueError(f"linear_scales: need 0 < s_min <= s_max, got s_min={s_min}, s_max={s_max}")
    if num_maps == 1:
        return [float(s_min)], [1.0]
    step = (s_max - s_min) / (num_maps - 1)
    scales = [s_min + step * k for k in range(num_maps + 1)]
    return scales[:-1], scales[1:]


def _config(config):
    """A full configuration dict (min/max sizes and steps in pixels) from a name or a dict."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"prior_boxes: config must be one of {sorted(CONFIGS)} or a dict, got {config!r}")
        config = CONFIGS[config]
    if not isinstance(config, dict):
        raise TypeError(f"prior_boxes: config must be a name or a dict, got {type(config).__name__}")
    for key in ("image_size", "feature_maps", "aspect_ratios"):
        if key not in config:
            raise ValueError(f"prior_boxes: config has no {key!r}")
    size = config["image_size"]
    maps = tuple(int(f) for f in config["feature_maps"])
    m = len(maps)
    if not size > 0 or m == 0 or min(maps) < 1:
        raise ValueError(f"prior_boxes: image_size and feature_maps must be positive, got {size}, {maps}")
    if "min_sizes" in config:
        min_sizes, max_sizes = tuple(config["min_sizes"]), tuple(config["max_sizes"])
    elif "s_min" in config:
        lo, hi = linear_scales(m, config["s_min"], config["s_max"])
        min_sizes, max_sizes = tuple(s * size for s in lo), tuple(s * size for s in hi)
    else:
        raise ValueError("prior_boxes: config needs min_sizes and max_sizes, or s_min and s_max")
    steps = tuple(config.get("steps") or (size / f for f in maps))
    ratios = tuple(tuple(r) for r in config["aspect_ratios"])
    for key, value in (("steps", steps), ("min_sizes", min_sizes), ("max_sizes", max_sizes),
                       ("aspect_ratios", ratios)):
        if len(value) != m:
            raise ValueError(f"prior_boxes: {key} has {len(value)} entries for {m} feature maps")
    if min(min_sizes) <= 0 or min(steps) <= 0 or any(b < a for a, b in zip(min_sizes, max_sizes)):
        raise ValueError("prior_boxes: sizes and steps must be positive with max_sizes >= min_sizes")
    if any(r <= 0 for rs in ratios for r in rs):
        raise ValueError(f"prior_boxes: aspect ratios must be positive, got {ratios}")
    return {"image_size": size, "feature_maps": maps, "steps": steps, "min_sizes": min_sizes,
            "max_sizes": max_sizes, "aspect_ratios": ratios, "clip": bool(config.get("clip", True))}


def priors_per_location(config="ssd300"):
    """Boxes per feature-map cell: 2 + 2 per aspect ratio (4 or 6 for SSD300)."""
    return [2 + 2 * len(r) for r in _config(config)["aspect_ratios"]]


def prior_boxes(config="ssd300"):
    """Default boxes (P, 4) float32, (cx, cy, w, h) as fractions of the image.

    Order as in ssd.pytorch: feature map by feature map, row (i) then column (j); per cell the
    min-size box, the sqrt(min * max) box, then for each aspect ratio r the boxes (s sqrt r, s / sqrt r)
    and (s / sqrt r, s sqrt r). Centres ((j + 0.5) step, (i + 0.5) step) / image_size. With clip, every
    coordinate of the (cx, cy, w, h) rows is clamped to [0, 1] (as ssd.pytorch does).

    config: "ssd300", "small", or a dict with image_size, feature_maps, aspect_ratios, optional steps
    (default image_size / feature_map) and clip (default True), and either min_sizes / max_sizes in
    pixels or the paper's linear scales s_min / s_max (see linear_scales). SSD300 gives 8732 boxes."""
    c = _config(config)
    size = c["image_size"]
    blocks = []
    for f, step, lo, hi, ratios in zip(c["feature_maps"], c["steps"], c["min_sizes"], c["max_sizes"],
                                       c["aspect_ratios"]):
        s = lo / size
        shapes = [(s, s), (math.sqrt(s * hi / size),) * 2]
        for r in ratios:
            shapes += [(s * math.sqrt(r), s / math.sqrt(r)), (s / math.sqrt(r), s * math.sqrt(r))]
        shapes = np.array(shapes)                                        # (A, 2) w, h
        centres = (np.arange(f) + 0.5) * (step / size)
        cy, cx = np.meshgrid(centres, centres, indexing="ij")            # (f, f): row i, column j
        cells = np.stack([cx.ravel(), cy.ravel()], 1)                     # (f*f, 2)
        boxes = np.concatenate([np.repeat(cells, len(shapes), 0), np.tile(shapes, (f * f, 1))], 1)
        blocks.append(boxes)
    priors = np.concatenate(blocks)
    if c["clip"]:
        np.clip(priors, 0.0, 1.0, out=priors)
    return priors.astype(np.float32)


# ---------------------------------------------------------------- box forms and coding
def _boxes_arg(boxes, op, name):
    xp = array_module(boxes) if not isinstance(boxes, (list, tuple)) else np
    boxes = xp.asarray(boxes)
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{op}: {name} must be (..., 4), got shape {boxes.shape}")
    return boxes, xp


def point_form(boxes):
    """(cx, cy, w, h) -> (x1, y1, x2, y2), along the last axis of (..., 4)."""
    boxes, xp = _boxes_arg(boxes, "point_form", "boxes")
    return xp.concatenate([boxes[..., :2] - boxes[..., 2:] / 2, boxes[..., :2] + boxes[..., 2:] / 2], -1)


def center_size(boxes):
    """(x1, y1, x2, y2) -> (cx, cy, w, h), along the last axis of (..., 4)."""
    boxes, xp = _boxes_arg(boxes, "center_size", "boxes")
    return xp.concatenate([(boxes[..., 2:] + boxes[..., :2]) / 2, boxes[..., 2:] - boxes[..., :2]], -1)


def _variances(variances, op):
    if len(variances) != 2 or not all(v > 0 for v in variances):
        raise ValueError(f"{op}: variances must be two positive numbers, got {variances!r}")
    return float(variances[0]), float(variances[1])


def encode(matched, priors, variances=VARIANCES):
    """Regression targets (..., P, 4) of point-form boxes `matched` (..., P, 4) against priors
    (P, 4) in centre form: ((c - c_p) / (v0 w_p), log(w / w_p) / v1) for centre and size.
    The boxes need positive widths and heights (log 0 = -inf otherwise)."""
    matched, xp = _boxes_arg(matched, "encode", "matched")
    priors, _ = _boxes_arg(priors, "encode", "priors")
    v0, v1 = _variances(variances, "encode")
    centre = ((matched[..., :2] + matched[..., 2:]) / 2 - priors[:, :2]) / (v0 * priors[:, 2:])
    size = xp.log((matched[..., 2:] - matched[..., :2]) / priors[:, 2:]) / v1
    return xp.concatenate([centre, size], -1).astype(matched.dtype, copy=False)


def decode(loc, priors, variances=VARIANCES):
    """Point-form boxes (..., P, 4) from regression outputs loc (..., P, 4) and priors (P, 4)
    in centre form: the inverse of encode."""
    loc, xp = _boxes_arg(loc, "decode", "loc")
    priors, _ = _boxes_arg(priors, "decode", "priors")
    v0, v1 = _variances(variances, "decode")
    centre = priors[:, :2] + loc[..., :2] * v0 * priors[:, 2:]
    half = priors[:, 2:] * xp.exp(loc[..., 2:] * v1) / 2
    return xp.concatenate([centre - half, centre + half], -1).astype(loc.dtype, copy=False)


# ---------------------------------------------------------------- matching
def _check_truths(truths, labels, op, num_classes=None, image=None):
    where = "" if image is None else f" of image {image}"
    truths = np.asarray(truths, np.float32)
    labels = np.asarray(labels)
    if truths.size == 0:
        truths = truths.reshape(0, 4)
    if truths.ndim != 2 or truths.shape[1] != 4:
        raise ValueError(f"{op}: truths{where} must be (G, 4), got shape {truths.shape}")
    if labels.shape != (truths.shape[0],):
        raise ValueError(f"{op}: labels{where} must be ({truths.shape[0]},), got shape {labels.shape}")
    if labels.size and labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels{where} must be integers, got {labels.dtype}")
    if not np.isfinite(truths).all():
        row = int(np.flatnonzero(~np.isfinite(truths).all(1))[0])
        raise ValueError(f"{op}: truths{where} row {row} is not finite: {truths[row].tolist()}")
    bad = (truths[:, 2] <= truths[:, 0]) | (truths[:, 3] <= truths[:, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{op}: truths{where} row {row} has x2 <= x1 or y2 <= y1: {truths[row].tolist()}")
    top = num_classes - 1 if num_classes is not None else None
    if labels.size and (labels.min() < 1 or (top is not None and labels.max() > top)):
        span = f"[1, {top}]" if top is not None else ">= 1"
        raise ValueError(f"{op}: labels{where} must be in {span} (0 is the background), got "
                         f"{sorted(set(labels.tolist()))}")
    return truths, labels.astype(np.int64)


def _match_one(truths, labels, priors, priors_xyxy, threshold, variances):
    P = priors.shape[0]
    if truths.shape[0] == 0:
        return np.zeros((P, 4), np.float32), np.zeros(P, np.int64)
    overlaps = ops.box_iou(truths, priors_xyxy)                 # (G, P)
    best_prior = overlaps.argmax(1)                            # (G,)
    best_truth = overlaps.argmax(0)                            # (P,)
    best_overlap = overlaps[best_truth, np.arange(P)]          # (P,)
    best_overlap[best_prior] = 2.0                             # every truth keeps its best prior ...
    for j, p in enumerate(best_prior.tolist()):                # ... a later truth wins a shared prior
        best_truth[p] = j
    conf = labels[best_truth]
    conf[best_overlap <= threshold] = 0
    return encode(truths[best_truth], priors, variances), conf


def match(truths, labels, priors, threshold=0.5, variances=VARIANCES, num_classes=None):
    """Which ground truth each prior learns.

    Every ground truth's best prior (highest IoU; the first on ties) is forced positive, even below
    the threshold (a prior claimed by several truths goes to the later one); then every other prior
    whose best IoU is > threshold is positive with that truth; the rest are background (label 0).

    truths (G, 4) point form and labels (G,) in 1 .. num_classes - 1 for one image, or lists of
    them for a batch (images may hold no boxes: all their priors are background, loc target 0).
    Returns (loc_t (P, 4) float32 encoded targets, conf_t (P,) int64), or (N, P, 4), (N, P).
    Raises ValueError for non-finite boxes, x2 <= x1 or y2 <= y1, and labels out of range."""
    priors = np.asarray(priors, np.float32)
    if priors.ndim != 2 or priors.shape[1] != 4:
        raise ValueError(f"match: priors must be (P, 4), got shape {priors.shape}")
    priors_xyxy = point_form(priors)
    if isinstance(truths, (list, tuple)):
        if not isinstance(labels, (list, tuple)) or len(labels) != len(truths):
            raise ValueError("match: a batch needs one labels array per truths array")
        out = [_match_one(*_check_truths(t, l, "match", num_classes, i), priors, priors_xyxy, threshold, variances)
               for i, (t, l) in enumerate(zip(truths, labels))]
        if not out:
            return np.zeros((0,) + priors.shape, np.float32), np.zeros((0, priors.shape[0]), np.int64)
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])
    return _match_one(*_check_truths(truths, labels, "match", num_classes), priors, priors_xyxy, threshold,
                      variances)


# ---------------------------------------------------------------- the loss
def _targets(targets, op):
    boxes, labels = [], []
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or "boxes" not in t or "labels" not in t:
            raise TypeError(f"{op}: target {i} must be a dict with 'boxes' and 'labels'")
        boxes.append(t["boxes"])
        labels.append(t["labels"])
    return boxes, labels


def hard_negatives(conf_loss, positives, neg_pos_ratio=3):
    """Mask (N, P) of the negatives kept: per image, the min(ratio * positives, P - 1) priors that
    are not positive with the highest confidence loss (ties: the lower prior index first)."""
    xp = array_module(conf_loss)
    N, P = conf_loss.shape
    num_neg = xp.minimum(neg_pos_ratio * positives.sum(1), P - 1)      # (N,)
    ranked = xp.where(positives, -xp.inf, conf_loss)
    order = xp.argsort(-ranked, axis=1, kind="stable")                  # (N, P) highest loss first
    rank = xp.empty_like(order)
    xp.put_along_axis(rank, order, xp.broadcast_to(xp.arange(P), (N, P)), axis=1)
    return (rank < num_neg[:, None]) & ~positives


class MultiBoxLoss(nn.Module):
    """SSD's training loss: returns (loss_l, loss_c).

    loss_l: Smooth-L1 (beta 1) between the localisation outputs and the encoded matched truths,
    summed over positive priors; loss_c: softmax cross-entropy summed over the positives and the
    hard negatives (per image the neg_pos_ratio * positives highest-loss background priors, at most
    P - 1). Both are divided by the number of positives in the batch, or by 1 when the batch has
    none (an image without boxes then adds nothing: it has no positives to mine negatives for).

    The confidence term runs one fused pass of nncore's cross-entropy kernel over all N * P rows
    (per-row loss for the mining and the gradient at once); the gradient of unselected rows is
    dropped. loc (N, P, 4) and conf (N, P, num_classes) may be CPU or GPU tensors; targets is a list
    of N dicts with "boxes" (G, 4) point form and "labels" (G,) in 1 .. num_classes - 1."""

    def __init__(self, num_classes, priors, overlap_thresh=0.5, neg_pos_ratio=3, variances=VARIANCES):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
            raise ValueError(f"MultiBoxLoss: num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.priors = np.asarray(priors, np.float32)
        self.overlap_thresh = overlap_thresh
        self.neg_pos_ratio = neg_pos_ratio
        self.variances = _variances(variances, "MultiBoxLoss")

    def forward(self, predictions, targets):
        loc, conf = predictions
        N, P = loc.shape[0], self.priors.shape[0]
        if tuple(loc.shape) != (N, P, 4) or tuple(conf.shape) != (N, P, self.num_classes):
            raise ValueError(f"MultiBoxLoss: expected loc ({N}, {P}, 4) and conf ({N}, {P}, {self.num_classes}), "
                             f"got {tuple(loc.shape)} and {tuple(conf.shape)}")
        if len(targets) != N:
            raise ValueError(f"MultiBoxLoss: {N} images but {len(targets)} targets")
        boxes, labels = _targets(targets, "MultiBoxLoss")
        loc_t, conf_t = match(boxes, labels, self.priors, self.overlap_thresh, self.variances, self.num_classes)
        xp = array_module(conf.data)
        loc_t, conf_t = xp.asarray(loc_t), xp.asarray(conf_t)
        positives = conf_t > 0                                              # (N, P)
        scale = 1.0 / max(int(positives.sum()), 1)
        return _smooth_l1_positives(loc, loc_t, positives, scale), \
            _mined_cross_entropy(conf, conf_t, positives, self.neg_pos_ratio, scale)


def _smooth_l1_positives(loc, loc_t, positives, scale):
    """scale * sum over positive priors of Smooth-L1(loc - loc_t); one node."""
    xp = array_module(loc.data)
    d = (loc.data - loc_t) * positives[..., None]
    ad = xp.abs(d)
    loss = xp.where(ad < 1, 0.5 * d * d, ad - 0.5).sum() * scale
    grad = xp.clip(d, -1, 1) * loc.data.dtype.type(scale)
    return _make(xp.asarray(loss, loc.data.dtype), (loc,), lambda g: (grad * g,))


def _mined_cross_entropy(conf, conf_t, positives, neg_pos_ratio, scale):
    """scale * cross-entropy summed over positives and hard negatives; one kernel pass, one node."""
    xp = array_module(conf.data)
    N, P, C = conf.shape
    logits = conf.data.reshape(N * P, C)
    if not logits.flags.c_contiguous:
        logits = xp.ascontiguousarray(logits)
    row_loss, row_grad = ops.cross_entropy_with_grad(logits, conf_t.reshape(-1), reduction="none")
    row_loss = row_loss.reshape(N, P)
    keep = positives | hard_negatives(row_loss, positives, neg_pos_ratio)
    loss = (row_loss * keep).sum() * scale
    grad = row_grad.reshape(N, P, C) * (keep[..., None] * conf.data.dtype.type(scale))
    return _make(xp.asarray(loss, conf.data.dtype), (conf,), lambda g: (grad * g,))


# ---------------------------------------------------------------- detection
def detect(loc, conf, priors, conf_thresh=0.01, nms_thresh=0.45, top_k=200, keep_top_k=200,
           variances=VARIANCES):
    """SSD's post-processing of raw head outputs loc (N, P, 4) and conf (N, P, C) logits (arrays
    or Tensors; one image may be given as (P, 4), (P, C)): softmax over classes, decode, and per
    class 1 .. C - 1 the boxes with score > conf_thresh, at most top_k of them (highest first) into
    greedy NMS at nms_thresh, keeping the keep_top_k best survivors of the image. Returns one dict
    per image: "boxes" (K, 4) point form, "scores" (K,), "labels" (K,) int64, by decreasing score
    (equal scores: lower prior, then lower class first).

    Only the best candidates are decoded: survivors of a class depend only on its higher-scoring
    candidates, so when the candidates scoring >= v (all of them, ties included) already give
    keep_top_k survivors, no candidate below v can be among the best keep_top_k. v starts at the
    4 keep_top_k-th best score and is lowered (4x more candidates) until that holds."""
    loc = loc.data if isinstance(loc, Tensor) else loc
    conf = conf.data if isinstance(conf, Tensor) else conf
    xp = array_module(conf)
    if loc.ndim == 2:
        loc, conf = loc[None], conf[None]
    priors = xp.asarray(priors, loc.dtype)
    if not conf_thresh >= 0:
        raise ValueError(f"detect: conf_thresh must be >= 0, got {conf_thresh}")
    if loc.ndim != 3 or loc.shape[:2] != conf.shape[:2] or loc.shape[1:] != priors.shape:
        raise ValueError(f"detect: loc (N, P, 4), conf (N, P, C) and priors (P, 4) disagree: got "
                         f"{loc.shape}, {conf.shape}, {priors.shape}")
    return [_detect_one(loc[i], conf[i], priors, conf_thresh, nms_thresh, top_k, keep_top_k, variances, xp)
            for i in range(loc.shape[0])]


def _detect_one(loc, conf, priors, conf_thresh, nms_thresh, top_k, keep_top_k, variances, xp):
    C = conf.shape[1]
    probs = ops.softmax(xp.ascontiguousarray(conf), -1)            # (P, C), our own buffer
    probs[:, 0] = -1.0                                             # the background is never a candidate
    flat = probs.reshape(-1)
    total = flat.shape[0]
    want = total if keep_top_k is None else min(total, 4 * max(int(keep_top_k), 1))
    while True:
        floor = conf_thresh
        if want < total:
            floor = max(float(xp.partition(flat, total - want)[total - want]), conf_thresh)
        cand = xp.flatnonzero(flat >= floor) if floor > conf_thresh else xp.flatnonzero(flat > conf_thresh)
        prior_idx, cls = cand // C, cand % C
        scores = flat[cand]
        boxes = decode(loc[prior_idx], priors[prior_idx], variances)
        keep = ops.batched_nms(boxes, scores, cls, nms_thresh, top_k=top_k, max_output=keep_top_k)
        if floor == conf_thresh or keep_top_k is None or keep.shape[0] >= keep_top_k:
            return {"boxes": boxes[keep], "scores": scores[keep], "labels": cls[keep]}
        want = min(total, 4 * want)


# ---------------------------------------------------------------- the network
class L2Norm(nn.Module):
    """x / ||x||_2 over channels, times a learned per-channel scale (initialised to `scale`)."""

    def __init__(self, n_channels, scale=20.0, eps=1e-10):
        super().__init__()
        self.n_channels = n_channels
        self.eps = eps
        self.weight = nn.Parameter(np.full(n_channels, scale, np.float32))

    def forward(self, x):
        norm = (x * x).sum(1, keepdim=True).sqrt() + self.eps
        return x / norm * self.weight.reshape(1, -1, 1, 1)


class SSD(nn.Module):
    """An SSD: `vgg` (a ModuleList run in order; its output after layer `source_layer - 1`, scaled
    by L2Norm, is the first source and its final output the second), `extras` (convolutions each
    followed by ReLU; every second one's output is a further source), and 3x3 heads `loc` and
    `conf` per source. forward(x (N, 3, S, S)) -> (loc (N, P, 4), conf (N, P, num_classes) logits);
    detect(x) -> one dict of boxes, scores and labels per image."""

    def __init__(self, vgg, extras, loc, conf, num_classes, config, source_layer, l2norm_channels):
        super().__init__()
        self.num_classes = num_classes
        self.config = _config(config)
        self.source_layer = source_layer
        self.vgg = vgg
        self.L2Norm = L2Norm(l2norm_channels, 20.0)
        self.extras = extras
        self.loc = loc
        self.conf = conf
        self.priors = prior_boxes(self.config)
        if len(loc) != len(self.config["feature_maps"]):
            raise ValueError(f"SSD: {len(loc)} heads for {len(self.config['feature_maps'])} feature maps")

    def forward(self, x):
        sources = []
        for k in range(self.source_layer):
            x = self.vgg[k](x)
        sources.append(self.L2Norm(x))
        for k in range(self.source_layer, len(self.vgg)):
            x = self.vgg[k](x)
        sources.append(x)
        for k, layer in enumerate(self.extras):
            x = layer(x).relu()
            if k % 2 == 1:
                sources.append(x)
        if len(sources) != len(self.loc):
            raise ValueError(f"SSD: {len(sources)} sources for {len(self.loc)} heads")
        n = x.shape[0]
        loc = cat([head(s).permute(0, 2, 3, 1).reshape(n, -1) for s, head in zip(sources, self.loc)], 1)
        conf = cat([head(s).permute(0, 2, 3, 1).reshape(n, -1) for s, head in zip(sources, self.conf)], 1)
        loc, conf = loc.reshape(n, -1, 4), conf.reshape(n, -1, self.num_classes)
        if loc.shape[1] != self.priors.shape[0]:
            raise ValueError(f"SSD: the heads give {loc.shape[1]} boxes for {self.priors.shape[0]} priors "
                             f"(input {tuple(x.shape)} is not the configured {self.config['image_size']} pixels?)")
        return loc, conf

    def detect(self, x, conf_thresh=0.01, nms_thresh=0.45, top_k=200, keep_top_k=200):
        """Eval-mode forward without gradients, then `detect`."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                loc, conf = self(x)
        finally:
            self.train(was_training)
        return detect(loc, conf, self.priors, conf_thresh, nms_thresh, top_k, keep_top_k)


def _vgg(cfg, in_channels, tail, batch_norm=False):
    """ssd.pytorch's base: 3x3 convolutions (+ BatchNorm) + ReLU, 'M' max-pool 2, 'C' max-pool 2
    with ceil_mode, then `tail` (pool5, conv6, conv7 for SSD300)."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        elif v == "C":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        else:
            conv = nn.Conv2d(in_channels, v, 3, padding=1, bias=not batch_norm)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU()] if batch_norm else [conv, nn.ReLU()]
            in_channels = v
    return layers + tail


def _extras(in_channels, widths):
    """Pairs of (1x1 to `mid`, 3x3 to `out` with stride 2 / padding 1, or stride 1 / no padding)."""
    layers = []
    for mid, out, stride in widths:
        layers += [nn.Conv2d(in_channels, mid, 1), nn.Conv2d(mid, out, 3, stride, 1 if stride == 2 else 0)]
        in_channels = out
    return layers


def _heads(channels, boxes, num_classes):
    loc = [nn.Conv2d(c, b * 4, 3, padding=1) for c, b in zip(channels, boxes)]
    conf = [nn.Conv2d(c, b * num_classes, 3, padding=1) for c, b in zip(channels, boxes)]
    return nn.ModuleList(loc), nn.ModuleList(conf)


def ssd300(num_classes=21):
    """SSD300 as ssd.pytorch builds it: VGG-16 (conv4_3 source after L2Norm scale 20; pool5 3x3
    stride 1, conv6 3x3 dilation 6, conv7 1x1), extras to 10, 5, 3 and 1 cells, 4/6/6/6/4/4 boxes per
    location; state_dict keys vgg.N.*, L2Norm.weight, extras.N.*, loc.N.*, conf.N.* (26,285,486
    parameters for 21 classes)."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512]
    tail = [nn.MaxPool2d(3, 1, 1), nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.ReLU(),
            nn.Conv2d(1024, 1024, 1), nn.ReLU()]
    vgg = nn.ModuleList(_vgg(cfg, 3, tail))
    extras = nn.ModuleList(_extras(1024, [(256, 512, 2), (128, 256, 2), (128, 256, 1), (128, 256, 1)]))
    loc, conf = _heads([512, 1024, 512, 256, 256, 256], priors_per_location(SSD300_CONFIG), num_classes)
    return SSD(vgg, extras, loc, conf, num_classes, SSD300_CONFIG, source_layer=23, l2norm_channels=512)


def ssd_small(num_classes=4, width=32, batch_norm=True):
    """A small SSD for 64 x 64 inputs, the same pieces at a laptop's scale: a VGG-like base
    (width / 2, width, 2 width channels, BatchNorm after each 3x3 convolution unless batch_norm=False;
    the 16 x 16 source after L2Norm; pool, 3x3 and 1x1 to a 4 width-channel 8 x 8 source), extras
    to 4, 2 and 1 cells, SMALL_CONFIG's 1524 priors (linear scales 0.15-0.9)."""
    w = width
    cfg = [w // 2, "M", w, "M", 2 * w, 2 * w]
    tail = [nn.MaxPool2d(2, 2), nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(4 * w, 4 * w, 1),
            nn.ReLU()]
    base = _vgg(cfg, 3, [], batch_norm)
    vgg = nn.ModuleList(base + tail)
    extras = nn.ModuleList(_extras(4 * w, [(w, 2 * w, 2), (w, 2 * w, 2), (w, 2 * w, 2)]))
    loc, conf = _heads([2 * w, 4 * w, 2 * w, 2 * w, 2 * w], priors_per_location(SMALL_CONFIG), num_classes)
    return SSD(vgg, extras, loc, conf, num_classes, SMALL_CONFIG, source_layer=len(base), l2norm_channels=2 * w)
