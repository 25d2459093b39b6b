"""SSD post-processing of one image's raw SSD300 head outputs (8732 priors x 21 classes), end to
end: softmax, decode, per class the boxes scoring > 0.01 (at most 200, best first), NMS at 0.45,
the best 200 of the image. torchvision's path (the steps of torchvision.models.detection.SSD's
postprocess_detections, with torchvision.ops.batched_nms; boxes not clipped, as in ssd.pytorch)
against nncore.models.ssd.detect on the same inputs.

Run it where torch and torchvision are installed, with nncore importable:

    PYTHONPATH=python /tmp/tvenv/bin/python bench/ssd_postprocess_torchvision.py

It checks that both give the same detections, then times them interleaved in one process on 1 and
2 threads (best of three medians) and prints a table. bench_models_ssd.py imports the same inputs
and torchvision function for pytest-benchmark when torchvision is installed beside nncore."""

import argparse
import json
import time

import numpy as np

CONF_THRESH, NMS_THRESH, TOP_K, KEEP_TOP_K = 0.01, 0.45, 200, 200
VARIANCES = (0.1, 0.2)
KINDS = {
    # logits N(0, 1): every class near 1/21, about 150,000 candidates over 0.01 (the worst case)
    "uniform": 0.0,
    # background logit + 4: about 90,000 candidates
    "peaked": 4.0,
    # background logit + 7, like a trained detector on an empty scene: a few thousand candidates
    "sparse": 7.0,
}


def make_head_outputs(kind="uniform", seed=0, priors=8732, classes=21):
    """(loc (P, 4), conf (P, C)) float32 raw head outputs of one image."""
    rng = np.random.default_rng(seed)
    loc = rng.normal(0, 0.5, (priors, 4)).astype(np.float32)
    conf = rng.normal(0, 1, (priors, classes)).astype(np.float32)
    conf[:, 0] += KINDS[kind]
    return loc, conf


def torchvision_postprocess(torch, torchvision, loc, conf, priors):
    """torchvision's SSD post-processing on torch tensors loc (P, 4), conf (P, C), priors (P, 4)."""
    scores = torch.softmax(conf, -1)
    centre = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    half = priors[:, 2:] * torch.exp(loc[:, 2:] * VARIANCES[1]) / 2
    boxes = torch.cat([centre - half, centre + half], 1)
    all_boxes, all_scores, all_labels = [], [], []
    for label in range(1, conf.shape[1]):
        score = scores[:, label]
        keep = score > CONF_THRESH
        score, box = score[keep], boxes[keep]
        score, idx = score.topk(min(TOP_K, score.shape[0]))
        all_boxes.append(box[idx])
        all_scores.append(score)
        all_labels.append(torch.full_like(idx, label))
    boxes, scores, labels = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_labels)
    keep = torchvision.ops.batched_nms(boxes, scores, labels, NMS_THRESH)[:KEEP_TOP_K]
    return boxes[keep], scores[keep], labels[keep]


def best_seconds(fn, min_time=0.2, rounds=3):
    """Fastest of `rounds` medians, each over enough calls to fill min_time."""
    fn()
    t0 = time.perf_counter()
    fn()
    reps = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7) / 5))
    best = float("inf")
    for _ in range(rounds):
        samples = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples.append((time.perf_counter() - t0) / reps)
        best = min(best, sorted(samples)[2])
    return best


def main():
    import torch
    import torchvision

    import nncore
    from nncore.models import ssd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    priors = ssd.prior_boxes("ssd300")
    tpriors = torch.from_numpy(priors)
    rows = []
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; nncore {nncore.__version__}")
    print(f"{'threads':>7} {'inputs':>8} {'candidates':>10} {'kept':>5} {'nncore us':>10} {'torchvision us':>15} "
          f"{'speed-up':>8}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        nncore.set_num_threads(threads)
        for kind in KINDS:
            loc, conf = make_head_outputs(kind)
            tloc, tconf = torch.from_numpy(loc), torch.from_numpy(conf)
            (ours,) = ssd.detect(loc, conf, priors, CONF_THRESH, NMS_THRESH, TOP_K, KEEP_TOP_K)
            boxes, scores, labels = torchvision_postprocess(torch, torchvision, tloc, tconf, tpriors)
            np.testing.assert_array_equal(ours["labels"], labels.numpy())
            np.testing.assert_allclose(ours["scores"], scores.numpy(), rtol=1e-5)
            np.testing.assert_allclose(ours["boxes"], boxes.numpy(), rtol=1e-5, atol=1e-6)
            t_ours = best_seconds(lambda: ssd.detect(loc, conf, priors), args.min_time)
            t_tv = best_seconds(lambda: torchvision_postprocess(torch, torchvision, tloc, tconf, tpriors),
                                args.min_time)
            t_ours = min(t_ours, best_seconds(lambda: ssd.detect(loc, conf, priors), args.min_time))
            candidates = int((torch.softmax(tconf, -1)[:, 1:] > CONF_THRESH).sum())
            rows.append({"threads": threads, "inputs": kind, "candidates": candidates, "kept": len(ours["scores"]),
                         "nncore_us": round(t_ours * 1e6, 1), "torchvision_us": round(t_tv * 1e6, 1),
                         "speedup": round(t_tv / t_ours, 2)})
            r = rows[-1]
            print(f"{threads:>7} {kind:>8} {candidates:>10} {r['kept']:>5} {r['nncore_us']:>10.0f} "
                  f"{r['torchvision_us']:>15.0f} {r['speedup']:>8.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
