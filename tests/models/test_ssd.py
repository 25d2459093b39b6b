"""SSD pieces against hand-computed values and float64 NumPy: default boxes, box coding,
matching, MultiBoxLoss with hard-negative mining, detection; SSD300's layout; the small SSD learns."""

import math

import numpy as np
import pytest

import nncore
from nncore import optim
from nncore.models import ssd
from nncore.models.ssd import (MultiBoxLoss, center_size, decode, detect, encode, hard_negatives, linear_scales,
                               match, point_form, prior_boxes)


@pytest.fixture(autouse=True)
def _one_thread(one_kernel_thread):
    yield


# ---------------------------------------------------------------- default boxes
def test_ssd300_priors_count_order_and_first_boxes():
    p = prior_boxes("ssd300")
    assert p.shape == (8732, 4) and p.dtype == np.float32
    c, r2 = 0.5 * 8 / 300, math.sqrt(2)
    # cell (0, 0) of the 38 x 38 map: min box 30/300, sqrt(30*60)/300, then ratio 2 and its reciprocal
    want = [[c, c, 0.1, 0.1], [c, c, math.sqrt(0.1 * 0.2)] * 1 + [math.sqrt(0.1 * 0.2)],
            [c, c, 0.1 * r2, 0.1 / r2], [c, c, 0.1 / r2, 0.1 * r2],
            [1.5 * 8 / 300, c, 0.1, 0.1]]                                  # next column, same row
    np.testing.assert_allclose(p[:5], want, rtol=1e-6)
    np.testing.assert_allclose(p[4 * 38], [c, 1.5 * 8 / 300, 0.1, 0.1], rtol=1e-6)   # next row
    # the 19 x 19 map starts after 38 * 38 * 4 boxes, with 6 per cell (ratios 2 and 3)
    start = 38 * 38 * 4
    np.testing.assert_allclose(p[start + 4], [0.5 * 16 / 300] * 2 + [0.2 * math.sqrt(3), 0.2 / math.sqrt(3)],
                               rtol=1e-6)
    # last box: the 1 x 1 map, 264/300 with ratio 1/2, height clipped to 1
    np.testing.assert_allclose(p[-1], [0.5, 0.5, 0.88 / r2, 1.0], rtol=1e-6)
    assert p.min() >= 0 and p.max() <= 1
    assert ssd.priors_per_location("ssd300") == [4, 6, 6, 6, 4, 4]


def test_paper_linear_scales():
    lo, hi = linear_scales(6, 0.2, 0.9)
    np.testing.assert_allclose(lo, [0.2, 0.34, 0.48, 0.62, 0.76, 0.9])
    np.testing.assert_allclose(hi, [0.34, 0.48, 0.62, 0.76, 0.9, 1.04])
    config = {"image_size": 300, "feature_maps": (38, 19, 10, 5, 3, 1), "s_min": 0.2, "s_max": 0.9,
              "aspect_ratios": ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))}
    p = prior_boxes(config)
    assert p.shape == (8732, 4)
    np.testing.assert_allclose(p[0], [0.5 / 38, 0.5 / 38, 0.2, 0.2], rtol=1e-6)    # steps default to S / f
    np.testing.assert_allclose(p[1, 2], math.sqrt(0.2 * 0.34), rtol=1e-6)
    assert prior_boxes("small").shape == (16 * 16 * 4 + 8 * 8 * 6 + 4 * 4 * 6 + 2 * 2 * 4 + 4, 4)


def test_prior_config_errors():
    with pytest.raises(ValueError, match="config must be one of"):
        prior_boxes("ssd512")
    bad = dict(ssd.SSD300_CONFIG, steps=(8, 16))
    with pytest.raises(ValueError, match="steps has 2 entries for 6"):
        prior_boxes(bad)
    with pytest.raises(ValueError, match="min_sizes and max_sizes, or s_min"):
        prior_boxes({"image_size": 64, "feature_maps": (4,), "aspect_ratios": ((2,),)})
    with pytest.raises(ValueError, match="num_maps"):
        linear_scales(0)


