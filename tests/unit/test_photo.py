"""Labelled scans as a finer or tilted photo shows them: the boxes move with the image."""

import numpy as np
import pytest
from scipy import ndimage

from digitseg.data.coco_scans import open_coco_scans
from digitseg.evaluation.photo import as_photographed
from tests.helpers.scans import write_coco_set


def _ink_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """x0, y0, x1, y1 (exclusive) of each connected part of dark ink."""
    parts, _ = ndimage.label(image < 128, np.ones((3, 3)))
    return [(x.start, y.start, x.stop, y.stop) for y, x in ndimage.find_objects(parts)]


@pytest.mark.parametrize(
    ("enlarge", "rotate"), [(1.0, 0.0), (2.0, 0.0), (0.75, 0.0), (1.0, 12.0), (1.5, -20.0)]
)
def test_each_box_still_holds_its_digit_s_ink(tmp_path, enlarge, rotate):
    for scan in open_coco_scans(write_coco_set(tmp_path)).scans():
        seen = as_photographed(scan, enlarge, rotate)
        assert (seen.labels == scan.labels).all()
        if rotate == 0:
            assert seen.image.shape == tuple(round(s * enlarge) for s in scan.image.shape)
        # Each digit's ink lies whole in its own box; the comma's centre in none.
        inks = _ink_boxes(seen.image)
        in_boxes = [_boxes_around(ink, seen.boxes) for ink in inks]
        assert sorted(map(len, in_boxes)) == [0] + [1] * len(seen.boxes)
        assert sorted(k for found in in_boxes for k in found) == list(range(len(seen.boxes)))
        if rotate:  # tilted, a box is the box around its digit's turned ink, not larger
            for ink, found in zip(inks, in_boxes, strict=True):
                for k in found:
                    assert np.abs(seen.boxes[k] - np.array(ink)).max() <= 1


def _boxes_around(ink, boxes: np.ndarray) -> list[int]:
    """The boxes that hold the centre of ``ink`` (x0, y0, x1, y1); each must hold it whole,
    within a pixel."""
    centre = (np.array(ink[:2]) + ink[2:]) / 2
    around = [
        k for k, box in enumerate(boxes) if (box[:2] <= centre).all() and (centre < box[2:]).all()
    ]
    for k in around:
        assert (boxes[k][:2] - 1 <= ink[:2]).all() and (np.array(ink[2:]) <= boxes[k][2:] + 1).all()
    return around


def test_a_size_of_zero_is_refused(tmp_path):
    scan = open_coco_scans(write_coco_set(tmp_path)).scan(0)
    with pytest.raises(ValueError, match="enlarge must be > 0"):
        as_photographed(scan, enlarge=0)
