"""`nncore train ssd`: the small SSD learns to find circles, squares and triangles in synthetic
64 x 64 images (textured backgrounds, several shapes per image, some overlapping) with SSD's
augmentations, MultiBoxLoss (3:1 hard negatives) and Adam; the headline metric is the VOC2007
11-point mAP at IoU 0.5 on 300 held-out images. With --data VOC_FOLDER it trains on a Pascal VOC
folder's trainval set instead (images resized to 64 x 64) and scores its test set.

`nncore eval ssd --weights W` measures saved weights again (with the AP of each class), and
`nncore detect IMAGE... --weights W --out DIR` (detect_images) draws what they find."""

import json
import os

import numpy as np

from .. import optim
from ..data import DataLoader
from ..data.detection import (SHAPE_CLASSES, VOC_CLASSES, Resize, SSDAugmentation, ShapesDetection, VOCDetection,
                              detection_collate, draw_boxes, resize_image)
from ..data.readers import load_image
from ..metrics import mean_average_precision
from ..models.ssd import SMALL_CONFIG, MultiBoxLoss, ssd_small
from . import Option, RecipeError, Trained, _check_device, _settings, evaluator, load_weights, recipe, user_input
from ._run import Run
from ._common import to_device

TEST_SEED = 1 << 20          # the held-out shapes: the same images whatever the run's seed
IMAGE_SIZE = SMALL_CONFIG["image_size"]


def datasets(run, augment=True):
    """(train set, test set, class names): synthetic shapes, or a VOC folder given as --data."""
    opts = run.options
    transform = (SSDAugmentation(IMAGE_SIZE, expand_ratio=opts["expand"], generator=run.rng(3)) if augment
                 else Resize(IMAGE_SIZE))
    if run.data is None:
        return (ShapesDetection(opts["train_images"], IMAGE_SIZE, seed=run.seed, transform=transform),
                ShapesDetection(opts["test_images"], IMAGE_SIZE, seed=TEST_SEED), SHAPE_CLASSES)
    with user_input(f"--data {run.data}"):
        train_set = VOCDetection(run.data, "trainval", transform=transform)
        split = "test" if os.path.isfile(os.path.join(run.data, "ImageSets", "Main", "test.txt")) else "trainval"
        test_set = VOCDetection(run.data, split, keep_difficult=True, transform=Resize(IMAGE_SIZE))
    return train_set, test_set, VOC_CLASSES


def evaluate_map(model, test_set, run, batch_size=100):
    """VOC07 mAP@0.5 result dict (map, per-class ap, positives) of model on test_set."""
    found, truths = [], []
    for start in range(0, len(test_set), batch_size):
        images, targets = detection_collate([test_set[i] for i in range(start, min(start + batch_size, len(test_set)))])
        found += [{k: _host(v) for k, v in d.items()} for d in model.detect(to_device(images, run))]
        truths += targets
    classes = list(range(1, model.num_classes))
    return mean_average_precision(found, truths, iou_threshold=0.5, voc07=True, classes=classes)


def _host(array):
    """A NumPy copy of a CPU or CuPy array."""
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _log_classes(run, result, names):
    for label, ap in result["ap"].items():
        run.log(f"  AP {names[label - 1]:<12} {ap:.4f}  ({result['positives'][label]} objects)")


@recipe("ssd", "SSD: a small single-shot detector finds circles, squares and triangles (64x64 synthetic shapes)",
        metric="VOC07 mAP@0.5 on held-out synthetic shapes", epochs=10, batch_size=32, lr=3e-3,
        options={"train_images": Option(2000, "synthetic training images (a new augmentation every epoch)"),
                 "test_images": Option(300, "held-out synthetic images scored each epoch"),
                 "width": Option(32, "channels of the small SSD's base (its layers have width/2 .. 4 width)"),
                 "expand": Option(2.0, "largest zoom-out of the Expand augmentation (1 turns it off)"),
                 "augment": Option(True, "SSD's augmentations (photometric, expand, crop, flip)")})