# ---------------------------------------------------------------- box forms and coding
def test_point_form_and_center_size_by_hand():
    np.testing.assert_allclose(point_form(np.array([[0.5, 0.5, 0.2, 0.4]])), [[0.4, 0.3, 0.6, 0.7]])
    np.testing.assert_allclose(center_size(np.array([[0.4, 0.3, 0.6, 0.7]])), [[0.5, 0.5, 0.2, 0.4]])


def test_encode_by_hand_and_decode_inverts_it(rng):
    prior = np.array([[0.5, 0.5, 0.2, 0.2]])
    got = encode(np.array([[0.4, 0.4, 0.6, 0.8]]), prior)
    # centre (0.5, 0.6): (0 / (0.1 * 0.2), 0.1 / (0.1 * 0.2)); size (0.2, 0.4): (log 1 / 0.2, log 2 / 0.2)
    np.testing.assert_allclose(got, [[0.0, 5.0, 0.0, math.log(2) / 0.2]], atol=1e-12)
    priors = prior_boxes("small").astype(np.float64)
    centre = rng.uniform(0.1, 0.9, (len(priors), 2))
    size = rng.uniform(0.05, 0.5, (len(priors), 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
    np.testing.assert_allclose(decode(encode(boxes, priors), priors), boxes, rtol=1e-12, atol=1e-12)
    loc = rng.normal(0, 1, (3, len(priors), 4))
    np.testing.assert_allclose(encode(decode(loc, priors), priors), loc, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- matching
PRIORS = np.array([[0.25, 0.25, 0.5, 0.5],     # (0, 0, 0.5, 0.5)
                   [0.75, 0.25, 0.5, 0.5],     # (0.5, 0, 1, 0.5)
                   [0.25, 0.75, 0.5, 0.5],     # (0, 0.5, 0.5, 1)
                   [0.75, 0.75, 0.5, 0.5]], np.float32)


def test_match_forces_each_truths_best_prior_and_thresholds_the_rest():
    truths = np.array([[0.0, 0.0, 0.45, 0.5],      # IoU 0.9 with prior 0
                       [0.5, 0.5, 0.7, 0.7]],      # IoU 0.16 with prior 3: below 0.5, forced
                      np.float32)
    loc_t, conf_t = match(truths, np.array([2, 1]), PRIORS)
    np.testing.assert_array_equal(conf_t, [2, 0, 0, 1])
    np.testing.assert_allclose(loc_t[3], encode(truths[1:], PRIORS[3:])[0], rtol=1e-6)
    # IoU exactly 0.5 is not > 0.5: background
    half = np.array([[0.0, 0.0, 0.25, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)   # IoU 0.5 with prior 0
    _, conf_t = match(half[:1], np.array([1]), PRIORS[[1, 0]])
    # prior 0 of this list is (0.5, 0, 1, 0.5) (IoU 0) and prior 1 the one with IoU 0.5: forced (best)
    np.testing.assert_array_equal(conf_t, [0, 1])
    _, conf_t = match(half, np.array([1, 3]), PRIORS)
    # truth 0's best is prior 0 (0.5 -> forced); truth 1 is prior 3 exactly
    np.testing.assert_array_equal(conf_t, [1, 0, 0, 3])


def test_match_threshold_is_strict():
    priors = np.array([[0.25, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5]], np.float32)
    truths = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.25, 0.5, 0.75]], np.float32)
    # truth 1 overlaps both priors with IoU 1/3 but is forced onto prior 0 (first on ties) ... which
    # truth 0 also claims: the later truth wins the shared prior, and prior 1 (IoU 1/3) stays background
    _, conf_t = match(truths, np.array([1, 2]), priors)
    np.testing.assert_array_equal(conf_t, [2, 0])


def test_match_batches_images_with_different_numbers_of_boxes():
    truths = [np.array([[0.0, 0.0, 0.45, 0.5]], np.float32), np.zeros((0, 4), np.float32),
              np.array([[0.5, 0.5, 1.0, 1.0], [0.5, 0.0, 1.0, 0.5]], np.float32)]
    labels = [np.array([3]), np.zeros(0, np.int64), np.array([1, 2])]
    loc_t, conf_t = match(truths, labels, PRIORS)
    assert loc_t.shape == (3, 4, 4) and conf_t.shape == (3, 4) and conf_t.dtype == np.int64
    np.testing.assert_array_equal(conf_t, [[3, 0, 0, 0], [0, 0, 0, 0], [0, 2, 0, 1]])
    assert not loc_t[1].any()
    np.testing.assert_allclose(loc_t[2, 3], 0, atol=1e-6)          # exact prior: zero offsets


def test_match_bad_input_is_a_clear_error():
    good = np.array([[0.1, 0.1, 0.4, 0.4]], np.float32)
    with pytest.raises(ValueError, match=r"row 0 has x2 <= x1"):
        match(np.array([[0.5, 0.1, 0.4, 0.4]]), np.array([1]), PRIORS)
    with pytest.raises(ValueError, match="row 0 is not finite"):
        match(np.array([[np.nan, 0.1, 0.4, 0.4]]), np.array([1]), PRIORS)
    with pytest.raises(ValueError, match=r"labels must be in \[1, 3\]"):
        match(good, np.array([4]), PRIORS, num_classes=4)
    with pytest.raises(ValueError, match="0 is the background"):
        match(good, np.array([0]), PRIORS)
    with pytest.raises(ValueError, match="labels of image 1"):
        match([good, good], [np.array([1]), np.array([1, 2])], PRIORS)
    with pytest.raises(TypeError, match="integers"):
        match(good, np.array([1.0]), PRIORS)


# ---------------------------------------------------------------- the loss
def ref_cross_entropy(logits, t):
    z = logits - logits.max(1, keepdims=True)
    return np.log(np.exp(z).sum(1)) - z[np.arange(len(t)), t]


def test_hard_negatives_by_hand():
    loss = np.array([[0.1, 0.9, 0.5, 0.7, 0.3, 0.2], [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    pos = np.array([[False, True, False, False, False, False], [True] * 3 + [False] * 3])
    got = hard_negatives(loss, pos, 3)
    # image 0: 1 positive -> the 3 highest non-positive losses 0.7, 0.5, 0.3; image 1: 9 capped at P - 1 = 5,
    # only 3 negatives exist
    np.testing.assert_array_equal(got, [[False, False, True, True, True, False], [False] * 3 + [True] * 3])
    np.testing.assert_array_equal(hard_negatives(loss[:1], np.zeros((1, 6), bool)), [[False] * 6])


def test_multibox_loss_by_hand_on_a_tiny_case():
    priors = np.array([[0.25, 0.25, 0.5, 0.5], [0.75, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5],
                       [0.75, 0.75, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)
    logits = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0], [0.5, -0.5, 2.5],
                       [-1.0, 0.0, 1.0]], np.float32)
    loc = np.array([[0.1, -0.2, 0.5, 2.0]] * 6, np.float32)
    target = {"boxes": np.array([[0.0, 0.0, 0.5, 0.5]], np.float32), "labels": np.array([2])}
    loc_p = nncore.tensor(loc[None], requires_grad=True)
    conf_p = nncore.tensor(logits[None], requires_grad=True)
    loss_l, loss_c = MultiBoxLoss(3, priors)((loc_p, conf_p), [target])
    # prior 0 is the only positive (IoU 1; prior 4 has IoU 1/7, prior 5 1/4), its targets are 0:
    # Smooth-L1 of (0.1, -0.2, 0.5, 2.0) = 0.005 + 0.02 + 0.125 + 1.5
    assert float(loss_l.item()) == pytest.approx(1.65, rel=1e-6)
    ce = ref_cross_entropy(logits.astype(np.float64), np.array([2, 0, 0, 0, 0, 0]))
    # negatives: the 3 highest background losses among priors 1..5: priors 2 (3.10), 4 (2.13), 5 (2.41)
    assert float(loss_c.item()) == pytest.approx(ce[[0, 2, 4, 5]].sum(), rel=1e-6)
    (loss_l + loss_c).backward()
    g = np.zeros((6, 4))
    g[0] = [0.1, -0.2, 0.5, 1.0]                  # Smooth-L1' = d inside (-1, 1), sign(d) outside
    np.testing.assert_allclose(loc_p.grad.numpy()[0], g, rtol=1e-6)
    z = np.exp(logits - logits.max(1, keepdims=True))
    soft = z / z.sum(1, keepdims=True)
    onehot = np.eye(3)[[2, 0, 0, 0, 0, 0]]
    want = (soft - onehot) * np.isin(np.arange(6), [0, 2, 4, 5])[:, None]
    np.testing.assert_allclose(conf_p.grad.numpy()[0], want, rtol=1e-5, atol=1e-7)


def test_multibox_loss_divides_by_the_batch_positives_and_handles_empty_images(rng):
    priors = prior_boxes("small")
    P = len(priors)
    loc = nncore.tensor(rng.normal(0, 1, (3, P, 4)).astype(np.float32), requires_grad=True)
    conf = nncore.tensor(rng.normal(0, 1, (3, P, 4)).astype(np.float32), requires_grad=True)
    targets = [{"boxes": np.array([[0.1, 0.1, 0.4, 0.5], [0.5, 0.5, 0.9, 0.8]], np.float32),
                "labels": np.array([1, 3])},
               {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)},
               {"boxes": np.array([[0.2, 0.6, 0.3, 0.7]], np.float32), "labels": np.array([2])}]
    crit = MultiBoxLoss(4, priors)
    loss_l, loss_c = crit((loc, conf), targets)
    loc_t, conf_t = match([t["boxes"] for t in targets], [t["labels"] for t in targets], priors)
    pos = conf_t > 0
    n = pos.sum()
    d = (loc.numpy().astype(np.float64) - loc_t)[pos]
    want_l = np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5).sum() / n
    assert float(loss_l.item()) == pytest.approx(want_l, rel=1e-5)
    ce = ref_cross_entropy(conf.numpy().reshape(-1, 4).astype(np.float64), conf_t.reshape(-1)).reshape(3, P)
    want_c = 0.0
    for i in range(3):
        k = int(pos[i].sum())
        neg = np.sort(ce[i][~pos[i]])[::-1][:min(3 * k, P - 1)]
        want_c += ce[i][pos[i]].sum() + neg.sum()
    assert float(loss_c.item()) == pytest.approx(want_c / n, rel=1e-5)
    (loss_l + loss_c).backward()
    assert not conf.grad.numpy()[1].any() and not loc.grad.numpy()[1].any()   # the empty image adds nothing
    # a batch of empty images: both losses 0 with zero gradients, not 0 / 0
    empty = [targets[1]] * 3
    loss_l, loss_c = crit((loc, conf), empty)
    assert float(loss_l.item()) == 0.0 and float(loss_c.item()) == 0.0


def test_multibox_loss_bad_input():
    priors = PRIORS
    loc, conf = nncore.zeros(1, 4, 4), nncore.zeros(1, 4, 3)
    crit = MultiBoxLoss(3, priors)
    with pytest.raises(ValueError, match="labels of image 0 must be in"):
        crit((loc, conf), [{"boxes": np.array([[0.1, 0.1, 0.3, 0.3]]), "labels": np.array([3])}])
    with pytest.raises(ValueError, match="x2 <= x1"):
        crit((loc, conf), [{"boxes": np.array([[0.3, 0.1, 0.1, 0.3]]), "labels": np.array([1])}])
    with pytest.raises(TypeError, match="dict with 'boxes' and 'labels'"):
        crit((loc, conf), [np.zeros((1, 5))])
    with pytest.raises(ValueError, match="expected loc"):
        crit((nncore.zeros(1, 5, 4), conf), [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)}])
    with pytest.raises(ValueError, match="num_classes"):
        MultiBoxLoss(1, priors)


