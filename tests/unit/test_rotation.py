"""Lines of writing climbing across the image are rotated level, and their digits back."""

import math

import cv2
import numpy as np
import pytest

from digitseg.classes import BACKGROUND
from digitseg.inference.rotation import level_rotation
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import Estimates, ReadSettings, reading_preset
from digitseg.postprocess import read_text
from digitseg.utils.rotation import rotate, rotation_matrix
from tests.helpers.backends import CONFIG, BrightIsDigit


def _rings(climb_degrees: float, count: int = 5, pitch: int = 40) -> np.ndarray:
    """Light 0s on dark, 36 px tall, ``pitch`` px apart in a line climbing ``climb_degrees``
    to the right."""
    width = 80 + pitch * (count - 1)
    image = np.zeros((max(220, round(width * 0.8)), width), np.uint8)
    slope = math.tan(math.radians(climb_degrees))
    for k in range(count):
        x = 40 + pitch * k
        y = round(image.shape[0] / 2 - slope * (x - width / 2))
        cv2.ellipse(image, (x, y), (11, 18), 0, 0, 360, 255, 3)
    return image


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("climb", [12.0, -8.0, 18.0])
def test_a_climbing_line_is_rotated_level(climb):
    degrees = level_rotation(_rings(climb) > 0)
    assert degrees == pytest.approx(-climb, abs=2.0)
    assert abs(level_rotation(rotate(_rings(climb), degrees)[0] > 127)) == 0.0  # level once rotated


@pytest.mark.parametrize("climb", [0.0, 1.5, 35.0])
def test_level_lines_and_steep_ones_are_left_as_they_are(climb):
    assert level_rotation(_rings(climb) > 0) == 0.0


def test_an_image_without_ink_is_left_as_it_is():
    assert level_rotation(np.zeros((40, 60), bool)) == 0.0


@pytest.mark.parametrize("climb", [Estimates().min_tilt, Estimates().max_tilt])
def test_the_range_of_climbs_rotated_is_the_same_either_way(climb):
    """The estimate's climbs are steps of 0.05; the range's ends are taken up and down."""
    degrees = math.degrees(math.atan(climb))
    up, down = level_rotation(_rings(degrees) > 0), level_rotation(_rings(-degrees) > 0)
    assert up == pytest.approx(-degrees) and down == pytest.approx(degrees)


@pytest.mark.parametrize("degrees", [90.0, -90.0, 180.0])
def test_quarter_and_half_turns_keep_every_pixel(degrees):
    image = np.zeros((50, 70), np.uint8)
    image[10:14, 20:30] = 255
    turned, _ = rotate(image, degrees)
    assert turned.shape == ((70, 50) if abs(degrees) == 90 else (50, 70))
    assert sorted(np.unique(turned).tolist()) == [0, 255] and (turned == 255).sum() == 40


def test_the_rotated_canvas_holds_the_whole_image():
    image = _rings(0.0)
    rotated, _ = rotate(image, 17.0)
    assert rotated.shape[0] > image.shape[0] and rotated.shape[1] > image.shape[1]
    _, size = rotation_matrix(image.shape, 17.0)
    assert rotated.shape == size
    assert rotate(image, 0.0)[0] is image


def test_the_corners_continue_each_edges_paper():
    """Paper in a shadow, and a stroke touching the edge: the corners run the shaded paper
    on, not the stroke (which would read as one) and not one grey."""
    paper = np.tile(np.linspace(60, 220, 80).astype(np.uint8), (50, 1))
    paper[20:24, -10:] = 0
    rotated, _ = rotate(paper, 20.0)
    matrix, size = rotation_matrix(paper.shape, 20.0)
    inside = cv2.warpAffine(np.ones(paper.shape, np.uint8), matrix, size[::-1]) > 0
    corners = rotated[~inside]
    assert corners.min() >= 55 and corners.max() - corners.min() > 120


