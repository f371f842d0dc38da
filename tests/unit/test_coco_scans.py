"""Real scans in COCO: reading a set, its fixed parts, training canvases made of it."""

import json

import numpy as np
import pytest

from digitseg.classes import BACKGROUND
from digitseg.data.coco_scans import CocoScansError, open_coco_scans, part_of
from digitseg.data.scan_canvases import ScanCanvasGenerator, scan_targets, tilted
from digitseg.data.sources import build_source_generator
from digitseg.data.spec import CanvasSpec
from tests.helpers.scans import COMMA, DRAWN, INK, PAPER, draw_scan, write_coco_set


def test_a_set_reads_labels_and_corner_boxes(tmp_path):
    scans = open_coco_scans(write_coco_set(tmp_path))
    assert len(scans) == 2
    first = scans.scan(0)  # sorted by file name
    assert first.file_name == "first.png"
    assert first.labels.tolist() == [1, 7, 3]
    assert first.boxes.tolist() == [list(d[1:]) for d in DRAWN["first.png"]]
    assert first.image.shape[:2] == (50, 100)


def test_parts_depend_on_the_file_name_alone():
    names = [f"a_car_{i:06d}.jpg" for i in range(3000)]
    val = [name for name in names if part_of(name) == "val"]
    assert 0.13 < len(val) / len(names) < 0.2
    assert [part_of(name) for name in reversed(names)] == [part_of(n) for n in names][::-1]
    assert part_of("some/folder/" + val[0]) == "val"


def test_train_and_val_parts_split_the_set(tmp_path):
    images = write_coco_set(tmp_path)
    train, val = open_coco_scans(images, part="train"), open_coco_scans(images, part="val")
    names = {r[0] for r in train.records} | {r[0] for r in val.records}
    assert len(train) + len(val) == 2 and names == set(DRAWN)


def test_missing_images_and_bad_files_are_clear_errors(tmp_path):
    images = write_coco_set(tmp_path)
    (images / "second.png").unlink()
    with pytest.raises(CocoScansError, match="second.png"):
        open_coco_scans(images)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [], "categories": [{"id": 1, "name": "cat"}]}))
    with pytest.raises(CocoScansError, match="'0' to '9'"):
        open_coco_scans(images, bad)
    with pytest.raises(CocoScansError, match="part must be"):
        open_coco_scans(images, part="test")


def test_targets_label_ink_in_boxes_and_leave_the_comma_background():
    digits = DRAWN["first.png"]
    labels = np.array([d[0] for d in digits])
    boxes = np.array([d[1:] for d in digits])
    found = scan_targets(draw_scan(digits), labels, boxes)
    for k, (label, x0, y0, x1, y1) in enumerate(digits, start=1):
        inside = found.semantic[y0:y1, x0:x1]
        assert (inside == label).sum() > 40
        assert set(np.unique(found.instances[found.semantic == label])) == {k}
    x0, y0, x1, y1 = COMMA
    assert (found.semantic[y0:y1, x0:x1] == BACKGROUND).all()
    assert (found.semantic[:5] == BACKGROUND).all()  # paper
    assert found.labels.tolist() == [1, 7, 3]


def test_overlapping_boxes_give_ink_to_the_nearest_centre():
    image = np.full((40, 60), 230, np.uint8)
    image[18:23, 5:55] = 30  # one thin bar across both boxes
    boxes = np.array([[0, 0, 34, 40], [26, 0, 60, 40]])
    found = scan_targets(image, np.array([2, 5]), boxes)
    assert (found.semantic[20, 5:29] == 2).all() and (found.semantic[20, 31:55] == 5).all()


def test_scan_canvases_are_reproducible_and_fit_the_canvas(tmp_path):
    scans = open_coco_scans(write_coco_set(tmp_path))
    generator = ScanCanvasGenerator(CanvasSpec(height=48, width=192), scans, seed=3)
    batch = generator.render("train", [0, 1, 2])
    again = generator.render("train", [2])
    assert batch.images.shape == (3, 48, 192)
    np.testing.assert_array_equal(batch.images[2], again.images[0])
    np.testing.assert_array_equal(batch.semantic[2], again.semantic[0])
    for k in range(3):
        canvas = batch[k]
        digit_pixels = canvas.semantic != BACKGROUND
        assert digit_pixels.any() and (canvas.instances[digit_pixels] > 0).all()
        for i, (x0, y0, x1, y1) in enumerate(canvas.boxes, start=1):
            ys, xs = np.nonzero(canvas.instances == i)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)


def _line_degrees(instances: np.ndarray, count: int) -> float:
    """Degrees (counter-clockwise) of the line through the centres of instances 1..count."""
    centres = np.array([np.argwhere(instances == k).mean(axis=0) for k in range(1, count + 1)])
    climb = np.polyfit(centres[:, 1], -centres[:, 0], 1)[0]
    return float(np.degrees(np.arctan(climb)))


def test_tilted_targets_turn_with_their_image():
    digits = DRAWN["first.png"]
    level = scan_targets(
        draw_scan(digits), np.array([d[0] for d in digits]), np.array([d[1:] for d in digits])
    )
    turned = tilted(level, 15)
    assert turned.labels.tolist() == [1, 7, 3]
    assert turned.image.shape == turned.semantic.shape == turned.instances.shape
    assert turned.image.shape[0] > level.image.shape[0] + 20  # the canvas holds it all
    assert abs(_line_degrees(turned.instances, 3) - 15) < 2
    for k, label in enumerate(turned.labels, start=1):
        assert (turned.semantic[turned.instances == k] == label).all()
        assert (turned.instances == k).sum() > 0.8 * (level.instances == k).sum()
    assert (turned.semantic[turned.instances == 0] == BACKGROUND).all()
    ink = turned.image < (PAPER + INK) / 2
    assert ink[turned.instances > 0].mean() > 0.95  # the targets lie on the turned ink
    assert tilted(level, 0) is level


def test_scan_canvases_tilt_within_their_range(tmp_path):
    scans = open_coco_scans(write_coco_set(tmp_path), part="train")  # first.png only
    spec = CanvasSpec(height=48, width=192)
    angles = []
    for tilt in (0.0, 10.0):
        batch = ScanCanvasGenerator(spec, scans, seed=3, tilt=tilt).render("train", range(12))
        for k in range(12):
            canvas = batch[k]
            assert canvas.labels.tolist() == [1, 7, 3]  # every digit fits the canvas
            angles.append(_line_degrees(canvas.instances, 3))
    level, tilted_angles = np.abs(angles[:12]), np.abs(angles[12:])
    assert level.max() < 1.5
    assert tilted_angles.max() < 12 and tilted_angles.max() > 4


def test_a_scans_source_gives_val_canvases_of_the_val_part_only(tmp_path):
    images = write_coco_set(tmp_path)
    assert (part_of("first.png"), part_of("second.png")) == ("train", "val")
    data_cfg = {
        "spec": {"height": 48, "width": 192},
        "seed": 1,
        "scans": {"folder": str(images), "part": "train"},
    }
    for split, labels in (("train", [1, 7, 3]), ("val", [4, 0])):
        batch = build_source_generator(data_cfg, {}, split).render(split, range(6))
        assert all(canvas_labels.tolist() == labels for canvas_labels in batch.labels)