# ---------------------------------------------------------------- detection
def ref_detect(loc, conf, priors, conf_thresh=0.01, nms_thresh=0.45, top_k=200, keep_top_k=200):
    """float64 per-class loop: threshold, top_k by score, greedy NMS, then the keep_top_k best."""
    z = np.exp(conf - conf.max(1, keepdims=True))
    probs = z / z.sum(1, keepdims=True)
    boxes = decode(loc.astype(np.float64), priors.astype(np.float64))
    found = []
    for c in range(1, conf.shape[1]):
        idx = np.flatnonzero(probs[:, c] > conf_thresh)
        idx = idx[np.argsort(-probs[idx, c], kind="stable")][:top_k]
        kept = []
        for i in idx:
            b = boxes[i]
            if all(iou(b, boxes[k]) <= nms_thresh for k in kept):
                kept.append(i)
        found += [(probs[i, c], c, i) for i in kept]
    found.sort(key=lambda f: -f[0])
    return found[:keep_top_k]


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_detect_by_hand():
    priors = np.array([[0.3, 0.3, 0.2, 0.2], [0.31, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]], np.float32)
    loc = np.zeros((3, 4), np.float32)
    conf = np.log(np.array([[0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.995, 0.004, 0.001]], np.float32))
    (out,) = detect(loc[None], conf[None], priors)
    # class 1: priors 0 (0.8) and 1 (0.6) overlap (IoU 0.905): 1 is suppressed; prior 2 (0.004) is under 0.01;
    # class 2: priors 0 and 1 both 0.1 (ties: the lower index first), 1 suppressed
    np.testing.assert_allclose(out["scores"], [0.8, 0.1], rtol=1e-5)
    np.testing.assert_array_equal(out["labels"], [1, 2])
    np.testing.assert_allclose(out["boxes"], [[0.2, 0.2, 0.4, 0.4]] * 2, rtol=1e-6)