class SureWhereRowsPile(BrightIsDigit):
    """Bright pixels are digit 7, the surer the more of the ink their row holds: a line of
    digits reads surer level than tilted."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        logits = super().__call__(batch)
        bright = batch[:, 0] > 0
        rows = bright.sum(axis=2, keepdims=True)
        share = rows / np.maximum(rows.max(axis=1, keepdims=True), 1)
        logits[:, 7] = np.where(bright, 0.5 + 3 * share, -10.0)
        logits[:, BACKGROUND] = -logits[:, 7]
        return logits


def test_a_climbing_line_is_read_level_with_boxes_in_input_pixels():
    image = _rings(12.0)
    segmenter = Segmenter(SureWhereRowsPile(), CONFIG)
    result = segmenter.run(image, ReadSettings(scale=1.0, slant=0.0))
    assert result.rotation == pytest.approx(-12.0, abs=2.0)
    assert len(result.instances) == 5 and result.labels.shape == image.shape
    lefts = [instance.bbox[0] for instance in result.instances]
    assert lefts == sorted(lefts)  # one line, left to right
    for instance in result.instances:
        x0, y0, x1, y1 = instance.bbox
        assert image[y0:y1, x0:x1][instance.mask].mean() > 200  # on its ring's ink
    assert (result.labels != BACKGROUND).sum() == pytest.approx((image > 127).sum(), rel=0.15)
    as_is = segmenter.run(image, ReadSettings(scale=1.0, slant=0.0, rotation=0.0))
    assert as_is.rotation == 0.0 and len(as_is.instances) == 5
    assert np.mean([i.score for i in as_is.instances]) < np.mean(
        [i.score for i in result.instances]
    )


def test_the_presets_tilt_thresholds_decide_what_is_rotated():
    """A line climbing 12 degrees (0.21 px per column) is levelled with the document
    preset's min_tilt (0.1), and read as it is with min_tilt 0.3."""
    image = _rings(12.0)
    segmenter = Segmenter(SureWhereRowsPile(), CONFIG)
    switches = {"scale": 1.0, "slant": 0.0}
    levelled = segmenter.run(image, reading_preset("document", **switches))
    assert levelled.rotation == pytest.approx(-12.0, abs=2.0)
    steeper = reading_preset("document", **switches, estimates={"min_tilt": 0.3})
    assert segmenter.run(image, steeper).rotation == 0.0


def test_a_rotation_that_reads_no_surer_is_not_kept():
    """Digits scattered over a canvas can pile up as if in a tilted line: the estimate's
    rotation is kept only where the digits read surer rotated."""
    image = _rings(12.0)
    assert level_rotation(image > 0) != 0.0
    result = Segmenter(BrightIsDigit(), CONFIG).run(image, ReadSettings(scale=1.0, slant=0.0))
    assert result.rotation == 0.0 and len(result.instances) == 5
    forced = Segmenter(BrightIsDigit(), CONFIG).run(
        image, ReadSettings(scale=1.0, slant=0.0, rotation=-12.0)
    )
    assert forced.rotation == -12.0 and len(forced.instances) == 5


def test_a_steep_line_of_spaced_digits_reads_as_one_line():
    """Unrotated, digits 60 px apart climbing 20 degrees overlap their neighbours too little
    to share a line; read level they are one."""
    image = _rings(20.0, pitch=60)
    result = Segmenter(SureWhereRowsPile(), CONFIG).run(image, ReadSettings(scale=1.0, slant=0.0))
    assert result.rotation == pytest.approx(-20.0, abs=2.0)
    assert read_text(result.instances) == "7\n7\n7\n7\n7"  # in the input's pixels
    assert result.text == "77777"
    lefts = [instance.bbox[0] for instance in result.instances]
    assert lefts == sorted(lefts)


@pytest.mark.parametrize("rotation", [float("nan"), 181.0, -200.0])
def test_a_forced_rotation_out_of_range_is_refused(rotation):
    with pytest.raises(ValueError, match="rotation must be within"):
        Segmenter(BrightIsDigit(), CONFIG).run(_rings(0.0), ReadSettings(rotation=rotation))


def test_a_steep_line_of_fewer_than_min_line_digits_keeps_the_inputs_order():
    image = _rings(20.0, pitch=60)
    settings = ReadSettings(scale=1.0, slant=0.0, estimates=Estimates(min_line_digits=6))
    result = Segmenter(SureWhereRowsPile(), CONFIG).run(image, settings)
    assert result.rotation == pytest.approx(-20.0, abs=2.0)
    assert result.text == "7\n7\n7\n7\n7"  # five digits: no number