def train(run):
    train_set, test_set, names = datasets(run, run.options["augment"])
    model = ssd_small(len(names) + 1, width=run.options["width"]).to(run.device)
    criterion = MultiBoxLoss(len(names) + 1, model.priors)
    opt = optim.Adam(model.parameters(), lr=run.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
    loader = DataLoader(train_set, batch_size=run.batch_size, shuffle=True, collate_fn=detection_collate,
                        generator=run.rng(1))
    result = None
    for epoch in range(1, run.epochs + 1):
        model.train()
        loc_sum = conf_sum = 0.0
        for images, targets in run.progress(loader, desc=f"epoch {epoch}/{run.epochs}", total=len(loader)):
            loss_l, loss_c = criterion(model(to_device(images, run)), targets)
            opt.zero_grad()
            (loss_l + loss_c).backward()
            opt.step()
            loc_sum += float(loss_l.item())
            conf_sum += float(loss_c.item())
        sched.step()
        result = evaluate_map(model, test_set, run)
        run.epoch(epoch, loc_loss=loc_sum / len(loader), conf_loss=conf_sum / len(loader), test_map=result["map"])
    _log_classes(run, result, names)
    run.picture("ssd_learning_curves", _draw_curves, run.history)
    if run.out is not None:
        run.picture("ssd_detections", _draw_detections, model, test_set, names, run)
    state = {"model": model.state_dict(), "classes": np.array(names)}
    per_class = {names[k - 1]: v for k, v in result["ap"].items()}
    return Trained(result["map"], state, {"ap": per_class, "positives": result["positives"]})


def build_model(run, state):
    names = tuple(str(n) for n in np.asarray(state["classes"]).tolist())
    model = ssd_small(len(names) + 1, width=run.options.get("width", 32))
    model.load_state_dict(state["model"])
    return model.to(run.device), names


@evaluator("ssd")
def evaluate(run, state):
    model, names = build_model(run, state)
    _, test_set, _ = datasets(run, augment=False)
    result = evaluate_map(model, test_set, run)
    _log_classes(run, result, names)
    return result["map"]


def detect_images(paths, weights, out, score_threshold=0.5, threads=None, device="cpu"):
    """`nncore detect`: runs the SSD saved in `weights` on each image (resized to 64 x 64), keeps
    detections scoring >= score_threshold, writes OUT/<name>_detections.png (the image at its own
    size with labelled boxes) and OUT/detections.json (boxes in the image's pixels); returns the
    JSON's list. Missing or unreadable images and foreign weights raise RecipeError."""
    if not 0 <= score_threshold <= 1:
        raise RecipeError(f"--threshold must be in [0, 1], got {score_threshold}")
    _check_device(device)
    saved = load_weights("ssd", weights)
    run = Run("ssd", None, None, None, device=device, options=saved.get("options", {}))
    with _settings(threads, 0):
        return _detect_images(paths, saved, weights, out, score_threshold, run)


def _detect_images(paths, saved, weights, out, score_threshold, run):
    try:
        model, names = build_model(run, saved["state"])
    except (KeyError, ValueError) as e:
        raise RecipeError(f"--weights {weights}: does not fit model 'ssd' ({e})") from None
    images = []
    for path in paths:
        if not os.path.isfile(path):
            raise RecipeError(f"{path}: no such image file")
        with user_input(path):
            images.append(load_image(path))
    os.makedirs(out, exist_ok=True)
    report = []
    for path, image in zip(paths, images):
        small, _ = Resize(IMAGE_SIZE)(image, None)
        (found,) = model.detect(to_device(small[None], run))
        found = {k: _host(v) for k, v in found.items()}
        keep = found["scores"] >= score_threshold
        h, w = image.shape[1:]
        boxes = found["boxes"][keep].clip(0, 1) * np.array([w, h, w, h], np.float32)
        labels, scores = found["labels"][keep], found["scores"][keep]
        picture = os.path.join(out, os.path.splitext(os.path.basename(path))[0] + "_detections.png")
        draw_boxes(image, boxes, labels, scores, names).save(picture)
        report.append({"image": path, "picture": picture, "detections": [
            {"label": names[int(k) - 1], "score": round(float(s), 4), "box": [round(float(v), 1) for v in b]}
            for b, k, s in zip(boxes, labels, scores)]})
    with open(os.path.join(out, "detections.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


def _draw_curves(fig, history):
    fig.set_size_inches(10, 3.8)
    ax_loss, ax_map = fig.subplots(1, 2)
    epochs = history["epoch"]
    ax_loss.plot(epochs, history["loc_loss"], label="localisation (Smooth-L1)")
    ax_loss.plot(epochs, history["conf_loss"], label="confidence (cross-entropy, 3:1 negatives)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss per positive")
    ax_loss.legend()
    ax_map.plot(epochs, history["test_map"], "o-")
    ax_map.set_xlabel("epoch")
    ax_map.set_ylabel("held-out VOC07 mAP@0.5")
    ax_map.set_ylim(0, 1)
    for ax in (ax_loss, ax_map):
        ax.grid(alpha=0.3)
    fig.suptitle("Small SSD on synthetic shapes")


def _draw_detections(fig, model, test_set, names, run, count=8):
    fig.set_size_inches(2.6 * count / 2, 5.4)
    axes = fig.subplots(2, count // 2)
    images, _ = detection_collate([test_set[i] for i in range(count)])
    for ax, image, found in zip(axes.ravel(), images, model.detect(to_device(images, run))):
        found = {k: _host(v) for k, v in found.items()}
        keep = found["scores"] >= 0.5
        try:
            drawn = draw_boxes(resize_image(image, (192, 192)), found["boxes"][keep] * 192, found["labels"][keep],
                               found["scores"][keep], names)
            ax.imshow(np.asarray(drawn))
        except ImportError:
            ax.imshow(image.transpose(1, 2, 0))
        ax.axis("off")
    fig.suptitle("held-out images: detections scoring >= 0.5")