def test_detect_matches_a_float64_per_class_loop(rng):
    priors = prior_boxes("small")
    loc = rng.normal(0, 0.5, (len(priors), 4)).astype(np.float32)
    conf = rng.normal(0, 1.5, (len(priors), 4)).astype(np.float32)
    conf[:, 0] += 2.0
    (out,) = detect(loc, conf, priors, top_k=50, keep_top_k=60)
    want = ref_detect(loc.astype(np.float64), conf.astype(np.float64), priors, top_k=50, keep_top_k=60)
    assert len(out["scores"]) == len(want) == 60
    np.testing.assert_allclose(out["scores"], [w[0] for w in want], rtol=1e-5)
    np.testing.assert_array_equal(out["labels"], [w[1] for w in want])
    np.testing.assert_allclose(out["boxes"], decode(loc, priors)[[w[2] for w in want]], rtol=1e-6)


def test_detect_widens_its_candidates_when_nms_leaves_too_few(rng):
    # every prior is the same box: one survivor per class, so the first 4 * keep_top_k candidates
    # cannot give keep_top_k survivors and all candidates must be looked at
    priors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (500, 1))
    loc = np.zeros((500, 4), np.float32)
    conf = rng.normal(0, 1, (500, 4)).astype(np.float32)
    (out,) = detect(loc, conf, priors, keep_top_k=5)
    want = ref_detect(loc.astype(np.float64), conf.astype(np.float64), priors, keep_top_k=5)
    assert len(want) == 3
    np.testing.assert_allclose(out["scores"], [w[0] for w in want], rtol=1e-5)
    np.testing.assert_array_equal(out["labels"], [w[1] for w in want])


