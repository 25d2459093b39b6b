"""nncore.data.detection: the synthetic shapes set, SSD's augmentations (seeded), the Pascal VOC
reader on a tiny VOC folder written here, and box drawing."""

import numpy as np
import pytest

from nncore.data import DataLoader
from nncore.data.detection import (Expand, PhotometricDistort, RandomMirror, RandomSampleCrop, Resize,
                                   SSDAugmentation, ShapesDetection, VOCDetection, detection_collate, draw_boxes,
                                   hsv_to_rgb, resize_image, rgb_to_hsv)


def same(a, b):
    return np.array_equal(a[0], b[0]) and all(np.array_equal(a[1][k], b[1][k]) for k in a[1])


# ---------------------------------------------------------------- shapes
def test_shapes_are_deterministic_and_order_free():
    a, b = ShapesDetection(20, 64, seed=3), ShapesDetection(20, 64, seed=3)
    assert same(a[7], b[7]) and same(a[0], b[0])
    assert not np.array_equal(a[0][0], ShapesDetection(20, 64, seed=4)[0][0])


def test_shapes_targets_are_valid_and_varied():
    data = ShapesDetection(60, 64, seed=0)
    counts, overlapping = [], 0
    for i in range(len(data)):
        image, t = data[i]
        assert image.shape == (3, 64, 64) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        b = t["boxes"]
        assert b.dtype == np.float32 and (b >= 0).all() and (b <= 1).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert set(t["labels"].tolist()) <= {1, 2, 3} and not t["difficult"].any()
        counts.append(len(b))
        for j in range(len(b)):
            for k in range(j):
                overlapping += min(b[j, 2], b[k, 2]) > max(b[j, 0], b[k, 0]) and \
                    min(b[j, 3], b[k, 3]) > max(b[j, 1], b[k, 1])
    assert min(counts) >= 1 and max(counts) == 4 and np.mean(counts) > 2
    assert overlapping > 5


