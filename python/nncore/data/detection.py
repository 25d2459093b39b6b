"""Object-detection data: a synthetic shapes set, a Pascal VOC folder reader, SSD's augmentations
and a collate function for batches whose images hold different numbers of boxes.

A sample is (image (3, H, W) float32 in [0, 1], target) with target a dict of
  "boxes" (G, 4) float32, (x1, y1, x2, y2) as fractions of the image's width and height,
  "labels" (G,) int64 in 1 .. len(classes) (0 is kept for the background, as in torchvision),
  "difficult" (G,) bool (VOC's flag; always False for the shapes).
Every random transform takes a `generator` (a NumPy Generator or an int seed), so a seeded run is
repeatable: the same seed and the same order of samples give the same images and boxes."""

import os
import xml.etree.ElementTree as ET

import numpy as np

from .dataset import Dataset, _generator
from .readers import load_image

SHAPE_CLASSES = ("circle", "square", "triangle")
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")

__all__ = ["SHAPE_CLASSES", "VOC_CLASSES", "Expand", "PhotometricDistort", "RandomMirror", "RandomSampleCrop",
           "Resize", "SSDAugmentation", "ShapesDetection", "VOCDetection", "detection_collate", "draw_boxes",
           "hsv_to_rgb", "resize_image", "rgb_to_hsv"]


def _target(boxes, labels, difficult=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int64).reshape(-1)
    difficult = np.zeros(len(labels), bool) if difficult is None else np.asarray(difficult, bool).reshape(-1)
    return {"boxes": boxes, "labels": labels, "difficult": difficult}


def detection_collate(samples):
    """(images (N, 3, H, W), [target, ...]): images stacked, targets kept as a list."""
    return np.stack([s[0] for s in samples]), [s[1] for s in samples]


# ---------------------------------------------------------------- synthetic shapes
def _texture(rng, size):
    """A background (3, S, S): a base colour, three random sinusoidal gratings and pixel noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.empty((3, size, size), np.float32)
    base = rng.uniform(0.15, 0.85, 3)
    image[:] = base[:, None, None]
    for _ in range(3):
        angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(1.0, 6.0), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
        image += rng.uniform(-0.12, 0.12, 3)[:, None, None] * wave
    image += rng.normal(0, 0.03, image.shape).astype(np.float32)
    return np.clip(image, 0, 1), base


def _shape_mask(kind, box, size):
    """Pixels (S, S) whose centres fall inside the shape with bounding box (x1, y1, x2, y2) pixels."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    x1, y1, x2, y2 = box
    if kind == 0:                      # circle
        cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if kind == 1:                      # square
        return (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)
    # triangle: apex at the top centre, base along the bottom edge
    cx = (x1 + x2) / 2
    half = (x2 - x1) / 2 * (y - y1) / (y2 - y1)
    return (y >= y1) & (y <= y2) & (np.abs(x - cx) <= half)


def _box_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def make_shapes_image(rng, size=64, objects=(1, 4), scale=(0.2, 0.5), max_overlap=0.3, min_visible=0.6):
    """One synthetic image and its target: `objects` (min, max) shapes of random class, size (the
    box side as a fraction of the image, from `scale`), colour (kept apart from the background's base
    colour) and position on a textured background. Shapes may overlap (box IoU up to max_overlap),
    later ones drawn on top, as long as every shape keeps min_visible of its pixels."""
    image, base = _texture(rng, size)
    boxes, labels, masks, visible = [], [], [], []
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        for _attempt in range(30):
            kind = int(rng.integers(0, 3))
            w = rng.uniform(*scale) * size
            h = w if kind != 2 else w * rng.uniform(0.8, 1.0)
            x1, y1 = rng.uniform(0, size - w), rng.uniform(0, size - h)
            box = (x1, y1, x1 + w, y1 + h)
            if any(_box_iou(box, b) > max_overlap for b in boxes):
                continue
            mask = _shape_mask(kind, box, size)
            if not mask.any() or any((v & ~mask).sum() < min_visible * m.sum() for v, m in zip(visible, masks)):
                continue
            visible = [v & ~mask for v in visible] + [mask]
            masks.append(mask)
            boxes.append(box)
            labels.append(kind + 1)
            while True:
                colour = rng.uniform(0, 1, 3)
                if np.abs(colour - base).max() > 0.35:
                    break
            shade = colour[:, None, None] + rng.normal(0, 0.02, (3, size, size))
            image = np.where(mask, shade, image).astype(np.float32)
            break
    return np.clip(image, 0, 1), _target(np.array(boxes, np.float32).reshape(-1, 4) / size, labels)