def test_detect_shape_errors():
    with pytest.raises(ValueError, match="disagree"):
        detect(np.zeros((1, 4, 4), np.float32), np.zeros((1, 5, 3), np.float32), PRIORS)
    with pytest.raises(ValueError, match="conf_thresh"):
        detect(np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32), PRIORS, conf_thresh=-1)


# ---------------------------------------------------------------- the networks
def test_ssd300_parameters_and_ssd_pytorch_layout():
    model = ssd.ssd300(21)
    assert sum(p.numel() for p in model.parameters()) == 26_285_486
    state = model.state_dict()
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33]
    want = [f"vgg.{i}.{w}" for i in convs for w in ("weight", "bias")] + ["L2Norm.weight"]
    want += [f"extras.{i}.{w}" for i in range(8) for w in ("weight", "bias")]
    want += [f"{h}.{i}.{w}" for h in ("loc", "conf") for i in range(6) for w in ("weight", "bias")]
    assert sorted(state) == sorted(want)
    assert state["vgg.31.weight"].shape == (1024, 512, 3, 3) and model.vgg[31].dilation == (6, 6)
    assert state["conf.0.weight"].shape == (4 * 21, 512, 3, 3) and state["loc.1.weight"].shape == (24, 1024, 3, 3)
    np.testing.assert_array_equal(state["L2Norm.weight"].numpy(), np.full(512, 20.0, np.float32))
    assert model.vgg[16].ceil_mode and model.vgg[30].stride == 1