def test_a_square_fills_its_box():
    data = ShapesDetection(40, 64, seed=1, objects=(1, 1))
    for i in range(len(data)):
        image, t = data[i]
        if t["labels"][0] == 2:
            x1, y1, x2, y2 = t["boxes"][0] * 64
            inner = image[:, int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
            assert inner.std(axis=(1, 2)).max() < 0.05        # one colour (+ small noise) inside the box
            return
    pytest.fail("no square drawn")


def test_shapes_bad_arguments():
    with pytest.raises(ValueError, match="num_images"):
        ShapesDetection(-1)
    with pytest.raises(ValueError, match="objects"):
        ShapesDetection(4, objects=(3, 1))
    with pytest.raises(IndexError):
        ShapesDetection(4)[4]


# ---------------------------------------------------------------- augmentation
def sample():
    image = np.random.default_rng(0).uniform(0, 1, (3, 40, 60)).astype(np.float32)
    target = {"boxes": np.array([[0.1, 0.2, 0.5, 0.6], [0.6, 0.1, 0.9, 0.4]], np.float32),
              "labels": np.array([1, 3]), "difficult": np.array([False, True])}
    return image, target


def test_augmentation_is_deterministic_under_a_seed():
    runs = []
    for _ in range(2):
        aug = SSDAugmentation(32, generator=7)
        runs.append([aug(*sample()) for _ in range(10)])
    assert all(same(a, b) for a, b in zip(*runs))
    other = SSDAugmentation(32, generator=8)
    assert not all(same(a, other(*sample())) for a in runs[0])
    for image, t in runs[0]:
        assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1
        b = t["boxes"]
        assert (b >= 0).all() and (b <= 1).all() and (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert len(b) == len(t["labels"]) == len(t["difficult"]) >= 1


def test_mirror_by_hand():
    image, t = sample()
    flipped, ft = RandomMirror(p=1.0)(image, t)
    np.testing.assert_array_equal(flipped, image[:, :, ::-1])
    np.testing.assert_allclose(ft["boxes"], [[0.5, 0.2, 0.9, 0.6], [0.1, 0.1, 0.4, 0.4]], atol=1e-7)


def test_expand_places_the_image_on_a_mean_canvas_and_moves_the_boxes():
    image, t = sample()
    canvas, et = Expand(mean=(0.1, 0.2, 0.3), max_ratio=3, p=1.0, generator=0)(image, t)
    H, W = canvas.shape[1:]
    assert H >= 40 and W >= 60 and (H, W) != (40, 60)
    # find the pasted image: boxes in pixels of the canvas cover the same pixels as in the original
    x1, y1 = np.round(et["boxes"][0, :2] * [W, H] - t["boxes"][0, :2] * [60, 40]).astype(int)
    np.testing.assert_array_equal(canvas[:, y1:y1 + 40, x1:x1 + 60], image)
    assert np.allclose(canvas[:, 0, 0], [0.1, 0.2, 0.3]) or (x1, y1) == (0, 0)
    np.testing.assert_allclose(et["boxes"] * [W, H, W, H], t["boxes"] * [60, 40, 60, 40] + [x1, y1, x1, y1],
                               atol=1e-4)


def test_random_crop_keeps_boxes_whose_centres_are_inside():
    crop = RandomSampleCrop(generator=1)
    for _ in range(30):
        image, t = sample()
        out, ot = crop(image, t)
        if out.shape == image.shape:
            continue
        assert out.shape[1] >= 0.3 * 40 - 1 and out.shape[2] >= 0.3 * 60 - 1
        assert 1 <= len(ot["boxes"]) <= 2 and (ot["boxes"] >= 0).all() and (ot["boxes"] <= 1).all()
        assert set(ot["labels"].tolist()) <= {1, 3}


def test_random_crop_min_iou_holds():
    image = np.zeros((3, 100, 100), np.float32)
    t = {"boxes": np.array([[0.2, 0.2, 0.8, 0.8]], np.float32), "labels": np.array([1]),
         "difficult": np.array([False])}
    crop = RandomSampleCrop(min_ious=(0.9,), generator=2)
    crop.options = [0.9]                          # only the 0.9 constraint
    for _ in range(10):
        out, ot = crop(image, t)
        h, w = out.shape[1:]
        if (h, w) == (100, 100):
            continue
        # IoU(patch, box) >= 0.9 and the kept box is their intersection: it covers >= 0.9 of the patch
        b = ot["boxes"][0]
        assert (b[2] - b[0]) * (b[3] - b[1]) >= 0.9 - 1e-6


def test_an_image_without_boxes_goes_through_the_augmentation():
    image, _ = sample()
    empty = {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64), "difficult": np.zeros(0, bool)}
    aug = SSDAugmentation(24, generator=0)
    for _ in range(10):
        out, t = aug(image, empty)
        assert out.shape == (3, 24, 24) and t["boxes"].shape == (0, 4) and t["labels"].shape == (0,)


def test_photometric_distortion_keeps_boxes_and_range():
    image, t = sample()
    for seed in range(5):
        out, ot = PhotometricDistort(generator=seed)(image, t)
        assert out.shape == image.shape and 0 <= out.min() and out.max() <= 1
        assert ot is t


def test_hsv_round_trip_and_hand_values():
    rgb = np.random.default_rng(0).uniform(0, 1, (3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)
    red = np.array([1.0, 0.0, 0.0], np.float32).reshape(3, 1, 1)
    np.testing.assert_allclose(rgb_to_hsv(red).ravel(), [0, 1, 1])
    np.testing.assert_allclose(rgb_to_hsv(np.array([0.0, 0.5, 0.5], np.float32).reshape(3, 1, 1)).ravel(),
                               [180, 1, 0.5])


def test_resize_by_hand():
    image = np.array([[[0.0, 1.0], [2.0, 3.0]]], np.float32)           # (1, 2, 2)
    out = resize_image(image, (4, 4))
    # half-pixel centres: output x = 0.25, 0.75, 1.25, 1.75 map to source -0.25 (clamped 0), 0.25, 0.75, 1.25 (1)
    np.testing.assert_allclose(out[0, 0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(out[0, :, 0], [0.0, 0.5, 1.5, 2.0])
    image3, t = sample()
    resized, rt = Resize(20)(image3, t)
    assert resized.shape == (3, 20, 20) and rt is t


def test_collate_keeps_targets_apart():
    data = ShapesDetection(5, 32, seed=0)
    images, targets = next(iter(DataLoader(data, batch_size=5, collate_fn=detection_collate)))
    assert images.shape == (5, 3, 32, 32) and len(targets) == 5
    assert all(np.array_equal(targets[i]["boxes"], data[i][1]["boxes"]) for i in range(5))


# ---------------------------------------------------------------- Pascal VOC
def write_voc(root, annotations, sizes):
    from PIL import Image

    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, xml in annotations.items():
        (root / "Annotations" / f"{name}.xml").write_text(xml)
        w, h = sizes[name]
        Image.new("RGB", (w, h), (200, 100, 50)).save(root / "JPEGImages" / f"{name}.jpg")
    (root / "ImageSets/Main/trainval.txt").write_text("\n".join(annotations) + "\n")


def voc_object(name, box, difficult=None):
    d = "" if difficult is None else f"<difficult>{difficult}</difficult>"
    coords = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return f"<object><name>{name}</name>{d}<bndbox>{coords}</bndbox></object>"


def test_voc_reader_on_a_tiny_folder(tmp_path):
    pytest.importorskip("PIL")
    annotations = {
        "000001": f"<annotation>{voc_object('dog', (11, 21, 50, 40))}{voc_object('person', (1, 1, 100, 80), 1)}"
                  f"</annotation>",
        "000002": "<annotation><filename>000002.jpg</filename></annotation>",        # no objects
    }
    write_voc(tmp_path, annotations, {"000001": (100, 80), "000002": (40, 30)})
    data = VOCDetection(tmp_path)
    assert len(data) == 2
    image, t = data[0]
    assert image.shape == (3, 80, 100) and image.dtype == np.float32
    # (xmin - 1, ymin - 1, xmax, ymax) / (w, h, w, h); the difficult person is dropped
    np.testing.assert_allclose(t["boxes"], [[10 / 100, 20 / 80, 50 / 100, 40 / 80]], rtol=1e-6)
    np.testing.assert_array_equal(t["labels"], [12])                  # dog is VOC class 12 (1-based)
    kept = VOCDetection(tmp_path, keep_difficult=True)[0][1]
    np.testing.assert_array_equal(kept["labels"], [12, 15])
    np.testing.assert_array_equal(kept["difficult"], [False, True])
    np.testing.assert_allclose(kept["boxes"][1], [0, 0, 1, 1])
    image, t = data[1]
    assert image.shape == (3, 30, 40) and t["boxes"].shape == (0, 4)
    resized = VOCDetection(tmp_path, transform=Resize(16))[0][0]
    assert resized.shape == (3, 16, 16)


@pytest.mark.parametrize("xml, message", [
    ("<annotation><object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
     "</annotation>", "object 0 has no <name>"),
    ("<annotation><object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax></bndbox></object>"
     "</annotation>", "object 0 has no <bndbox/ymax>"),
    ("<annotation><object><name>dog</name></object></annotation>", "has no <bndbox/xmin>"),
    (f"<annotation>{voc_object('unicorn', (1, 1, 5, 5))}</annotation>", "unknown class 'unicorn'"),
    (f"<annotation>{voc_object('dog', (9, 1, 5, 5))}</annotation>", "xmax < xmin"),
    (f"<annotation>{voc_object('dog', ('a', 1, 5, 5))}</annotation>", "must be numbers"),
    ("<annotation><object>", "not a VOC annotation"),
])
def test_voc_reader_errors_name_the_file(tmp_path, xml, message):
    pytest.importorskip("PIL")
    write_voc(tmp_path, {"x": xml}, {"x": (8, 8)})
    with pytest.raises(ValueError, match=message) as info:
        VOCDetection(tmp_path)
    assert "x.xml" in str(info.value)


def test_voc_reader_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="ImageSets"):
        VOCDetection(tmp_path)
    (tmp_path / "ImageSets/Main").mkdir(parents=True)
    (tmp_path / "ImageSets/Main/trainval.txt").write_text("a\n")
    with pytest.raises(FileNotFoundError, match="lists 'a'"):
        VOCDetection(tmp_path)


def test_draw_boxes_draws_in_the_box_colour():
    pytest.importorskip("PIL")
    image = np.zeros((3, 40, 40), np.float32)
    out = draw_boxes(image, [[5, 15, 30, 35]], [1], [0.9], classes=("circle",))
    pixels = np.asarray(out)
    assert out.size == (40, 40) and pixels[35, 20].tolist() == [60, 180, 75]      # the bottom edge, label 1's colour
    assert pixels[25, 20].tolist() == [0, 0, 0]                                  # inside stays