class ShapesDetection(Dataset):
    """`num_images` synthetic images (see make_shapes_image) of circles, squares and triangles
    (labels 1, 2, 3 = SHAPE_CLASSES), image i drawn from a generator seeded with (seed, i): the set
    is the same whatever the order of access, and different seeds give disjoint sets. `transform`
    (image, target) -> (image, target) runs on each sample (the SSD augmentation for training)."""

    classes = SHAPE_CLASSES

    def __init__(self, num_images, image_size=64, seed=0, objects=(1, 4), scale=(0.2, 0.5), max_overlap=0.3,
                 transform=None):
        if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) or num_images < 0:
            raise ValueError(f"ShapesDetection: num_images must be a non-negative int, got {num_images!r}")
        if not isinstance(image_size, (int, np.integer)) or image_size < 16:
            raise ValueError(f"ShapesDetection: image_size must be an int >= 16, got {image_size!r}")
        if not 0 <= objects[0] <= objects[1]:
            raise ValueError(f"ShapesDetection: objects must be (min, max) with 0 <= min <= max, got {objects!r}")
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"ShapesDetection: scale must be (min, max) in (0, 1], got {scale!r}")
        self.num_images, self.image_size, self.seed = int(num_images), int(image_size), seed
        self.objects, self.scale, self.max_overlap = tuple(objects), tuple(scale), max_overlap
        self.transform = transform
        self._cache = {}

    def __len__(self):
        return self.num_images

    def __getitem__(self, index):
        index = int(index)
        if not -self.num_images <= index < self.num_images:
            raise IndexError(f"ShapesDetection: index {index} out of range for {self.num_images} images")
        index %= self.num_images
        if index not in self._cache:
            rng = np.random.default_rng([self.seed, index])
            self._cache[index] = make_shapes_image(rng, self.image_size, self.objects, self.scale, self.max_overlap)
        image, target = self._cache[index]
        image, target = image.copy(), {k: v.copy() for k, v in target.items()}
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target


# ---------------------------------------------------------------- Pascal VOC
def _field(node, path, where):
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise ValueError(f"{where} has no <{path}>")
    return found.text.strip()