def torch_ssd300(torch, num_classes):
    """SSD300 written directly in PyTorch from the paper's description and ssd.pytorch's layout."""
    nn = torch.nn

    class L2Norm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.full((512,), 20.0))

        def forward(self, x):
            return x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) * self.weight.view(1, -1, 1, 1)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c = [], 3
            for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512]:
                if v in ("M", "C"):
                    layers.append(nn.MaxPool2d(2, 2, ceil_mode=v == "C"))
                else:
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                    c = v
            layers += [nn.MaxPool2d(3, 1, 1), nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.ReLU(),
                       nn.Conv2d(1024, 1024, 1), nn.ReLU()]
            self.vgg = nn.ModuleList(layers)
            self.L2Norm = L2Norm()
            self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1), nn.Conv2d(256, 512, 3, 2, 1), nn.Conv2d(512, 128, 1),
                                         nn.Conv2d(128, 256, 3, 2, 1), nn.Conv2d(256, 128, 1), nn.Conv2d(128, 256, 3),
                                         nn.Conv2d(256, 128, 1), nn.Conv2d(128, 256, 3)])
            chans, boxes = [512, 1024, 512, 256, 256, 256], [4, 6, 6, 6, 4, 4]
            self.loc = nn.ModuleList([nn.Conv2d(c, b * 4, 3, padding=1) for c, b in zip(chans, boxes)])
            self.conf = nn.ModuleList([nn.Conv2d(c, b * num_classes, 3, padding=1) for c, b in zip(chans, boxes)])

        def forward(self, x):
            sources = []
            for k in range(23):
                x = self.vgg[k](x)
            sources.append(self.L2Norm(x))
            for k in range(23, len(self.vgg)):
                x = self.vgg[k](x)
            sources.append(x)
            for k, v in enumerate(self.extras):
                x = torch.relu(v(x))
                if k % 2:
                    sources.append(x)
            n = x.shape[0]
            loc = torch.cat([h(s).permute(0, 2, 3, 1).reshape(n, -1) for s, h in zip(sources, self.loc)], 1)
            conf = torch.cat([h(s).permute(0, 2, 3, 1).reshape(n, -1) for s, h in zip(sources, self.conf)], 1)
            return loc.view(n, -1, 4), conf.view(n, -1, num_classes)

    return Twin()