def parse_voc_xml(path, classes=VOC_CLASSES, keep_difficult=False):
    """The objects of one VOC annotation file: (boxes (G, 4) float32 in pixels, labels (G,), difficult (G,)).

    VOC's 1-based inclusive pixel boxes become continuous ones: (xmin - 1, ymin - 1, xmax, ymax).
    Each object needs <name> (one of classes) and <bndbox> with numeric <xmin> <ymin> <xmax> <ymax>,
    xmin <= xmax and ymin <= ymax; <difficult> is optional (0). Objects marked difficult are dropped
    unless keep_difficult. A file without objects gives empty arrays. Anything else: ValueError
    naming the file and the object."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not a VOC annotation ({e})") from None
    boxes, labels, difficult = [], [], []
    for k, obj in enumerate(root.iter("object")):
        where = f"{path}: object {k}"
        name = _field(obj, "name", where)
        if name not in classes:
            raise ValueError(f"{where}: unknown class {name!r}")
        hard = obj.find("difficult")
        hard = hard is not None and hard.text is not None and hard.text.strip() not in ("", "0")
        if hard and not keep_difficult:
            continue
        try:
            x1, y1, x2, y2 = (float(_field(obj, f"bndbox/{c}", where)) for c in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as e:
            raise ValueError(str(e) if "has no" in str(e) else f"{where}: bndbox coordinates must be numbers")
        if not all(np.isfinite((x1, y1, x2, y2))):
            raise ValueError(f"{where}: bndbox coordinates must be finite")
        if x2 < x1 or y2 < y1:
            raise ValueError(f"{where}: bndbox has xmax < xmin or ymax < ymin ({x1}, {y1}, {x2}, {y2})")
        boxes.append((x1 - 1, y1 - 1, x2, y2))
        labels.append(classes.index(name) + 1)
        difficult.append(hard)
    return (np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64),
            np.array(difficult, bool))


class VOCDetection(Dataset):
    """A Pascal VOC folder (VOC2007's layout): root/ImageSets/Main/<image_set>.txt lists the image
    ids, root/Annotations/<id>.xml their objects, root/JPEGImages/<id>.jpg the images (Pillow).

    All annotations are read and checked when the set is made, so a broken file is reported at once
    (ValueError naming it). Labels are 1 + the index in `classes`; boxes become fractions of the
    image (clipped to it) when a sample is read; `transform` (image, target) -> (image, target)."""

    def __init__(self, root, image_set="trainval", keep_difficult=False, transform=None, classes=VOC_CLASSES):
        root = os.fspath(root)
        listing = os.path.join(root, "ImageSets", "Main", f"{image_set}.txt")
        if not os.path.isfile(listing):
            raise FileNotFoundError(f"VOCDetection: no {listing} (expected a VOC folder with Annotations/, "
                                    f"JPEGImages/ and ImageSets/Main/)")
        with open(listing) as f:
            self.ids = [line.split()[0] for line in f if line.strip()]
        self.root, self.classes, self.transform = root, tuple(classes), transform
        self.annotations = []
        for i in self.ids:
            xml = os.path.join(root, "Annotations", f"{i}.xml")
            if not os.path.isfile(xml):
                raise FileNotFoundError(f"VOCDetection: {listing} lists {i!r} but {xml} does not exist")
            self.annotations.append(parse_voc_xml(xml, self.classes, keep_difficult))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        image = load_image(os.path.join(self.root, "JPEGImages", f"{self.ids[index]}.jpg"))
        boxes, labels, difficult = self.annotations[index]
        h, w = image.shape[1:]
        boxes = np.clip(boxes / np.array([w, h, w, h], np.float32), 0, 1)
        image, target = image, _target(boxes, labels, difficult)
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target


# ---------------------------------------------------------------- SSD augmentation
def rgb_to_hsv(image):
    """(3, H, W) RGB in [0, 1] -> HSV with hue in degrees [0, 360), saturation and value in [0, 1]."""
    r, g, b = image
    v = image.max(0)
    c = v - image.min(0)
    s = np.where(v > 0, c / np.where(v > 0, v, 1), 0)
    safe = np.where(c > 0, c, 1)
    h = np.where(v == r, (g - b) / safe % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = np.where(c > 0, h * 60.0, 0.0)
    return np.stack([h, s, v]).astype(np.float32)


def hsv_to_rgb(hsv):
    """The inverse of rgb_to_hsv."""
    h, s, v = hsv
    h = (h % 360.0) / 60.0
    c = v * s
    x = c * (1 - np.abs(h % 2 - 1))
    m = v - c
    sector = np.floor(h).astype(int) % 6
    zero = np.zeros_like(c)
    r = np.choose(sector, [c, x, zero, zero, x, c])
    g = np.choose(sector, [x, c, c, x, zero, zero])
    b = np.choose(sector, [zero, zero, x, c, c, x])
    return (np.stack([r, g, b]) + m).astype(np.float32)


def resize_image(image, size):
    """Bilinear resize of (C, H, W) to (C, h, w) with half-pixel centres (align_corners=False)."""
    h, w = size
    out = image
    for axis, (n_in, n_out) in ((1, (image.shape[1], h)), (2, (image.shape[2], w))):
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = (src - lo).astype(np.float32)
        shape = [1, 1, 1]
        shape[axis] = n_out
        frac = frac.reshape(shape)
        out = np.take(out, lo, axis) * (1 - frac) + np.take(out, hi, axis) * frac
    return out.astype(np.float32)


class PhotometricDistort:
    """Each with probability 1/2, in a random one of two orders: brightness (+- 32/255), contrast
    (x 0.5-1.5, before or after the HSV steps), saturation (x 0.5-1.5) and hue (+- 18 degrees);
    pixels clipped to [0, 1]. Boxes are unchanged."""

    def __init__(self, generator=None):
        self.rng = _generator(generator)

    def __call__(self, image, target):
        rng = self.rng
        image = image.astype(np.float32, copy=True)
        if rng.random() < 0.5:
            image += rng.uniform(-32 / 255, 32 / 255)
        contrast_first = rng.random() < 0.5
        contrast = rng.uniform(0.5, 1.5) if rng.random() < 0.5 else None
        if contrast is not None and contrast_first:
            image *= contrast
        saturation = rng.uniform(0.5, 1.5) if rng.random() < 0.5 else None
        hue = rng.uniform(-18, 18) if rng.random() < 0.5 else None
        if saturation is not None or hue is not None:
            hsv = rgb_to_hsv(np.clip(image, 0, 1))
            if saturation is not None:
                hsv[1] = np.clip(hsv[1] * saturation, 0, 1)
            if hue is not None:
                hsv[0] = (hsv[0] + hue) % 360
            image = hsv_to_rgb(hsv)
        if contrast is not None and not contrast_first:
            image *= contrast
        return np.clip(image, 0, 1), target


class Expand:
    """With probability p, zooms out: the image is placed at a random spot of a canvas ratio x its
    size (ratio uniform in [1, max_ratio]) filled with `mean` (per channel); boxes follow."""

    def __init__(self, mean=(0.485, 0.456, 0.406), max_ratio=4.0, p=0.5, generator=None):
        if max_ratio < 1:
            raise ValueError(f"Expand: max_ratio must be >= 1, got {max_ratio}")
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.max_ratio, self.p = max_ratio, p
        self.rng = _generator(generator)

    def __call__(self, image, target):
        if self.rng.random() >= self.p:
            return image, target
        c, h, w = image.shape
        ratio = self.rng.uniform(1, self.max_ratio)
        H, W = int(h * ratio), int(w * ratio)
        left, top = int(self.rng.uniform(0, W - w)), int(self.rng.uniform(0, H - h))
        canvas = np.empty((c, H, W), np.float32)
        canvas[:] = self.mean
        canvas[:, top:top + h, left:left + w] = image
        boxes = target["boxes"] * np.array([w, h, w, h], np.float32)
        boxes = (boxes + np.array([left, top, left, top], np.float32)) / np.array([W, H, W, H], np.float32)
        return canvas, {**target, "boxes": boxes.astype(np.float32)}


class RandomSampleCrop:
    """SSD's patch sampling. Draws one of: the whole image; a patch whose IoU with some box is at
    least one of min_ious; an unconstrained patch. A patch has sides in [0.3, 1] of the image's and
    aspect ratio h / w in [0.5, 2]; it must contain the centre of at least one box. Boxes whose
    centres fall inside are kept, clipped to the patch; the others are dropped. Up to 50 patches are
    tried per draw; after 20 draws without success the image is kept whole. An image without boxes
    gets an unconstrained patch (or is kept whole)."""

    def __init__(self, min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), generator=None):
        self.options = [None] + list(min_ious) + [-np.inf]
        self.rng = _generator(generator)

    def __call__(self, image, target):
        _, h, w = image.shape
        boxes = target["boxes"] * np.array([w, h, w, h], np.float32)
        for _draw in range(20):
            mode = self.options[int(self.rng.integers(0, len(self.options)))]
            if mode is None:
                return image, target
            for _trial in range(50):
                cw, ch = self.rng.uniform(0.3 * w, w), self.rng.uniform(0.3 * h, h)
                if not 0.5 <= ch / cw <= 2:
                    continue
                left, top = int(self.rng.uniform(0, w - cw)), int(self.rng.uniform(0, h - ch))
                rect = np.array([left, top, left + int(cw), top + int(ch)], np.float32)
                if rect[2] <= rect[0] or rect[3] <= rect[1]:
                    continue
                if len(boxes):
                    if max(_box_iou(rect, b) for b in boxes) < mode:
                        continue
                    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
                    inside = ((centres > rect[:2]) & (centres < rect[2:])).all(1)
                    if not inside.any():
                        continue
                else:
                    inside = np.zeros(0, bool)
                x1, y1, x2, y2 = rect.astype(int)
                crop = image[:, y1:y2, x1:x2]
                kept = boxes[inside].copy()
                kept[:, :2] = np.maximum(kept[:, :2], rect[:2]) - rect[:2]
                kept[:, 2:] = np.minimum(kept[:, 2:], rect[2:]) - rect[:2]
                size = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1], np.float32)
                out = {k: v[inside] for k, v in target.items()}
                out["boxes"] = (kept / size).astype(np.float32)
                return crop, out
        return image, target


class RandomMirror:
    """With probability p, flips the image left-right; boxes follow."""

    def __init__(self, p=0.5, generator=None):
        self.p = p
        self.rng = _generator(generator)

    def __call__(self, image, target):
        if self.rng.random() >= self.p:
            return image, target
        boxes = target["boxes"].copy()
        boxes[:, [0, 2]] = 1 - target["boxes"][:, [2, 0]]
        return image[:, :, ::-1].copy(), {**target, "boxes": boxes}


class Resize:
    """Bilinear resize to (size, size) (or (h, w)); fractional boxes are unchanged."""

    def __init__(self, size):
        self.size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)

    def __call__(self, image, target):
        if image.shape[1:] == self.size:
            return image, target
        return resize_image(image, self.size), target


class SSDAugmentation:
    """SSD's training augmentation: photometric distortions, expand (zoom out onto a mean-filled
    canvas up to expand_ratio x), IoU-constrained random crop, horizontal flip, resize to `size`.
    All steps draw from one generator, so a seed fixes the whole sequence."""

    def __init__(self, size, mean=(0.485, 0.456, 0.406), expand_ratio=4.0, generator=None):
        rng = _generator(generator)
        self.steps = [PhotometricDistort(rng), Expand(mean, expand_ratio, generator=rng),
                      RandomSampleCrop(generator=rng), RandomMirror(generator=rng), Resize(size)]

    def __call__(self, image, target):
        for step in self.steps:
            image, target = step(image, target)
        return image, target


# ---------------------------------------------------------------- pictures
_COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
            (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128)]


def draw_boxes(image, boxes, labels, scores=None, classes=None, width=2):
    """A Pillow image of `image` (a PIL image, or (3, H, W) in [0, 1]) with boxes (K, 4) in pixels
    drawn and labelled "<class> <score>"."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise ImportError("drawing boxes needs Pillow: pip install 'nncore[images]'") from None
    if not isinstance(image, Image.Image):
        array = np.clip(np.asarray(image).transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
    image = image.convert("RGB")
    pen = ImageDraw.Draw(image)
    for k, (box, label) in enumerate(zip(np.asarray(boxes, float).reshape(-1, 4), np.asarray(labels).tolist())):
        colour = _COLOURS[int(label) % len(_COLOURS)]
        name = classes[int(label) - 1] if classes is not None and 1 <= label <= len(classes) else str(label)
        text = name if scores is None else f"{name} {float(scores[k]):.2f}"
        pen.rectangle([float(v) for v in box], outline=colour, width=width)
        x, y = float(box[0]), max(float(box[1]) - 11, 0)
        left, top, right, bottom = pen.textbbox((x, y), text)
        pen.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=colour)
        pen.text((x, y), text, fill=(255, 255, 255))
    return image