def test_ssd300_forward_detect_and_a_pytorch_twin_with_the_same_weights():
    model = ssd.ssd300(21)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 300, 300)).astype(np.float32)
    with nncore.no_grad():
        loc, conf = model(nncore.tensor(x))
    assert tuple(loc.shape) == (1, 8732, 4) and tuple(conf.shape) == (1, 8732, 21)
    (found,) = detect(loc, conf, model.priors)
    assert len(found["scores"]) == 200 and set(found["labels"].tolist()) <= set(range(1, 21))
    torch = pytest.importorskip("torch")
    twin = torch_ssd300(torch, 21)
    twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    with torch.no_grad():
        tloc, tconf = twin(torch.from_numpy(x))
    np.testing.assert_allclose(loc.numpy(), tloc.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(conf.numpy(), tconf.numpy(), rtol=1e-3, atol=1e-3)


def test_small_ssd_learns_in_seconds():
    from nncore.data.detection import ShapesDetection, detection_collate

    nncore.manual_seed(0)
    data = ShapesDetection(16, 64, seed=5)
    x, targets = detection_collate([data[i] for i in range(16)])
    model = ssd.ssd_small(4, width=16)
    crit = MultiBoxLoss(4, model.priors)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    xb = nncore.tensor(x)
    losses = []
    for _ in range(40):
        loss_l, loss_c = crit(model(xb), targets)
        loss = loss_l + loss_c
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    from nncore.metrics import mean_average_precision

    found = model.detect(xb)
    assert mean_average_precision(found, targets)["map"] > 0.2    # chance is near 0 on these images


# ---------------------------------------------------------------- the recipe and the commands
def test_recipe_runs_saves_evaluates_and_detect_draws(tmp_path, capsys):
    pytest.importorskip("PIL")
    from nncore import recipes
    from nncore.data.detection import ShapesDetection, draw_boxes

    result = recipes.train("ssd", epochs=1, out=tmp_path, train_images=64, test_images=20, width=8)
    assert 0 <= result.value <= 1 and set(result.details["ap"]) == {"circle", "square", "triangle"}
    assert len(result.history["test_map"]) == 1 and result.history["conf_loss"][0] > 0
    assert recipes.evaluate("ssd", result.weights).value == pytest.approx(result.value)
    image, _ = ShapesDetection(1, 96, seed=3)[0]
    draw_boxes(image, [], []).save(tmp_path / "shapes.png")
    from nncore.cli import main

    capsys.readouterr()
    assert main(["detect", str(tmp_path / "shapes.png"), "--weights", result.weights, "--out", str(tmp_path / "found"),
                 "--threshold", "0.0", "--threads", "1"]) == 0
    assert "shapes.png: " in capsys.readouterr().out
    import json

    report = json.loads((tmp_path / "found" / "detections.json").read_text())
    assert report[0]["image"].endswith("shapes.png") and len(report[0]["detections"]) == 200
    first = report[0]["detections"][0]
    assert first["label"] in ("circle", "square", "triangle") and 0 <= min(first["box"]) <= max(first["box"]) <= 96
    assert (tmp_path / "found" / "shapes_detections.png").stat().st_size > 1000
    for args, message in [((str(tmp_path / "missing.png"),), "no such image file"),
                          ((str(tmp_path / "ssd.npz"),), "cannot read"),
                          ((str(tmp_path / "shapes.png"), "--threshold", "2"), "--threshold must be in")]:
        assert main(["detect", *args, "--weights", result.weights, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert main(["eval", "ssd", "--weights", result.weights]) == 0
    out = capsys.readouterr().out
    assert "AP circle" in out and "AP triangle" in out


def test_recipe_reads_a_voc_folder(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    from nncore import recipes
    from nncore.data.detection import VOC_CLASSES

    root = tmp_path / "voc"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    box = "<bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>"
    xml = (f"<annotation><object><name>dog</name>{box.format(11, 21, 50, 40)}</object>"
           f"<object><name>cat</name><difficult>1</difficult>{box.format(60, 10, 90, 70)}</object></annotation>")
    for i in range(4):
        (root / "Annotations" / f"{i}.xml").write_text(xml)
        Image.new("RGB", (100, 80), (20 * i, 100, 50)).save(root / "JPEGImages" / f"{i}.jpg")
    (root / "ImageSets/Main/trainval.txt").write_text("0\n1\n2\n3\n")
    result = recipes.train("ssd", epochs=1, data=root, width=8, batch_size=2)
    assert set(result.details["ap"]) == set(VOC_CLASSES)
    assert result.details["positives"][12] == 4 and result.details["positives"][8] == 0   # the cats are difficult
    with pytest.raises(recipes.RecipeError, match="--data"):
        recipes.train("ssd", epochs=1, data=tmp_path)


@pytest.mark.slow
def test_recipe_reaches_the_issue_target():
    from nncore import recipes

    result = recipes.train("ssd", threads=1)          # `nncore train ssd --threads 1`: 0.9455 measured
    assert result.value >= 0.9, result.details
